"""The ledger outbox: enqueue anchors and events in the database, drain them to the ledger.

An item is marked ``sending`` (with its batch root) and committed before the ledger is called,
and ``done`` only after the ledger answered. A worker that died in between finds its ``sending``
items on restart: if the ledger already holds them they are completed from the ledger, otherwise
they are sent again with the same batch root (which the chain ledger recognises by content). If
the ledger is unreachable, items go back to ``pending`` and wait.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import date
from itertools import groupby
from typing import Sequence

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from certledger.db.base import utcnow
from ledger import AnchorItem, EventKind, Ledger, LedgerError, LifecycleEvent
from ledger.merkle import build

from .models import OutboxItem

MAX_ATTEMPTS = 20


_DRAINING = threading.RLock()


@dataclass
class DrainReport:
    anchored: int = 0
    events: int = 0
    recovered: int = 0
    waiting: int = 0
    error: str = ""


def enqueue_anchor(session: Session, certificate_id: str, issuer: str, type_code: str, digest: bytes) -> OutboxItem:
    item = OutboxItem(kind="anchor", certificate_id=certificate_id, issuer=issuer, type_code=type_code,
                      digest=digest.hex(), payload={}, proof=[])
    session.add(item)
    return item


def enqueue_event(session: Session, event: LifecycleEvent) -> OutboxItem:
    item = OutboxItem(kind=event.kind.value, certificate_id=event.certificate_id, issuer=event.issuer, proof=[],
                      payload={"actor": event.actor, "reason": event.reason,
                               "next_review_due": event.next_review_due.isoformat() if event.next_review_due else None,
                               "superseded_by": event.superseded_by,
                               "superseded_by_digest": event.superseded_by_digest.hex() if event.superseded_by_digest else None})
    session.add(item)
    return item


def _event(item: OutboxItem) -> LifecycleEvent:
    p = item.payload
    return LifecycleEvent(item.certificate_id, EventKind(item.kind), item.issuer, p.get("actor") or "", p.get("reason") or "",
                          date.fromisoformat(p["next_review_due"]) if p.get("next_review_due") else None,
                          p.get("superseded_by"),
                          bytes.fromhex(p["superseded_by_digest"]) if p.get("superseded_by_digest") else None)


class Worker:
    def __init__(self, session_factory, ledger: Ledger, max_batch: int = 1000) -> None:
        self.sessions, self.ledger, self.max_batch = session_factory, ledger, max_batch

    def drain(self) -> DrainReport:
        """Everything pending, batch by batch; stops early (items kept) when the ledger is unreachable.

        One drain at a time per process: ``_recover`` takes any 'sending' item for a dead worker's,
        so a second drain running beside the first (a scheduled job beside a request) could send
        it again. Other processes cannot open the same ledger (its LevelDB store or index is held
        by one process), so a process-wide lock is enough.
        """
        with _DRAINING:
            return self._drain()

    def _drain(self) -> DrainReport:
        report = DrainReport()
        try:
            report.recovered = self._recover()
            while self._anchor_one_batch(report):
                pass
            while self._record_events(report):
                pass
        except LedgerError as exc:
            report.error = str(exc)
        with self.sessions() as s:
            report.waiting = s.scalar(select(func.count()).select_from(OutboxItem).where(
                OutboxItem.state.in_(("pending", "sending"))))
        return report

    # --- anchors ---
    def _anchor_one_batch(self, report: DrainReport) -> bool:
        with self.sessions() as s:
            first = s.scalars(select(OutboxItem).where(OutboxItem.state == "pending", OutboxItem.kind == "anchor")
                              .order_by(OutboxItem.id).limit(1)).first()
            if first is None:
                return False
            items = s.scalars(select(OutboxItem).where(
                OutboxItem.state == "pending", OutboxItem.kind == "anchor", OutboxItem.issuer == first.issuer,
                OutboxItem.type_code == first.type_code).order_by(OutboxItem.id).limit(self.max_batch)).all()
            root, _ = build(bytes.fromhex(i.digest) for i in items)
            for i in items:
                i.state, i.batch_root, i.attempts = "sending", root.hex(), i.attempts + 1
            s.commit()  # from here on a crash leaves recoverable 'sending' items
            ids = [i.id for i in items]
        self._send_batch(ids, report)
        return True

    def _send_batch(self, ids: Sequence[int], report: DrainReport) -> None:
        with self.sessions() as s:
            items = s.scalars(select(OutboxItem).where(OutboxItem.id.in_(ids)).order_by(OutboxItem.id)).all()
            anchor_items = [AnchorItem(i.certificate_id, bytes.fromhex(i.digest)) for i in items]
            try:
                receipt = self.ledger.anchor_batch(items[0].issuer, items[0].type_code, anchor_items)
            except LedgerError as exc:
                self._back_to_pending(s, items, str(exc))
                raise
            now = utcnow()
            for i in items:
                i.state, i.ref, i.block, i.done_at = "done", receipt.ref, receipt.block, now
                i.proof = [p.hex() for p in receipt.proofs[i.certificate_id]]
            s.commit()
            report.anchored += len(items)

    def _back_to_pending(self, s: Session, items, error: str) -> None:
        for i in items:
            i.state = "failed" if i.attempts >= MAX_ATTEMPTS else "pending"
            i.last_error = error[:2000]
        s.commit()

    def _recover(self) -> int:
        """Items left 'sending' by a worker that died: complete them from the ledger, or send again."""
        with self.sessions() as s:
            roots = s.scalars(select(OutboxItem.batch_root).where(OutboxItem.state == "sending",
                                                                   OutboxItem.kind == "anchor").distinct()).all()
        recovered = 0
        for root in roots:
            with self.sessions() as s:
                items = s.scalars(select(OutboxItem).where(OutboxItem.batch_root == root, OutboxItem.state == "sending")
                                  .order_by(OutboxItem.id)).all()
                states = [self.ledger.status(i.certificate_id) for i in items]
                if all(st is not None for st in states):
                    _, proofs = build(bytes.fromhex(i.digest) for i in items)
                    info = self.ledger.root_info(bytes.fromhex(root))
                    for i, st in zip(items, states):
                        i.state, i.block, i.done_at = "done", st.issued_block, utcnow()
                        i.ref = i.ref or f"block:{info.block if info else st.issued_block}"
                        i.proof = [p.hex() for p in proofs[bytes.fromhex(i.digest)]]
                    s.commit()
                    recovered += len(items)
                    continue
                ids = [i.id for i in items]
            self._send_batch(ids, DrainReport())  # same digests, same root: found by content if it went out
            recovered += len(ids)
        with self.sessions() as s:  # events left 'sending' go back to the queue; the ledger refuses doubles
            s.execute(update(OutboxItem).where(OutboxItem.state == "sending", OutboxItem.kind != "anchor")
                      .values(state="pending"))
            s.commit()
        return recovered

    # --- lifecycle events ---
    def _record_events(self, report: DrainReport) -> bool:
        with self.sessions() as s:
            items = s.scalars(select(OutboxItem).where(OutboxItem.state == "pending", OutboxItem.kind != "anchor")
                              .order_by(OutboxItem.id).limit(min(self.max_batch, self.ledger.max_events_per_call))).all()
            if not items:
                return False
            # one call per run of the same issuer, in order: each call is all or nothing
            run = [i for i in next(groupby(items, key=lambda i: i.issuer))[1]]
            for i in run:
                i.state, i.attempts = "sending", i.attempts + 1
            s.commit()
            try:
                receipts = self.ledger.record_events([_event(i) for i in run])
            except LedgerError as exc:
                self._back_to_pending(s, run, str(exc))
                raise
            now = utcnow()
            for i, r in zip(run, receipts):
                i.state, i.ref, i.block, i.done_at = "done", r.ref, r.block, now
            s.commit()
            report.events += len(run)
        return True
