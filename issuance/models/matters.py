"""Matters (government service items) and their links to certificate types."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from certledger.db.base import Base
from ._columns import created_at, str_enum


class Matter(Base):
    __tablename__ = "matters"
    __table_args__ = (UniqueConstraint("tenant_id", "code"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), index=True)
    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(256))
    category: Mapped[str] = mapped_column(String(64), default="")
    basis: Mapped[str] = mapped_column(Text, default="", doc="legal basis (设定依据)")
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = created_at()


class LinkKind(str, enum.Enum):
    USES = "uses"      # 事项用证: the matter needs this certificate type
    ISSUES = "issues"  # 事项发证: the matter results in this certificate type


class MatterTypeLink(Base):
    __tablename__ = "matter_type_links"
    __table_args__ = (UniqueConstraint("matter_id", "type_id", "kind"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    matter_id: Mapped[int] = mapped_column(ForeignKey("matters.id", ondelete="CASCADE"), index=True)
    type_id: Mapped[int] = mapped_column(ForeignKey("certificate_types.id", ondelete="CASCADE"), index=True)
    kind: Mapped[LinkKind] = mapped_column(str_enum(LinkKind, "link_kind"))
    created_at: Mapped[datetime] = created_at()
