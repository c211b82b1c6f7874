"""Reading and writing the step records of many certificates at once.

The pipeline handles certificates in chunks of hundreds; writing their six step rows one ORM
object at a time would cost more than the work itself. Rows are therefore read with one query
per chunk and written with executemany statements grouped by the columns they set.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Iterable, Mapping

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session

from ..models.pipeline import IssuanceStep, StepStatus
from .steps import Step

T = IssuanceStep.__table__


@dataclass
class StepState:
    """One step of one certificate as the runner tracks it between its transactions."""

    status: StepStatus
    attempts: int = 0


def load(session: Session, certificate_ids: Iterable[int]) -> dict[int, dict[Step, StepState]]:
    """The recorded steps of ``certificate_ids``; certificates without records are absent."""
    ids = list(certificate_ids)
    out: dict[int, dict[Step, StepState]] = defaultdict(dict)
    if not ids:
        return {}
    rows = session.execute(select(T.c.certificate_id, T.c.step, T.c.status, T.c.attempts)
                           .where(T.c.certificate_id.in_(ids))).all()
    for cid, step, status, attempts in rows:
        out[cid][Step(step)] = StepState(StepStatus(status), attempts)
    return dict(out)


@dataclass
class Writes:
    """Step rows to insert and changes to apply, flushed together in the caller's transaction."""

    inserts: list[dict[str, Any]] = field(default_factory=list)
    changes: list[tuple[int, Step, dict[str, Any]]] = field(default_factory=list)

    def insert(self, certificate_id: int, step: Step, status: StepStatus) -> None:
        self.inserts.append({"certificate_id": certificate_id, "step": step.value, "status": status,
                             "started_at": None, "ended_at": None, "attempts": 0, "error": "", "detail": ""})

    def change(self, certificate_id: int, step: Step, **values: Any) -> None:
        self.changes.append((certificate_id, step, values))

    def flush(self, session: Session) -> None:
        if self.inserts:
            session.execute(insert(IssuanceStep), self.inserts)
        merged: dict[tuple[int, Step], dict[str, Any]] = {}
        for cid, step, values in self.changes:  # later changes of the same row win, column by column
            merged.setdefault((cid, step), {}).update(values)
        groups: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
        for (cid, step), values in merged.items():
            cols = tuple(sorted(values))
            groups[cols].append({"b_cid": cid, "b_step": step.value, **{f"b_{k}": v for k, v in values.items()}})
        for cols, params in groups.items():
            stmt = (update(T).where(T.c.certificate_id == bindparam("b_cid"), T.c.step == bindparam("b_step"))
                    .values({c: bindparam(f"b_{c}", type_=T.c[c].type) for c in cols}))
            session.connection().execute(stmt, params)
        self.inserts.clear()
        self.changes.clear()


@dataclass(frozen=True)
class StepView:
    """A step as the progress view and ``certledger issue status`` show it."""

    step: Step
    status: StepStatus
    started_at: datetime | None
    ended_at: datetime | None
    attempts: int
    error: str
    detail: str


def views(session: Session, certificate_id: int) -> dict[Step, StepView]:
    rows = session.execute(select(IssuanceStep).where(IssuanceStep.certificate_id == certificate_id)).scalars()
    return {Step(r.step): StepView(Step(r.step), r.status, r.started_at, r.ended_at, r.attempts, r.error, r.detail)
            for r in rows}


def planned(statuses: Mapping[Step, StepStatus]) -> dict[Step, StepView]:
    """Views of a certificate whose issuance has not started: nothing ran yet."""
    return {s: StepView(s, st, None, None, 0, "", "") for s, st in statuses.items()}
