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

from sqlalchemy import ForeignKey, LargeBinary, String, Text
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
