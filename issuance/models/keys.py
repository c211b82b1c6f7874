"""Data-encryption keys, stored wrapped by the key-encryption key of the data directory."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, LargeBinary
from sqlalchemy.orm import Mapped, mapped_column

from certledger.db.base import Base
from ._columns import created_at


class DataKey(Base):
    __tablename__ = "data_keys"
    id: Mapped[int] = mapped_column(primary_key=True)
    wrapped: Mapped[bytes] = mapped_column(LargeBinary)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = created_at()
