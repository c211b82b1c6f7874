"""One approval engine for every reviewed step: onboarding, type, catalog, entry, issuance.

A workflow is a list of steps. An item waiting in a step's ``pending`` state can be approved
(it moves to ``approved``) or rejected with a reason (it goes back to the previous step's state).
Every decision is kept in ``approval_records`` so the full history of an item can be shown.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from . import audit, states
from .context import Actor
from .errors import IllegalTransition, PermissionDenied, ValidationError
from .models import ApprovalRecord, RoleCode

Decider = Callable[[Actor, object], None]


def _admin(actor: Actor, _item: object) -> None:
    actor.require_admin()


def _department_reviewer(actor: Actor, item: object) -> None:
    actor.require(RoleCode.REVIEWER, RoleCode.DEPT_ADMIN)
    if not actor.can_see_department(getattr(item, "department_id")):
        raise PermissionDenied("items of another department cannot be reviewed")


@dataclass(frozen=True)
class Step:
    name: str
    pending: str
    approved: str
    rejected: str
    decider: Decider


@dataclass(frozen=True)
class Workflow:
    kind: str
    steps: tuple[Step, ...]
    submit_to: str = "submitted"

    def step_pending_in(self, state: str) -> Step | None:
        return next((s for s in self.steps if s.pending == state), None)


DEPARTMENT_ONBOARDING = Workflow("department", (Step("onboarding", "submitted", "approved", "rejected", _admin),))
TYPE_REVIEW = Workflow("certificate_type", (Step("type_review", "submitted", "approved", "draft", _admin),))
CATALOG_REVIEW = Workflow("catalog", (Step("catalog_review", "submitted", "approved", "rejected", _admin),))
CERTIFICATE = Workflow("certificate", (
    Step("entry_review", "submitted", "approved", "draft", _department_reviewer),
    Step("issuance_review", "approved", "issuing", "submitted", _department_reviewer),
))


def _state(item) -> str:
    return item.status.value if hasattr(item.status, "value") else str(item.status)


def _log(session: Session, actor: Actor, wf: Workflow, changes: Sequence[tuple[object, str, str]], step: str,
         action: str, reason: str = "") -> list[ApprovalRecord]:
    """Approval records and audit entries of ``changes`` (item, state before, state after)."""
    recs = [ApprovalRecord(subject_kind=wf.kind, subject_id=item.id, step=step, action=action,
                           from_state=before, to_state=after, reason=reason, actor_id=actor.user_id)
            for item, before, after in changes]
    session.add_all(recs)
    audit.record_many(session, actor, [(f"{wf.kind}.{action}", wf.kind, item.id,
                                        {"step": step, "from_state": before, "to_state": after, "reason": reason})
                                       for item, before, after in changes])
    return recs


def submit(session: Session, actor: Actor, wf: Workflow, item) -> ApprovalRecord:
    """Send an item to the first review step of its workflow."""
    return submit_many(session, actor, wf, [item])[0]


def submit_many(session: Session, actor: Actor, wf: Workflow, items: Sequence) -> list[ApprovalRecord]:
    """Send items to the first review step; all of them or, on the first refusal, none."""
    changes = []
    for item in items:
        before = _state(item)
        states.advance(wf.kind, item, wf.submit_to)
        changes.append((item, before, _state(item)))
    session.flush()
    return _log(session, actor, wf, changes, wf.steps[0].name, "submit")


def decide(session: Session, actor: Actor, wf: Workflow, item, approve: bool, reason: str = "") -> ApprovalRecord:
    """Approve, or reject with a reason back to the previous step."""
    return decide_many(session, actor, wf, [item], approve, reason)[0]


def decide_many(session: Session, actor: Actor, wf: Workflow, items: Sequence, approve: bool,
                reason: str = "") -> list[ApprovalRecord]:
    """One decision on items waiting in the same step; every item is checked before any moves.

    A reviewer approving a batch decides each item as if one by one (same checks, same records),
    but the session is flushed once, which is what makes a batch of thousands take seconds.
    """
    befores = [_state(item) for item in items]
    steps = {wf.step_pending_in(b) for b in befores}
    for item, before in zip(items, befores):
        step = wf.step_pending_in(before)
        if step is None:
            ident = getattr(item, "identifier", None) or item.id
            raise IllegalTransition(wf.kind, ident, before, "approved" if approve else "rejected",
                                    "it is not waiting for a review")
        step.decider(actor, item)
    if not approve and not reason.strip():
        raise ValidationError({"reason": "a rejection needs a reason"})
    if len(steps) > 1:
        raise ValidationError({"items": "the items wait in different review steps; decide each step on its own"})
    [step] = steps or {wf.steps[0]}
    for item in items:
        states.advance(wf.kind, item, step.approved if approve else step.rejected)
    session.flush()
    return _log(session, actor, wf, [(item, b, _state(item)) for item, b in zip(items, befores)], step.name,
                "approve" if approve else "reject", reason.strip())


def history(session: Session, kind: str, subject_id: int) -> list[ApprovalRecord]:
    return list(session.execute(
        select(ApprovalRecord).where(ApprovalRecord.subject_kind == kind, ApprovalRecord.subject_id == subject_id)
        .order_by(ApprovalRecord.id)
    ).scalars())


def returned(session: Session, kind: str, subject_ids: Iterable[int]) -> set[int]:
    """Which of the subjects a reviewer sent back to draft (their latest decision is that rejection):
    a rejected type or entry is a draft again, and its list says 已驳回 rather than 草稿. (An
    issuance review's rejection returns to entry review, not to the clerk: not counted.)"""
    ids = list(subject_ids)
    if not ids:
        return set()
    latest = (select(ApprovalRecord.subject_id, func.max(ApprovalRecord.id).label("last"))
              .where(ApprovalRecord.subject_kind == kind, ApprovalRecord.subject_id.in_(ids),
                     ApprovalRecord.action != "withdraw")
              .group_by(ApprovalRecord.subject_id).subquery())
    return set(session.execute(select(ApprovalRecord.subject_id).join(latest, ApprovalRecord.id == latest.c.last)
                               .where(ApprovalRecord.action == "reject", ApprovalRecord.to_state == "draft"))
               .scalars())


# --- sharing (系统清单, 用证申请) ---------------------------------------------------------------

def _issuing_department_reviewer(actor: Actor, item: object) -> None:
    """A usage application is decided by the department that owns the catalog, not the applicant."""
    actor.require(RoleCode.REVIEWER, RoleCode.DEPT_ADMIN)
    if not actor.can_see_department(getattr(item, "issuer_department_id")):
        raise PermissionDenied("only the issuing department reviews applications to use its catalog")


CLIENT_SYSTEM = Workflow("client_system", (Step("client_system_review", "submitted", "approved", "rejected", _admin),))
USAGE = Workflow("usage", (Step("usage_review", "submitted", "approved", "rejected", _issuing_department_reviewer),))
