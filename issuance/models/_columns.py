"""Column helpers shared by the models."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Enum
from sqlalchemy.orm import Mapped, mapped_column

from certledger.db.base import UTCDateTime, utcnow


def str_enum(cls: type[enum.Enum], name: str) -> Enum:
    """Stored as the enum's value in a VARCHAR with a CHECK, the same on SQLite and PostgreSQL."""
    return Enum(
        cls, name=name, native_enum=False, create_constraint=True, validate_strings=True,
        values_callable=lambda e: [m.value for m in e], length=32,
    )


def created_at() -> Mapped[datetime]:
    return mapped_column(UTCDateTime(), default=utcnow, nullable=False)
