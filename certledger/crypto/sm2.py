"""SM2 signatures (GB/T 32918 / GM/T 0003) with the default user id and its Z value.

Two implementations behind one interface: gmalglib (C; ~0.1 ms per signature, chosen by
measurement, see bench/bench_crypto.py) and gmssl (pure Python, ~20 ms) kept as a second, independent
implementation the tests cross-check against. Nonces always come from ``secrets``: gmssl is
given one explicitly (it would otherwise draw from ``random``), gmalglib through ``rnd_fn``.

Signatures are DER ``SEQUENCE { r INTEGER, s INTEGER }`` as in GM/T 0009 and X.509; keys are
raw (32-byte scalar, 65-byte uncompressed point) with PKCS#8 / SubjectPublicKeyInfo encodings.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Protocol

from asn1crypto import algos, keys

from . import oids  # noqa: F401  (registers the SM2 OIDs with asn1crypto)

DEFAULT_UID = b"1234567812345678"


class SM2Error(ValueError):
    pass


def raw_to_der(sig: bytes) -> bytes:
    if len(sig) != 64:
        raise SM2Error("a raw SM2 signature is 64 bytes (r || s)")
    return algos.DSASignature({"r": int.from_bytes(sig[:32], "big"), "s": int.from_bytes(sig[32:], "big")}).dump()


def der_to_raw(der: bytes) -> bytes:
    try:
        parsed = algos.DSASignature.load(der, strict=True)
        r, s = parsed["r"].native, parsed["s"].native
    except (ValueError, TypeError):
        raise SM2Error("not a DER-encoded SM2 signature") from None
    if not (0 < r < 2**256 and 0 < s < 2**256):
        raise SM2Error("SM2 signature values out of range")
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


class Backend(Protocol):
    name: str

    def generate(self) -> tuple[bytes, bytes]: ...
    def public_from_private(self, sk: bytes) -> bytes: ...
    def sign(self, sk: bytes, data: bytes, uid: bytes) -> bytes: ...          # raw r || s
    def verify(self, pk: bytes, data: bytes, sig: bytes, uid: bytes) -> bool: ...


class GmalglibBackend:
    name = "gmalglib"

    def __init__(self) -> None:
        from gmalglib.sm2 import SM2

        self._SM2 = SM2
        self._signers: dict[tuple[bytes, bytes], object] = {}

    def generate(self) -> tuple[bytes, bytes]:
        return self._SM2(rnd_fn=secrets.token_bytes).generate_keypair()

    def public_from_private(self, sk: bytes) -> bytes:
        return self._SM2.get_pk(sk)

    def sign(self, sk: bytes, data: bytes, uid: bytes) -> bytes:
        # the SM2 object precomputes Z from the key and uid: keep one per (key, uid)
        signer = self._signers.get((sk, uid))
        if signer is None:
            if len(self._signers) > 256:
                self._signers.clear()
            signer = self._signers[(sk, uid)] = self._SM2(sk=sk, uid=uid, rnd_fn=secrets.token_bytes)
        return signer.sign(data)

    def verify(self, pk: bytes, data: bytes, sig: bytes, uid: bytes) -> bool:
        try:
            return bool(self._SM2(pk=pk, uid=uid).verify(data, sig))
        except (ValueError, TypeError):
            return False


class GmsslBackend:
    """Pure Python, slow: the independent second implementation."""

    name = "gmssl"

    def __init__(self) -> None:
        from gmssl import sm2

        self._sm2 = sm2

    def _crypt(self, sk: bytes | None, pk: bytes | None, uid: bytes):
        if uid != DEFAULT_UID:
            raise SM2Error("the gmssl backend supports only the default user id")
        crypt = self._sm2.CryptSM2(private_key=sk.hex() if sk else "", public_key="", mode=1)
        # gmssl 3.2.2 strips a leading "04" with str.lstrip("04"), which also eats the leading
        # 0/4 digits of an x coordinate that starts with them; set the bare x||y ourselves.
        crypt.public_key = pk[1:].hex() if pk else ""
        return crypt

    def generate(self) -> tuple[bytes, bytes]:
        sk = GmalglibBackend().generate()[0]  # gmssl has no key generation of its own
        return sk, self.public_from_private(sk)

    def public_from_private(self, sk: bytes) -> bytes:
        c = self._sm2.CryptSM2(private_key=sk.hex(), public_key="", mode=1)
        return b"\x04" + bytes.fromhex(c._kg(int(sk.hex(), 16), self._sm2.default_ecc_table["g"]))

    def sign(self, sk: bytes, data: bytes, uid: bytes) -> bytes:
        c = self._crypt(sk, self.public_from_private(sk), uid)
        return bytes.fromhex(c.sign_with_sm3(data, secrets.token_hex(32)))

    def verify(self, pk: bytes, data: bytes, sig: bytes, uid: bytes) -> bool:
        try:
            return bool(self._crypt(None, pk, uid).verify_with_sm3(sig.hex(), data))
        except (ValueError, TypeError, IndexError):
            return False


_backends: dict[str, Backend] = {}


def backend(name: str = "gmalglib") -> Backend:
    if name not in _backends:
        _backends[name] = {"gmalglib": GmalglibBackend, "gmssl": GmsslBackend}[name]()
    return _backends[name]


@dataclass(frozen=True)
class SM2PublicKey:
    point: bytes  # 65 bytes, 04 || x || y

    def __post_init__(self) -> None:
        if len(self.point) != 65 or self.point[0] != 4:
            raise SM2Error("an SM2 public key is an uncompressed 65-byte point")

    def verify(self, data: bytes, signature_der: bytes, uid: bytes = DEFAULT_UID, impl: str = "gmalglib") -> bool:
        try:
            raw = der_to_raw(signature_der)
        except SM2Error:
            return False
        return backend(impl).verify(self.point, data, raw, uid)

    def spki(self) -> keys.PublicKeyInfo:
        return keys.PublicKeyInfo({
            "algorithm": {"algorithm": "ec", "parameters": keys.ECDomainParameters("named", "sm2p256v1")},
            "public_key": self.point,
        })

    def der(self) -> bytes:
        return self.spki().dump()

    def pem(self) -> bytes:
        from asn1crypto import pem

        return pem.armor("PUBLIC KEY", self.der())

    @classmethod
    def from_der(cls, der: bytes) -> "SM2PublicKey":
        return cls(_load_sm2(der, "SubjectPublicKeyInfo",
                             lambda: keys.PublicKeyInfo.load(der, strict=True),
                             lambda info: (info["algorithm"], info["public_key"].native)))


@dataclass(frozen=True)
class SM2PrivateKey:
    scalar: bytes  # 32 bytes

    def __post_init__(self) -> None:
        if len(self.scalar) != 32:
            raise SM2Error("an SM2 private key is 32 bytes")

    def __repr__(self) -> str:  # never print key material
        return "SM2PrivateKey(<hidden>)"

    @classmethod
    def generate(cls) -> "SM2PrivateKey":
        return cls(backend().generate()[0])

    def public_key(self) -> SM2PublicKey:
        return SM2PublicKey(backend().public_from_private(self.scalar))

    def sign(self, data: bytes, uid: bytes = DEFAULT_UID, impl: str = "gmalglib") -> bytes:
        """DER signature over ``data`` (the Z value of ``uid`` and the key is prepended inside)."""
        return raw_to_der(backend(impl).sign(self.scalar, data, uid))

    def der(self) -> bytes:
        """PKCS#8 PrivateKeyInfo, the form OpenSSL reads."""
        pub = self.public_key().point
        ec = keys.ECPrivateKey({"version": "ecPrivkeyVer1", "private_key": int.from_bytes(self.scalar, "big"),
                                "public_key": pub})
        return keys.PrivateKeyInfo({
            "version": 0,
            "private_key_algorithm": {"algorithm": "ec", "parameters": keys.ECDomainParameters("named", "sm2p256v1")},
            "private_key": ec,
        }).dump()

    def pem(self) -> bytes:
        from asn1crypto import pem

        return pem.armor("PRIVATE KEY", self.der())

    @classmethod
    def from_der(cls, der: bytes) -> "SM2PrivateKey":
        scalar = _load_sm2(der, "PKCS#8 private key", lambda: keys.PrivateKeyInfo.load(der, strict=True),
                           lambda info: (info["private_key_algorithm"], info["private_key"].parsed["private_key"].native))
        return cls(scalar.to_bytes(32, "big"))


def _load_sm2(der: bytes, what: str, load, parts):
    """Parse a key structure and insist on the SM2 curve; any parsing problem is an SM2Error."""
    try:
        algorithm, value = parts(load())
        curve = algorithm["parameters"].chosen.native
    except (ValueError, TypeError, KeyError, AttributeError):
        raise SM2Error(f"not an SM2 {what}") from None
    if curve != "sm2p256v1":
        raise SM2Error(f"not an SM2 key (curve {curve})")
    return value