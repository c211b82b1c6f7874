"""Keys held on a PKCS#11 token (HSM, UKey); SoftHSM2 stands in for one in the tests.

SoftHSM2 signs ECDSA P-256 with the raw ``ECDSA`` mechanism only (the hash is computed on the
host) and RSA-2048 with ``SHA256_RSA_PKCS``; an "SM2" key on it would sign plain ECDSA, so SM2
keys are not offered on tokens that do not implement the SM2 mechanisms.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import pkcs11
from pkcs11 import KeyType, Mechanism, ObjectClass
from pkcs11.util.ec import encode_ec_public_key, encode_ecdsa_signature, encode_named_curve_parameters
from pkcs11.util.rsa import encode_rsa_public_key

from .signers import ECDSA_SHA256, RSA_SHA256


class TokenError(Exception):
    pass


@dataclass
class Token:
    """An open session on a token, logged in with the user PIN."""

    library: str
    label: str
    pin: str

    def __post_init__(self) -> None:
        try:
            lib = pkcs11.lib(self.library)
            self._token = lib.get_token(token_label=self.label)
            self.session = self._token.open(user_pin=self.pin, rw=True)
        except pkcs11.exceptions.PinIncorrect:
            raise TokenError(f"wrong PIN for token {self.label}") from None
        except (pkcs11.exceptions.NoSuchToken, pkcs11.exceptions.PKCS11Error, RuntimeError, OSError) as exc:
            raise TokenError(f"cannot open token {self.label}: {type(exc).__name__} {exc}") from None

    def close(self) -> None:
        self.session.close()

    def generate(self, label: str, algorithm: str) -> "TokenSigner":
        """A new key pair that never leaves the token (not extractable, sensitive)."""
        if algorithm == ECDSA_SHA256:
            params = self.session.create_domain_parameters(
                KeyType.EC, {pkcs11.Attribute.EC_PARAMS: encode_named_curve_parameters("secp256r1")}, local=True)
            params.generate_keypair(store=True, label=label)
        elif algorithm == RSA_SHA256:
            self.session.generate_keypair(KeyType.RSA, 2048, store=True, label=label)
        else:
            raise TokenError(f"this token offers no {algorithm} keys")
        return self.signer(label, algorithm)

    def signer(self, label: str, algorithm: str) -> "TokenSigner":
        key_type = KeyType.EC if algorithm == ECDSA_SHA256 else KeyType.RSA
        try:
            priv = self.session.get_key(ObjectClass.PRIVATE_KEY, key_type, label=label)
            pub = self.session.get_key(ObjectClass.PUBLIC_KEY, key_type, label=label)
        except (pkcs11.exceptions.NoSuchKey, pkcs11.exceptions.MultipleObjectsReturned) as exc:
            raise TokenError(f"key {label!r} on token {self.label}: {type(exc).__name__}") from None
        return TokenSigner(algorithm, priv, pub)


class TokenSigner:
    def __init__(self, algorithm: str, private_key, public_key) -> None:
        self.algorithm = algorithm
        self._priv = private_key
        if algorithm == ECDSA_SHA256:
            self._pub_der = encode_ec_public_key(public_key)
        else:
            from asn1crypto import keys

            self._pub_der = keys.PublicKeyInfo.wrap(keys.RSAPublicKey.load(encode_rsa_public_key(public_key)), "rsa").dump()

    def public_key_der(self) -> bytes:
        return self._pub_der

    def sign(self, data: bytes) -> bytes:
        if self.algorithm == ECDSA_SHA256:
            raw = self._priv.sign(hashlib.sha256(data).digest(), mechanism=Mechanism.ECDSA)
            return encode_ecdsa_signature(raw)
        return self._priv.sign(data, mechanism=Mechanism.SHA256_RSA_PKCS)
