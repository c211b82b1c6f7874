"""Appending to and checking the audit log."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Mapping, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from certledger.db.base import utcnow
from .context import Actor
from .models import AuditEntry, AuditHead

GENESIS = "0" * 64


def _entry_hash(prev_hash: str, e: AuditEntry) -> str:
    body = json.dumps(
        [prev_hash, e.at.isoformat(), e.tenant_id, e.actor_id, e.actor_name, e.department_id, e.ip,
         e.action, e.subject_kind, e.subject_id, e.detail],
        ensure_ascii=False, separators=(",", ":"),
    )
    return hashlib.sha256(body.encode()).hexdigest()


def record(session: Session, actor: Actor, action: str, subject_kind: str = "", subject_id: int | None = None,
           **detail: object) -> AuditEntry:
    """Add an audit entry to the session; it commits with the change it describes."""
    return record_many(session, actor, [(action, subject_kind, subject_id, detail)])[0]


def record_many(session: Session, actor: Actor,
                items: Sequence[tuple[str, str, int | None, Mapping[str, object]]]) -> list[AuditEntry]:
    """Audit entries (action, subject kind, subject id, detail) of one actor, chained in order.

    The head row is locked first (``FOR UPDATE`` on PostgreSQL, the write lock on SQLite), so
    concurrent writers take turns and each links to the entry written just before it; a batch
    (a reviewer approving 500 certificates) takes the lock and flushes once.
    """
    head = session.execute(select(AuditHead).where(AuditHead.id == 1).with_for_update()).scalar_one_or_none()
    if head is None:
        head = AuditHead(id=1, last_id=0, hash=GENESIS)
        session.add(head)
    entries, prev = [], head.hash
    at = utcnow()
    for action, subject_kind, subject_id, detail in items:
        entry = AuditEntry(
            at=at, tenant_id=actor.tenant_id or None, actor_id=actor.user_id, actor_name=actor.username,
            department_id=actor.department_id, ip=actor.ip, action=action, subject_kind=subject_kind,
            subject_id=subject_id,
            detail=json.dumps(dict(detail), ensure_ascii=False, sort_keys=True, default=str),
        )
        entry.prev_hash = prev
        entry.hash = prev = _entry_hash(prev, entry)
        entries.append(entry)
    session.add_all(entries)
    session.flush()
    if entries:
        head.last_id, head.hash = entries[-1].id, entries[-1].hash
    return entries


@dataclass(frozen=True)
class AuditCheck:
    ok: bool
    entries: int
    problem: str | None = None


def verify_chain(session: Session) -> AuditCheck:
    """Walk the log in order; report the first entry whose hash or link does not hold."""
    prev = GENESIS
    count = 0
    for e in session.execute(select(AuditEntry).order_by(AuditEntry.id)).scalars():
        count += 1
        if e.prev_hash != prev:
            return AuditCheck(False, count, f"audit entry {e.id}: link to previous entry broken (missing entry?)")
        if _entry_hash(prev, e) != e.hash:
            return AuditCheck(False, count, f"audit entry {e.id}: content changed after it was written")
        prev = e.hash
    head = session.get(AuditHead, 1)
    if head is not None and head.hash != prev:
        return AuditCheck(False, count, f"audit entry {head.last_id}: missing (the newest entries were removed)")
    return AuditCheck(True, count)
