"""What is waiting to be written to the ledger: anchors of certificate digests and lifecycle events."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from certledger.db.base import Base, UTCDateTime
from ._columns import created_at


class OutboxItem(Base):
    __tablename__ = "ledger_outbox"
    __table_args__ = (Index("ix_outbox_state_id", "state", "id"), Index("ix_outbox_batch", "batch_root"))
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))            # anchor, report_loss, revoke, annual_review, change
    state: Mapped[str] = mapped_column(String(10), default="pending")  # pending, sending, done, failed
    certificate_id: Mapped[str] = mapped_column(String(160), index=True)
    issuer: Mapped[str] = mapped_column(String(64))
    type_code: Mapped[str] = mapped_column(String(64), default="")
    digest: Mapped[str] = mapped_column(String(64), default="")
    payload: Mapped[dict] = mapped_column(JSON, default=dict)  # reason, actor, next_review_due, superseded_by...
    batch_root: Mapped[str] = mapped_column(String(64), default="")
    ref: Mapped[str] = mapped_column(String(80), default="")   # transaction hash or local:<seq>
    block: Mapped[int] = mapped_column(Integer, default=0)
    proof: Mapped[list] = mapped_column(JSON, default=list)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = created_at()
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
