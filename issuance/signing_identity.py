"""A department's signing identity, made on first need and reused: key, certificate, seal.

Documents of a department are signed with its own SM2 key, whose certificate the platform CA
issues (so any verifier holding the platform root can check them), and stamped with its seal
(GB/T 38540 SESeal): a picture drawn by ``seals.picture`` in the official style, the
department's certificate as the one signer allowed, and the platform CA as the seal maker
(制章者), as the seal platform of the seed makes seals for departments.

The identity is created once and reused for every certificate, so that a batch of thousands
costs one key, one certificate and one seal. A new one is made when the certificate or the seal
is about to expire. The private key is stored SM4-encrypted with the data directory's cipher;
it is decrypted only to hand it to the document workers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from certledger.crypto import x509 as X
from certledger.crypto.ca import CAError, CertificateAuthority
from certledger.crypto.sm2 import SM2PrivateKey
from .models import Department
from .models.signing import SigningIdentity
from .unit_of_work import UnitOfWork

CERTIFICATE_DAYS = 3 * 365
RENEW_BEFORE = timedelta(days=7)   # a document signed now must verify for a while after
SEAL_SIZE_MM = 42                  # the usual 42 mm round official seal
SEAL_BOTTOM_TEXT = "电子证照专用章"


class SigningIdentityError(Exception):
    """The identity could not be made; the message says which part (key, certificate, seal)."""


@dataclass(frozen=True)
class SigningMaterial:
    """What a document worker needs to sign and seal for one department; picklable."""

    department_id: int
    key_der: bytes          # PKCS#8, decrypted: never stored like this
    certificate_der: bytes
    seal_der: bytes
    seal_size_mm: int = SEAL_SIZE_MM

    def __repr__(self) -> str:  # never print key material
        return f"SigningMaterial(department_id={self.department_id})"


def _key_context(department_id: int) -> str:
    return f"signing-key:{department_id}"


def _usable(row: SigningIdentity, now: datetime) -> bool:
    return row.not_after - RENEW_BEFORE > now and row.seal_valid_end - RENEW_BEFORE > now


def _compact_png(png: bytes) -> bytes:
    """The seal picture with a 16-colour palette (alpha kept): every sealed document embeds it,
    so a quarter of the size is a quarter of the storage for each certificate."""
    import io

    from PIL import Image

    with Image.open(io.BytesIO(png)) as im:
        small = im.convert("RGBA").quantize(colors=16, method=Image.Quantize.FASTOCTREE)
    out = io.BytesIO()
    small.save(out, format="PNG", optimize=True)
    return out.getvalue()


def _make(ca: CertificateAuthority, dept: Department, now: datetime) -> dict:
    """Key, certificate and seal of ``dept``; raises SigningIdentityError naming the failing part."""
    from certledger.crypto.signers import SoftSM2Signer
    from seals.picture import PictureError, generate
    from seals.seal import SealError, make_seal

    key = SM2PrivateKey.generate()
    signer = SoftSM2Signer(key)
    try:
        cert_der = ca.issue("department", X.name(dept.name, organization=dept.name, unit=dept.code),
                            signer.public_key_der(), days=CERTIFICATE_DAYS)
    except (CAError, ValueError) as exc:
        raise SigningIdentityError(f"the platform CA could not issue the signing certificate: {exc}") from exc
    cert = X.load(cert_der)
    try:
        picture = _compact_png(generate("official", dept.name, SEAL_BOTTOM_TEXT, code=dept.code, size_mm=SEAL_SIZE_MM))
    except PictureError as exc:
        raise SigningIdentityError(f"the seal picture of {dept.name} could not be made: {exc}") from exc
    try:
        seal_der = make_seal(name=f"{dept.name}{SEAL_BOTTOM_TEXT}", picture=picture, picture_type="PNG",
                             width_mm=SEAL_SIZE_MM, height_mm=SEAL_SIZE_MM, signer_certs=[cert_der],
                             maker=ca.signer, maker_cert=ca.certificate_der, valid_start=now - timedelta(minutes=5),
                             valid_end=cert.not_valid_after)
    except SealError as exc:
        raise SigningIdentityError(f"the seal of {dept.name} could not be made: {exc}") from exc
    return {"key": key, "certificate_der": cert_der, "certificate_serial": str(cert.serial_number),
            "not_after": cert.not_valid_after, "seal_der": seal_der, "seal_picture": picture,
            "seal_valid_end": cert.not_valid_after}


def signing_material(uow: UnitOfWork, ca: CertificateAuthority, department_id: int,
                     now: datetime | None = None) -> SigningMaterial:
    """The department's identity, made (and added to the unit of work) if it has none usable.

    The caller commits. Two processes making one at the same moment: the unique department
    constraint keeps the first, the second reads it back.
    """
    now = now or datetime.now(timezone.utc)
    s = uow.session
    row = s.execute(select(SigningIdentity).where(SigningIdentity.department_id == department_id)).scalar_one_or_none()
    if row is None or not _usable(row, now):
        dept = s.get(Department, department_id)
        if dept is None:
            raise SigningIdentityError(f"department {department_id} not found")
        made = _make(ca, dept, now)
        key_enc = uow.cipher.encrypt(made.pop("key").der(), _key_context(department_id))
        if row is None:
            try:
                with s.begin_nested():
                    row = SigningIdentity(department_id=department_id, key_enc=key_enc, **made)
                    s.add(row)
            except IntegrityError:
                row = s.execute(select(SigningIdentity)
                                .where(SigningIdentity.department_id == department_id)).scalar_one()
        else:
            row.key_enc = key_enc
            for k, v in made.items():
                setattr(row, k, v)
        s.flush()
    key_der = uow.cipher.decrypt(row.key_enc, _key_context(department_id))
    return SigningMaterial(department_id, key_der, row.certificate_der, row.seal_der)


def seal_picture(uow: UnitOfWork, department_id: int) -> bytes | None:
    """The PNG of the department's seal (for a PDF stamp rendered on request), if it has one."""
    return uow.session.execute(select(SigningIdentity.seal_picture)
                               .where(SigningIdentity.department_id == department_id)).scalar_one_or_none()
