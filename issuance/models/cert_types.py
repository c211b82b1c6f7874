"""Certificate types and their custom fields (信息项)."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from certledger.db.base import Base
from ._columns import created_at, str_enum
from .org import ReviewState


class ValueType(str, enum.Enum):
    STRING = "string"
    TEXT = "text"
    NUMBER = "number"
    DATE = "date"
    ENUM = "enum"
    IMAGE = "image"
    ID_NUMBER = "id_number"  # 居民身份证号码 (GB 11643, with check digit)
    USCC = "uscc"            # 统一社会信用代码 (GB 32100, with check character)


class CertificateType(Base):
    __tablename__ = "certificate_types"
    __table_args__ = (UniqueConstraint("tenant_id", "code"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), index=True)
    name: Mapped[str] = mapped_column(String(128))
    code: Mapped[str] = mapped_column(String(64), doc="certificate type code (证照类型代码)")
    define_authority: Mapped[str] = mapped_column(String(128), default="")
    define_authority_code: Mapped[str] = mapped_column(String(32), default="")
    holder_type: Mapped[str] = mapped_column(String(8), default="01")
    description: Mapped[str] = mapped_column(Text, default="")
    annual_review: Mapped[bool] = mapped_column(Boolean, default=False)
    review_interval_months: Mapped[int] = mapped_column(Integer, default=12)
    copy_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    copy_default_purpose: Mapped[str] = mapped_column(String(256), default="")
    copy_validity_days: Mapped[int] = mapped_column(Integer, default=30)
    status: Mapped[ReviewState] = mapped_column(str_enum(ReviewState, "type_state"), default=ReviewState.DRAFT)
    surface_design: Mapped[dict | None] = mapped_column(JSON, nullable=True, doc="ofd.design.SurfaceDesign as JSON")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    created_at: Mapped[datetime] = created_at()

    fields: Mapped[list["TypeField"]] = relationship(
        back_populates="type", cascade="all, delete-orphan", order_by="TypeField.display_order"
    )


class TypeField(Base):
    __tablename__ = "type_fields"
    __table_args__ = (UniqueConstraint("type_id", "column_name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    type_id: Mapped[int] = mapped_column(ForeignKey("certificate_types.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(128))
    column_name: Mapped[str] = mapped_column(String(64))
    value_type: Mapped[ValueType] = mapped_column(str_enum(ValueType, "value_type"))
    required: Mapped[bool] = mapped_column(Boolean, default=False)
    display_order: Mapped[int] = mapped_column(Integer, default=0)
    max_length: Mapped[int] = mapped_column(Integer, default=512)
    options: Mapped[list | None] = mapped_column(JSON, nullable=True, doc="allowed values of an enum field")

    type: Mapped[CertificateType] = relationship(back_populates="fields")
