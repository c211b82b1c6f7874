"""Signers: one interface over keys held in software and keys held on a token.

A signer knows its algorithm and public key and signs bytes; ``verify`` checks a signature of
any of our algorithms from the public key alone. Documents, seals and certificates are signed
through this interface, so where a key lives (memory, HSM, UKey) is a deployment choice.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from typing import Protocol

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from .sm2 import DEFAULT_UID, SM2Error, SM2PrivateKey, SM2PublicKey

SM2_SM3 = "sm2-sm3"
ECDSA_SHA256 = "ecdsa-sha256"
RSA_SHA256 = "rsa-sha256"
ALGORITHMS = (SM2_SM3, ECDSA_SHA256, RSA_SHA256)


class Signer(Protocol):
    algorithm: str

    def public_key_der(self) -> bytes:
        """SubjectPublicKeyInfo, DER."""

    def sign(self, data: bytes) -> bytes:
        """DER (SM2, ECDSA) or PKCS#1 v1.5 (RSA) signature over ``data``, hashed by the signer."""


class SoftSM2Signer:
    algorithm = SM2_SM3

    def __init__(self, key: SM2PrivateKey, uid: bytes = DEFAULT_UID) -> None:
        self.key, self.uid = key, uid
        self._pub = key.public_key().der()

    def public_key_der(self) -> bytes:
        return self._pub

    def sign(self, data: bytes) -> bytes:
        return self.key.sign(data, self.uid)


class SoftECDSASigner:
    algorithm = ECDSA_SHA256

    def __init__(self, key: ec.EllipticCurvePrivateKey | None = None) -> None:
        self.key = key or ec.generate_private_key(ec.SECP256R1())

    def public_key_der(self) -> bytes:
        return self.key.public_key().public_bytes(serialization.Encoding.DER,
                                                  serialization.PublicFormat.SubjectPublicKeyInfo)

    def sign(self, data: bytes) -> bytes:
        return self.key.sign(data, ec.ECDSA(hashes.SHA256()))


class SoftRSASigner:
    algorithm = RSA_SHA256

    def __init__(self, key: rsa.RSAPrivateKey | None = None) -> None:
        self.key = key or rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def public_key_der(self) -> bytes:
        return self.key.public_key().public_bytes(serialization.Encoding.DER,
                                                  serialization.PublicFormat.SubjectPublicKeyInfo)

    def sign(self, data: bytes) -> bytes:
        return self.key.sign(data, padding.PKCS1v15(), hashes.SHA256())


_VERIFIED_MAX = 4096
_verified: OrderedDict[bytes, None] = OrderedDict()  # digests of (algorithm, key, data, signature, uid) found valid
_verified_lock = threading.Lock()


def _memo_key(algorithm: str, public_key_der: bytes, data: bytes, signature: bytes, uid: bytes) -> bytes:
    h = hashlib.sha256()
    for part in (algorithm.encode(), public_key_der, data, signature, uid):
        h.update(len(part).to_bytes(8, "big"))
        h.update(part)
    return h.digest()


def verify(algorithm: str, public_key_der: bytes, data: bytes, signature: bytes, uid: bytes = DEFAULT_UID) -> bool:
    """True only for a valid signature; malformed keys or signatures are simply not valid.

    SM2 signatures found valid are remembered (by a SHA-256 of everything verified, so nothing
    else can hit the entry): checking a department's sealed files verifies the same seal maker's
    and CA's signatures over and over, and an SM2 verification costs 0.5 ms.
    """
    if algorithm == SM2_SM3:
        key = _memo_key(algorithm, public_key_der, data, signature, uid)
        with _verified_lock:
            if key in _verified:
                _verified.move_to_end(key)
                return True
        try:
            ok = SM2PublicKey.from_der(public_key_der).verify(data, signature, uid)
        except SM2Error:
            return False
        if ok:
            with _verified_lock:
                _verified[key] = None
                if len(_verified) > _VERIFIED_MAX:
                    _verified.popitem(last=False)
        return ok
    try:
        pub = serialization.load_der_public_key(public_key_der)
        if algorithm == ECDSA_SHA256 and isinstance(pub, ec.EllipticCurvePublicKey):
            pub.verify(signature, data, ec.ECDSA(hashes.SHA256()))
            return True
        if algorithm == RSA_SHA256 and isinstance(pub, rsa.RSAPublicKey):
            pub.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
            return True
    except (InvalidSignature, UnsupportedAlgorithm, ValueError, TypeError):
        return False
    return False
