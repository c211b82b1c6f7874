"""The platform CA: issues department, person and seal certificates, renews, revokes, CRLs.

Its state lives in a folder of the data directory: the CA certificate, its private key encrypted
with SM4 under the data directory's KEK, and the revocation list. Keeping it out of the database
lets document and seal code use it without one.
"""

from __future__ import annotations

import json
import os
from datetime import datetime, timedelta, timezone
from pathlib import Path

from asn1crypto import x509 as asn1_x509

from . import x509 as X
from .signers import ECDSA_SHA256, SM2_SM3, SoftECDSASigner, SoftSM2Signer
from .sm import sm4_gcm_decrypt, sm4_gcm_encrypt
from .sm2 import SM2Error, SM2PrivateKey

PROFILES = {
    "department": X.SIGNING_PROFILE,
    "person": X.SIGNING_PROFILE,
    "seal": X.SIGNING_PROFILE,
    "pdf": X.PDF_SIGNING_PROFILE,
}
REASONS = ("unspecified", "key_compromise", "affiliation_changed", "superseded", "cessation_of_operation",
           "certificate_hold")


class CAError(Exception):
    pass


def _signer_from_pkcs8(der: bytes):
    try:
        return SoftSM2Signer(SM2PrivateKey.from_der(der))
    except SM2Error:
        from cryptography.hazmat.primitives import serialization

        return SoftECDSASigner(serialization.load_der_private_key(der, password=None))


def _now() -> datetime:
    return datetime.now(timezone.utc)


class CertificateAuthority:
    def __init__(self, folder: Path, kek: bytes) -> None:
        self.folder = Path(folder)
        self._kek = kek
        try:
            self.certificate_der = (self.folder / "ca.der").read_bytes()
            blob = (self.folder / "ca.key.enc").read_bytes()
        except FileNotFoundError:
            raise CAError(f"no CA in {self.folder}; create it first") from None
        self.key_der = sm4_gcm_decrypt(kek, blob, b"ca key")  # PKCS#8
        self.signer = _signer_from_pkcs8(self.key_der)
        self.certificate = X.load(self.certificate_der)

    @classmethod
    def create(cls, folder: Path, kek: bytes, common_name: str, organization: str, years: int = 20,
               algorithm: str = SM2_SM3) -> "CertificateAuthority":
        """A new root CA: SM2 for the national-algorithm PKI, ECDSA P-256 for PDF (PAdES) signing."""
        folder = Path(folder)
        if (folder / "ca.der").exists():
            raise CAError(f"a CA already exists in {folder}")
        folder.mkdir(parents=True, exist_ok=True)
        if algorithm == SM2_SM3:
            key = SM2PrivateKey.generate()
            signer, key_der = SoftSM2Signer(key), key.der()
        elif algorithm == ECDSA_SHA256:
            from cryptography.hazmat.primitives import serialization

            signer = SoftECDSASigner()
            key_der = signer.key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption())
        else:
            raise CAError(f"a CA key is {SM2_SM3} or {ECDSA_SHA256}")
        subject = X.name(common_name, organization)
        now = _now()
        cert = X.build_certificate(subject, signer.public_key_der(), subject, signer, now - timedelta(minutes=5),
                                   now + timedelta(days=365 * years), X.CA_PROFILE)
        key_file = folder / "ca.key.enc"
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(sm4_gcm_encrypt(kek, key_der, b"ca key"))
        (folder / "ca.der").write_bytes(cert)
        (folder / "revoked.json").write_text("[]")
        return cls(folder, kek)

    @property
    def key_id(self) -> bytes:
        return X.key_id(X.public_key_der(self.certificate))

    def issue(self, kind: str, subject: asn1_x509.Name, public_key_der: bytes, days: int = 365,
              not_before: datetime | None = None) -> bytes:
        if kind not in PROFILES:
            raise CAError(f"unknown certificate kind {kind!r}; one of {', '.join(PROFILES)}")
        start = not_before or _now() - timedelta(minutes=5)
        end = min(start + timedelta(days=days), self.certificate.not_valid_after)
        return X.build_certificate(subject, public_key_der, self.certificate.subject, self.signer, start, end,
                                   PROFILES[kind], issuer_key_id=self.key_id)

    def renew(self, certificate_der: bytes, days: int = 365, kind: str = "department") -> bytes:
        """Same subject and key, a new serial and validity (the seed allows it from 90 days before expiry)."""
        old = X.load(certificate_der)
        if old.issuer.dump() != self.certificate.subject.dump() or not X.signed_by(old, X.public_key_der(self.certificate)):
            raise CAError("this CA did not issue that certificate")
        if self.is_revoked(old.serial_number):
            raise CAError("a revoked certificate cannot be renewed")
        return self.issue(kind, old.subject, X.public_key_der(old), days)

    def _revoked(self) -> list[dict]:
        return json.loads((self.folder / "revoked.json").read_text())

    def is_revoked(self, serial: int) -> bool:
        return any(r["serial"] == str(serial) for r in self._revoked())

    def revoke(self, certificate_der: bytes, reason: str = "unspecified") -> None:
        if reason not in REASONS:
            raise CAError(f"unknown revocation reason {reason!r}")
        cert = X.load(certificate_der)
        if cert.issuer.dump() != self.certificate.subject.dump():
            raise CAError("this CA did not issue that certificate")
        entries = self._revoked()
        if any(r["serial"] == str(cert.serial_number) for r in entries):
            return
        entries.append({"serial": str(cert.serial_number), "at": _now().isoformat(), "reason": reason})
        tmp = self.folder / "revoked.json.tmp"
        tmp.write_text(json.dumps(entries, indent=1))
        tmp.replace(self.folder / "revoked.json")

    def crl(self, next_update_days: int = 7) -> bytes:
        """A CRL of everything revoked so far; its number is the count of revocations."""
        entries = self._revoked()
        now = _now()
        der = X.build_crl(self.certificate, self.signer,
                          [(int(r["serial"]), datetime.fromisoformat(r["at"]), r["reason"]) for r in entries],
                          number=len(entries) + 1, this_update=now, next_update=now + timedelta(days=next_update_days))
        (self.folder / "crl.der").write_bytes(der)
        return der
