"""Replaying a local store's history onto the chain, when a deployment switches to the chain.

Entries are replayed in log order: issuers, batches (the same digests give the same roots), and
lifecycle events. A cursor file records the last entry done, so an interrupted backfill resumes
where it stopped; the one entry that may have been sent but not recorded is recognised on the
chain (its batch root is anchored, or the certificate already shows the event) and skipped.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Callable

from .interface import AnchorItem, EventKind, LedgerStatus, LifecycleEvent

RESULT = {EventKind.REPORT_LOSS: LedgerStatus.LOST, EventKind.REVOKE: LedgerStatus.REVOKED,
          EventKind.CHANGE: LedgerStatus.SUPERSEDED}


@dataclass
class BackfillReport:
    replayed: int = 0
    skipped: int = 0
    last_seq: int = 0


def _cursor(path: Path) -> int:
    return json.loads(path.read_text())["last_seq"] if path.exists() else 0


def _save_cursor(path: Path, seq: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"last_seq": seq}))
    tmp.replace(path)


def _already_there(chain, e: dict) -> bool:
    state = chain.status(e["certificate_id"])
    if state is None:
        return False
    kind = EventKind(e["kind"])
    if kind is EventKind.ANNUAL_REVIEW:
        return state.next_review_due == date.fromisoformat(e["next_review_due"])
    return state.status is RESULT[kind]


def backfill(local, chain, cursor_path: Path, step: Callable[[int], None] | None = None) -> BackfillReport:
    report = BackfillReport(last_seq=_cursor(cursor_path))
    for e in local.export_entries(start=report.last_seq + 1):
        seq = e["seq"]
        kind = e["kind"]
        if kind == "issuer":
            if e["active"]:
                chain.register_issuer(e["issuer"], e["name"], e["type_codes"])
            elif chain.issuer_info(e["issuer"]) is not None:
                chain.suspend_issuer(e["issuer"])
            report.replayed += 1
        elif kind == "batch":
            items = [AnchorItem(cid, bytes.fromhex(d[2:])) for cid, d in e["items"]]
            if all(chain.status(i.certificate_id) is not None for i in items):
                report.skipped += 1
            else:
                chain.anchor_batch(e["issuer"], e["type_code"], items)
                report.replayed += 1
        else:
            if _already_there(chain, e):
                report.skipped += 1
            else:
                due = date.fromisoformat(e["next_review_due"]) if e["next_review_due"] else None
                chain.record_event(LifecycleEvent(
                    e["certificate_id"], EventKind(kind), e["issuer"], e["actor"], e["reason"], due,
                    e["superseded_by"], bytes.fromhex(e["superseded_by_digest"][2:]) if e["superseded_by_digest"] else None))
                report.replayed += 1
        report.last_seq = seq
        _save_cursor(cursor_path, seq)
        if step:
            step(1)
    return report
