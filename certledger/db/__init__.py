"""Database engine, sessions and migrations (SQLAlchemy 2 + Alembic)."""

from .base import Base
from .engine import make_engine, make_session_factory

__all__ = ["Base", "make_engine", "make_session_factory"]
