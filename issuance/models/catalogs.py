"""Catalog entries (证照目录): the registered, shareable description of a type."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from certledger.db.base import Base
from ._columns import created_at, str_enum
from .org import ReviewState


class ShareType(str, enum.Enum):
    NONE = "none"            # 不共享: cannot be applied for
    ON_DEMAND = "on_demand"  # 依职能按需共享: the issuer approves each application
    PUBLIC = "public"        # 社会公示: applications are approved automatically


class Catalog(Base):
    __tablename__ = "catalogs"
    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), index=True)
    type_id: Mapped[int] = mapped_column(ForeignKey("certificate_types.id"), unique=True)
    share_type: Mapped[ShareType] = mapped_column(str_enum(ShareType, "share_type"))
    status: Mapped[ReviewState] = mapped_column(str_enum(ReviewState, "catalog_state"), default=ReviewState.SUBMITTED)
    version: Mapped[int] = mapped_column(Integer, default=1)
    description: Mapped[str] = mapped_column(Text, default="")
    usage_restriction: Mapped[str] = mapped_column(String(256), default="")
    created_at: Mapped[datetime] = created_at()
