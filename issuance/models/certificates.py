"""Certificates with the data items of DB23/T 2836 appendix B, and their annotated copies."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from certledger.db.base import Base, UTCDateTime
from ._columns import created_at, str_enum


class CertificateStatus(str, enum.Enum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    APPROVED = "approved"
    ISSUING = "issuing"
    EFFECTIVE = "effective"
    LOST = "lost"
    REVOKED = "revoked"
    REVIEW_OVERDUE = "review_overdue"
    SUPERSEDED = "superseded"


class Certificate(Base):
    __tablename__ = "certificates"
    __table_args__ = (UniqueConstraint("type_id", "number", "version"),
                      # a department's list, newest first (证照管理, 录入, 审核 page by this)
                      Index("ix_certificates_department_created", "department_id", "created_at"),
                      Index("ix_certificates_tenant_created", "tenant_id", "created_at"))  # 证照维护, the admin's
    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), index=True)
    type_id: Mapped[int] = mapped_column(ForeignKey("certificate_types.id"), index=True)

    # B.1 basic data
    identifier: Mapped[str] = mapped_column(String(160), unique=True, doc="GB/T 36904 identifier")
    name: Mapped[str] = mapped_column(String(128), doc="证照名称")
    type_name: Mapped[str] = mapped_column(String(128))
    type_code: Mapped[str] = mapped_column(String(64))
    matter_name: Mapped[str] = mapped_column(String(256), default="")
    matter_code: Mapped[str] = mapped_column(String(64), default="")
    issue_dept: Mapped[str] = mapped_column(String(128))
    issue_dept_code: Mapped[str] = mapped_column(String(32))
    area_code: Mapped[str] = mapped_column(String(6), doc="证照所属管辖属地 (region code)")
    holder: Mapped[str] = mapped_column(String(256))
    holder_code_enc: Mapped[str] = mapped_column(Text, doc="holder code, SM4-encrypted")
    holder_code_index: Mapped[str] = mapped_column(String(64), index=True, doc="blind index for search")
    holder_type: Mapped[str] = mapped_column(String(8))
    number: Mapped[str] = mapped_column(String(128), doc="证照编号")
    issue_date: Mapped[date] = mapped_column(Date)
    valid_from: Mapped[date | None] = mapped_column(Date, nullable=True)
    valid_to: Mapped[date | None] = mapped_column(Date, nullable=True)

    # B.2 management data
    status: Mapped[CertificateStatus] = mapped_column(
        str_enum(CertificateStatus, "certificate_status"), default=CertificateStatus.DRAFT, index=True
    )
    status_change_reason: Mapped[str] = mapped_column(Text, default="")
    status_change_time: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    # our own bookkeeping
    serial: Mapped[int] = mapped_column(Integer)
    version: Mapped[int] = mapped_column(Integer, default=1)
    supersedes_id: Mapped[int | None] = mapped_column(ForeignKey("certificates.id"), nullable=True)
    annual_review: Mapped[bool] = mapped_column(Boolean, default=False)
    next_review_due: Mapped[date | None] = mapped_column(Date, nullable=True)
    data_enc: Mapped[str] = mapped_column(Text, doc="custom field values as JSON, SM4-encrypted")
    digest: Mapped[str] = mapped_column(String(64), default="", doc="keccak256 anchored on the ledger")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    created_at: Mapped[datetime] = created_at()
    issued_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class SerialCounter(Base):
    """Next serial number per (type, issuing department), taken under a row lock."""

    __tablename__ = "serial_counters"
    type_id: Mapped[int] = mapped_column(ForeignKey("certificate_types.id"), primary_key=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), primary_key=True)
    next_serial: Mapped[int] = mapped_column(Integer, default=1)


class CertificateCopy(Base):
    """B.3 copy data: an annotated copy (加注件) for a purpose, valid until a date."""

    __tablename__ = "certificate_copies"
    id: Mapped[int] = mapped_column(primary_key=True)
    certificate_id: Mapped[int] = mapped_column(ForeignKey("certificates.id"), index=True)
    creation_time: Mapped[datetime] = created_at()
    creation_org: Mapped[str] = mapped_column(String(128))
    purpose: Mapped[str] = mapped_column(String(256))
    expiring_time: Mapped[datetime] = mapped_column(UTCDateTime())
    maker_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    signature: Mapped[str] = mapped_column(Text, default="")
