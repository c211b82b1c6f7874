"""Sharing: client systems (系统清单), usage applications (用证申请) and usage records (用证记录)."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from certledger.db.base import Base, UTCDateTime, utcnow
from ._columns import created_at, str_enum
from .org import ReviewState


class ClientSystem(Base):
    """A department's business system that calls the sharing interface from the IPs it declared.

    ``account_id`` (the standard's AccountId) is issued on the first approval and bound to ``ips``;
    it works only while ``status`` is approved.
    """

    __tablename__ = "client_systems"
    __table_args__ = (UniqueConstraint("department_id", "name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), index=True)
    name: Mapped[str] = mapped_column(String(128))
    description: Mapped[str] = mapped_column(Text, default="")
    ips: Mapped[list] = mapped_column(JSON, doc="normalised IP addresses the AccountId is bound to")
    account_id: Mapped[str | None] = mapped_column(String(32), unique=True, nullable=True)
    status: Mapped[ReviewState] = mapped_column(str_enum(ReviewState, "client_system_state"),
                                                default=ReviewState.DRAFT)
    rotate_account: Mapped[bool] = mapped_column(default=False,
                                                 doc="issue a new AccountId at the next approval (set by disable)")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    created_at: Mapped[datetime] = created_at()


class UsageStatus(str, enum.Enum):
    DRAFT = "draft"
    SUBMITTED = "submitted"   # waits for the issuing department (依职能按需共享)
    APPROVED = "approved"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"   # withdrawn or deleted from the usage list by the applicant


class UsageApplication(Base):
    """A department's application to use a catalog through one of its client systems."""

    __tablename__ = "usage_applications"
    __table_args__ = (Index("ix_usage_system_status", "client_system_id", "status"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), index=True, doc="the applicant")
    client_system_id: Mapped[int] = mapped_column(ForeignKey("client_systems.id"))
    catalog_id: Mapped[int] = mapped_column(ForeignKey("catalogs.id"), index=True)
    issuer_department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), index=True,
                                                      doc="the catalog's department, who reviews")
    matter_id: Mapped[int | None] = mapped_column(ForeignKey("matters.id"), nullable=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[UsageStatus] = mapped_column(str_enum(UsageStatus, "usage_state"), default=UsageStatus.DRAFT)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    created_at: Mapped[datetime] = created_at()
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class UsageRecord(Base):
    """One call of the sharing interface. Append-only; written by the interface, read for 用证记录.

    No foreign key to certificates: a record keeps what was asked even for an unknown identifier,
    and ``holder_code_index`` is the blind index, never the holder code itself.
    """

    __tablename__ = "usage_records"
    __table_args__ = (Index("ix_usage_records_tenant_at", "tenant_id", "at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    client_system_id: Mapped[int | None] = mapped_column(ForeignKey("client_systems.id"), nullable=True, index=True)
    department_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True,
                                                      doc="the calling client system's department")
    account_id: Mapped[str] = mapped_column(String(64), default="")
    ip: Mapped[str] = mapped_column(String(64), default="")
    interface: Mapped[str] = mapped_column(String(64))
    type_code: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    certificate_identifier: Mapped[str | None] = mapped_column(String(160), nullable=True, index=True)
    holder_code_index: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    result_code: Mapped[str] = mapped_column(String(16))
    message: Mapped[str] = mapped_column(Text, default="")
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
