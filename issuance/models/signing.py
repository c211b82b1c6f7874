"""A department's signing identity: SM2 key, certificate from the platform CA, electronic seal.

Made on first need by ``issuance.signing_identity`` and reused for every document the department
issues, so a batch costs one key and one seal, not one per certificate. The private key is kept
SM4-encrypted with the data directory's cipher (the database alone never reveals it); the
certificate and the seal are public and stored as DER.

PDF renditions need a second identity, ECDSA under the platform's PDF CA (PDF readers know no
SM2): ``PdfSigningIdentity``, kept the same way in its own table, so that every key the
platform holds lives in the one system of record (backed up with the database, shared by all
app processes) rather than in files of one machine's data directory.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from certledger.db.base import Base, UTCDateTime
from ._columns import created_at


class SigningIdentity(Base):
    __tablename__ = "signing_identities"
    id: Mapped[int] = mapped_column(primary_key=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id", ondelete="CASCADE"), unique=True)
    key_enc: Mapped[str] = mapped_column(Text, doc="SM2 private key, PKCS#8, SM4-encrypted at rest")
    certificate_der: Mapped[bytes] = mapped_column(LargeBinary, doc="signing certificate issued by the platform CA")
    certificate_serial: Mapped[str] = mapped_column(String(64))
    not_after: Mapped[datetime] = mapped_column(UTCDateTime(), doc="end of the certificate's validity")
    seal_der: Mapped[bytes] = mapped_column(LargeBinary, doc="GB/T 38540 SESeal allowing the certificate above")
    seal_picture: Mapped[bytes] = mapped_column(LargeBinary, doc="the seal's picture (PNG), also for PDF stamps")
    seal_valid_end: Mapped[datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = created_at()


class PdfSigningIdentity(Base):
    """A department's ECDSA P-256 key and certificate from the PDF CA, for signing PDF renditions.

    One per department (the unique constraint also settles two processes making it at once); a
    row about to expire or issued by another PDF CA is replaced in place by the next user.
    """

    __tablename__ = "pdf_signing_identities"
    id: Mapped[int] = mapped_column(primary_key=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id", ondelete="CASCADE"), unique=True)
    key_enc: Mapped[str] = mapped_column(Text, doc="ECDSA private key, PKCS#8, SM4-encrypted at rest")
    certificate_der: Mapped[bytes] = mapped_column(LargeBinary, doc="PDF signing certificate issued by the PDF CA")
    not_after: Mapped[datetime] = mapped_column(UTCDateTime(), doc="end of the certificate's validity")
    created_at: Mapped[datetime] = created_at()


# --- digital certificates and seals a department manages itself (证书, 印章) ------------------------
#
# The automatic identity above serves types whose design names no seal. A department admin may
# also issue named digital certificates and make named seals allowing one of them; a type's design
# that picks such a seal (SealElement.seal_id) is sealed with it and signed with its certificate's
# key. Statuses are plain strings checked by the services (issuance/digital_certificates.py,
# issuance/seal_registry.py): valid/revoked and valid/frozen/cancelled.


class DigitalCertificate(Base):
    """A department's named SM2 key and its certificate from the platform CA (证书)."""

    __tablename__ = "digital_certificates"
    __table_args__ = (UniqueConstraint("department_id", "name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    remark: Mapped[str] = mapped_column(Text, default="")
    subject_cn: Mapped[str] = mapped_column(String(128))
    subject_o: Mapped[str] = mapped_column(String(128))
    key_enc: Mapped[str] = mapped_column(Text, doc="SM2 private key, PKCS#8, SM4-encrypted at rest")
    certificate_der: Mapped[bytes] = mapped_column(LargeBinary, doc="certificate issued by the platform CA")
    serial: Mapped[str] = mapped_column(String(64))
    not_before: Mapped[datetime] = mapped_column(UTCDateTime())
    not_after: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(16), default="valid")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    created_at: Mapped[datetime] = created_at()


class Seal(Base):
    """A department's named electronic seal (印章): picture, GB/T 38540 SESeal, allowed certificate."""

    __tablename__ = "seals"
    __table_args__ = (UniqueConstraint("department_id", "name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id", ondelete="CASCADE"), index=True)
    certificate_id: Mapped[int] = mapped_column(ForeignKey("digital_certificates.id"), index=True,
                                                doc="the digital certificate allowed to use the seal")
    name: Mapped[str] = mapped_column(String(64))
    style: Mapped[str] = mapped_column(String(16), doc="seal kind: a style of seals.picture.STYLES")
    source: Mapped[str] = mapped_column(String(16), doc="generated or uploaded picture")
    picture: Mapped[bytes] = mapped_column(LargeBinary, doc="the seal's picture, PNG, transparent background")
    width_mm: Mapped[int] = mapped_column()
    height_mm: Mapped[int] = mapped_column()
    es_id: Mapped[str] = mapped_column(String(64))
    seal_der: Mapped[bytes] = mapped_column(LargeBinary, doc="GB/T 38540 SESeal made by the platform CA")
    valid_from: Mapped[datetime] = mapped_column(UTCDateTime())
    valid_to: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(16), default="valid")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    created_at: Mapped[datetime] = created_at()
