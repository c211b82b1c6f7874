"""Tenants, departments, roles and users."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from certledger.db.base import Base, UTCDateTime
from ._columns import created_at, str_enum


class Tenant(Base):
    """An isolated deployment unit, usually a region (province or city)."""

    __tablename__ = "tenants"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(128))
    region_code: Mapped[str] = mapped_column(String(6), default="")
    created_at: Mapped[datetime] = created_at()


class ReviewState(str, enum.Enum):
    """States of items that pass one review step (onboarding, catalog)."""

    DRAFT = "draft"
    SUBMITTED = "submitted"
    APPROVED = "approved"
    REJECTED = "rejected"
    DISABLED = "disabled"


class Department(Base):
    """An organisation on the platform; usable once its onboarding is approved by an admin."""

    __tablename__ = "departments"
    __table_args__ = (UniqueConstraint("tenant_id", "code"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    name: Mapped[str] = mapped_column(String(128))
    code: Mapped[str] = mapped_column(String(32), doc="issuing-authority code (unified social credit code)")
    region_code: Mapped[str] = mapped_column(String(6))
    contact_name: Mapped[str] = mapped_column(String(64), default="")
    contact_phone: Mapped[str] = mapped_column(String(32), default="")
    address: Mapped[str] = mapped_column(String(256), default="")
    status: Mapped[ReviewState] = mapped_column(str_enum(ReviewState, "review_state"), default=ReviewState.SUBMITTED)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", use_alter=True), nullable=True)
    created_at: Mapped[datetime] = created_at()


class RoleCode(str, enum.Enum):
    PLATFORM_ADMIN = "platform_admin"
    DEPT_ADMIN = "dept_admin"
    CLERK = "clerk"
    REVIEWER = "reviewer"
    AUDITOR = "auditor"


class Role(Base):
    """Roles are rows with ids, as in the seed, so the admin role id can be configured."""

    __tablename__ = "roles"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(64))


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(64), default="")
    email: Mapped[str] = mapped_column(String(128), default="")
    phone: Mapped[str] = mapped_column(String(32), default="")
    password_hash: Mapped[str] = mapped_column(String(255))
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked: Mapped[bool] = mapped_column(Boolean, default=False)
    locked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    current_department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"), nullable=True)
    current_tenant_id: Mapped[int | None] = mapped_column(ForeignKey("tenants.id"), nullable=True,
                                                          doc="tenant chosen by a platform admin; else home")
    password_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[datetime] = created_at()

    roles: Mapped[list["UserRole"]] = relationship(back_populates="user", cascade="all, delete-orphan")


class UserRole(Base):
    """A role held by a user, in one department or (for platform-wide roles) in none."""

    __tablename__ = "user_roles"
    __table_args__ = (UniqueConstraint("user_id", "role_id", "department_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role_id: Mapped[int] = mapped_column(ForeignKey("roles.id"))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id", ondelete="CASCADE"), nullable=True)

    user: Mapped[User] = relationship(back_populates="roles")
    role: Mapped[Role] = relationship()
