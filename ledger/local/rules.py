"""How a lifecycle event moves a certificate's status, apart from who may record it.

Kept apart from the store so that rebuilding the indexes from the log applies exactly the same
transitions as writing did (the authorisation checks belong to writing only: the admins of the
process that rebuilds need not be those of the process that wrote).
"""

from __future__ import annotations

from typing import Any

from ..interface import EventKind, LedgerError, LedgerStatus, LifecycleEvent

K = EventKind
ST = LedgerStatus
FINAL = (ST.REVOKED, ST.SUPERSEDED)
# which status each event needs before it, and the status it leaves (None: unchanged)
RULES: dict[EventKind, tuple[tuple[LedgerStatus, ...], LedgerStatus | None]] = {
    K.REPORT_LOSS: ((ST.EFFECTIVE,), ST.LOST),
    K.REVOKE: ((ST.EFFECTIVE, ST.LOST), ST.REVOKED),
    K.ANNUAL_REVIEW: ((ST.EFFECTIVE,), None),  # keeps the status, moves the due date
    K.CHANGE: ((ST.EFFECTIVE, ST.LOST), ST.SUPERSEDED),
}


def new_state(issuer: str, digest_hex: str, root_hex: str, seq: int) -> dict[str, Any]:
    """The status index record of a certificate its batch has just made effective."""
    return {"status": ST.EFFECTIVE.value, "issuer": issuer, "digest": digest_hex, "root": root_hex,
            "issued_block": seq, "last_block": seq, "next_review_due": None, "superseded_by": None}


def apply_event(state: dict[str, Any], ev: LifecycleEvent) -> None:
    """Check ``ev`` against the certificate's status record and update that record in place.

    Does not touch ``last_block``: the caller knows the sequence number the event gets.
    """
    cid = ev.certificate_id
    current = ST(state["status"])
    if current in FINAL:
        raise LedgerError(f"certificate {cid} is {current.value}: no further events")
    if ev.kind not in RULES:
        raise LedgerError("issue events are written by anchor_batch")
    allowed_from, target = RULES[ev.kind]
    if current not in allowed_from:
        raise LedgerError(f"certificate {cid}: {ev.kind.value} is not allowed when {current.value}")
    if ev.kind is K.ANNUAL_REVIEW:
        if ev.next_review_due is None:
            raise LedgerError("an annual review needs the next due date")
        state["next_review_due"] = ev.next_review_due.isoformat()
    if ev.kind is K.CHANGE:
        if not ev.superseded_by:
            raise LedgerError("a change needs the identifier of the new version")
        if ev.superseded_by_digest is not None and len(ev.superseded_by_digest) != 32:
            raise LedgerError("the new version's digest is 32 bytes")
        state["superseded_by"] = ev.superseded_by
    if target is not None:
        state["status"] = target.value
