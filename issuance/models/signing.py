"""A department's signing identity: SM2 key, certificate from the platform CA, electronic seal.

Made on first need by ``issuance.signing_identity`` and reused for every document the department
issues, so a batch costs one key and one seal, not one per certificate. The private key is kept
SM4-encrypted with the data directory's cipher (the database alone never reveals it); the
certificate and the seal are public and stored as DER.
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
