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

PDF renditions need a second, ECDSA identity under the platform's PDF CA (PDF readers know no
SM2): ``pdf_signing_material`` makes and keeps it the same way (see the section at the end).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, TypeVar

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from certledger.crypto import x509 as X
from certledger.crypto.ca import CAError, CertificateAuthority
from certledger.crypto.sm import DecryptionError
from certledger.crypto.sm2 import SM2PrivateKey
from .models import Department
from .models.signing import DigitalCertificate, PdfSigningIdentity, Seal, SigningIdentity
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

    def make(dept: Department) -> dict[str, Any]:
        made = _make(ca, dept, now)
        made["key_enc"] = uow.cipher.encrypt(made.pop("key").der(), _key_context(department_id))
        return made

    row = _kept_identity(uow, SigningIdentity, department_id, lambda r: _usable(r, now), make)
    key_der = uow.cipher.decrypt(row.key_enc, _key_context(department_id))
    return SigningMaterial(department_id, key_der, row.certificate_der, row.seal_der)


def seal_picture(uow: UnitOfWork, department_id: int, seal_id: int | None = None) -> bytes | None:
    """The PNG of the department's seal (for a PDF stamp rendered on request), if it has one;
    with ``seal_id``, the picture of that seal of the department (the one a design picked)."""
    if seal_id is not None:
        return uow.session.execute(select(Seal.picture).where(Seal.id == seal_id,
                                                              Seal.department_id == department_id)
                                   ).scalar_one_or_none()
    return uow.session.execute(select(SigningIdentity.seal_picture)
                               .where(SigningIdentity.department_id == department_id)).scalar_one_or_none()


def design_seal_id(design: Any) -> int | None:
    """The seal a surface design (JSON as stored) picked, or None for the automatic identity."""
    if not isinstance(design, dict):
        return None
    for el in design.get("elements") or ():
        if isinstance(el, dict) and el.get("kind") == "seal":
            seal_id = el.get("seal_id")
            return int(seal_id) if isinstance(seal_id, int) else None
    return None


def signing_material_for_seal(uow: UnitOfWork, department_id: int, seal_id: int,
                              now: datetime | None = None) -> SigningMaterial:
    """The material of a seal the department made (印章): its SESeal and its certificate's key.

    Refused (SigningIdentityError, which fails the certificate's signature step with the reason)
    when the seal is not the department's, is frozen, cancelled or out of its validity, or its
    digital certificate is revoked or expired: the documents must not silently get another seal.
    """
    from . import digital_certificates as dcerts
    from . import seal_registry

    now = now or datetime.now(timezone.utc)
    seal = uow.session.get(Seal, seal_id)
    if seal is None or seal.department_id != department_id:
        raise SigningIdentityError(f"seal {seal_id} of the design is not a seal of department {department_id}")
    if not seal_registry.usable(seal, now):
        raise SigningIdentityError(f"seal {seal.name} is {seal.status} or outside its validity "
                                   f"({seal.valid_from:%Y-%m-%d} .. {seal.valid_to:%Y-%m-%d})")
    cert = uow.session.get(DigitalCertificate, seal.certificate_id)
    if cert is None or not dcerts.usable(cert, now):
        raise SigningIdentityError(f"the digital certificate of seal {seal.name} is revoked or expired")
    try:
        key_der = dcerts.key_of(uow, cert)
    except DecryptionError as exc:
        raise SigningIdentityError(f"the key of digital certificate {cert.name} cannot be decrypted: {exc}") from None
    return SigningMaterial(department_id, key_der, cert.certificate_der, seal.seal_der, seal.width_mm)


# --- the department's PDF identity ---------------------------------------------------------------
#
# PDF readers know no SM2, so PDF renditions are signed (PAdES) with an ECDSA P-256 key whose
# certificate the platform's PDF CA issues. It is made on first need and reused like the SM2
# identity, its key SM4-encrypted with the data directory's cipher, and kept in the database
# (``PdfSigningIdentity``) next to the SM2 identity: one system of record, backed up with the
# rest and shared by every app process, where files under the data directory were neither.

_Identity = TypeVar("_Identity", SigningIdentity, PdfSigningIdentity)


def _kept_identity(uow: UnitOfWork, model: type[_Identity], department_id: int,
                   usable: Callable[[_Identity], bool], make: Callable[[Department], dict[str, Any]]) -> _Identity:
    """The department's row of ``model``: the stored one if ``usable``, else one ``make`` fills.

    A row that is not usable is updated in place; a missing one is inserted in a savepoint, so
    that when two processes make one at the same moment the unique department constraint keeps
    the first and the second reads it back, without losing the caller's transaction. The caller
    commits. ``make`` returns the column values (the key already encrypted).
    """
    s = uow.session
    query = select(model).where(model.department_id == department_id)
    row = s.execute(query).scalar_one_or_none()
    if row is not None and usable(row):
        return row
    dept = s.get(Department, department_id)
    if dept is None:
        raise SigningIdentityError(f"department {department_id} not found")
    values = make(dept)
    if row is None:
        try:
            with s.begin_nested():
                row = model(department_id=department_id, **values)
                s.add(row)
        except IntegrityError:
            row = s.execute(query).scalar_one()
    else:
        for k, v in values.items():
            setattr(row, k, v)
    s.flush()
    return row


@dataclass(frozen=True)
class PdfSigningMaterial:
    """What signing one PDF for a department needs: key, certificate, chain up to the PDF root."""

    department_id: int
    key_der: bytes                  # PKCS#8, decrypted: never stored like this
    certificate_der: bytes
    chain: tuple[bytes, ...]        # the PDF CA certificate

    def __repr__(self) -> str:  # never print key material
        return f"PdfSigningMaterial(department_id={self.department_id})"


def _pdf_key_context(department_id: int) -> str:
    return f"pdf-signing-key:{department_id}"


def _pdf_usable(row: PdfSigningIdentity, pdf_ca: CertificateAuthority, now: datetime) -> bool:
    """Not about to expire, and issued by ``pdf_ca``: after the PDF CA is replaced, PDFs signed
    under the old one would not chain to the root verifiers are given, so a new one is made."""
    if row.not_after - RENEW_BEFORE <= now:
        return False
    try:
        return X.signed_by(X.load(row.certificate_der), X.public_key_der(pdf_ca.certificate))
    except ValueError:  # a certificate that no longer parses is replaced like an expired one
        return False


def _make_pdf(uow: UnitOfWork, pdf_ca: CertificateAuthority, dept: Department) -> dict[str, Any]:
    """A new ECDSA key and its certificate from ``pdf_ca``, as ``PdfSigningIdentity`` columns."""
    from cryptography.hazmat.primitives import serialization

    from certledger.crypto.signers import SoftECDSASigner

    signer = SoftECDSASigner()
    key_der = signer.key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption())
    try:
        cert_der = pdf_ca.issue("pdf", X.name(dept.name, organization=dept.name, unit=dept.code),
                                signer.public_key_der(), days=CERTIFICATE_DAYS)
    except (CAError, ValueError) as exc:
        raise SigningIdentityError(f"the PDF CA could not issue the PDF signing certificate: {exc}") from exc
    return {"key_enc": uow.cipher.encrypt(key_der, _pdf_key_context(dept.id)), "certificate_der": cert_der,
            "not_after": X.load(cert_der).not_valid_after}


def pdf_signing_material(uow: UnitOfWork, pdf_ca: CertificateAuthority, department_id: int,
                         now: datetime | None = None) -> PdfSigningMaterial:
    """The department's PDF identity, made (and added to the unit of work) if it has none usable.

    The caller commits. An identity about to expire, or issued by another PDF CA, is replaced;
    two processes making one at once: the unique department constraint decides (``_kept_identity``).
    """
    now = now or datetime.now(timezone.utc)
    row = _kept_identity(uow, PdfSigningIdentity, department_id, lambda r: _pdf_usable(r, pdf_ca, now),
                         lambda dept: _make_pdf(uow, pdf_ca, dept))
    try:
        key_der = uow.cipher.decrypt(row.key_enc, _pdf_key_context(department_id))
    except DecryptionError as exc:
        raise SigningIdentityError(f"the PDF signing key of department {department_id} cannot be decrypted "
                                   f"with this data directory's keys: {exc}") from None
    return PdfSigningMaterial(department_id, key_der, row.certificate_der, (pdf_ca.certificate_der,))
