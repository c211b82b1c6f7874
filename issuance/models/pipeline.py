"""The issuance pipeline's record: one row per certificate and step, for the progress view.

Each step of the seed's issuance flow (签发流程) is kept with its status, when it started and
ended, how often it was tried and the error of its last failure, so the progress page can show
green, red and grey icons, and so a run interrupted by a crash can be picked up where it stopped.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from certledger.db.base import Base, UTCDateTime
from ._columns import str_enum


class StepStatus(str, enum.Enum):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    SKIPPED = "skipped"  # a type without surface design skips layout, signature and seal


class IssuanceStep(Base):
    __tablename__ = "issuance_steps"
    __table_args__ = (UniqueConstraint("certificate_id", "step"), Index("ix_issuance_steps_status", "status"))
    id: Mapped[int] = mapped_column(primary_key=True)
    certificate_id: Mapped[int] = mapped_column(ForeignKey("certificates.id", ondelete="CASCADE"))
    step: Mapped[str] = mapped_column(String(16), doc="issuance.pipeline.steps.Step value")
    status: Mapped[StepStatus] = mapped_column(str_enum(StepStatus, "issuance_step_status"),
                                               default=StepStatus.PENDING)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str] = mapped_column(Text, default="", doc="why the last attempt failed; empty once done")
    detail: Mapped[str] = mapped_column(String(255), default="", doc="what the step produced: digest, file, ledger ref")
