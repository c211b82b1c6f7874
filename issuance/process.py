"""The business process of one certificate (查看业务过程): every step with who did it and when.

Seed (user manual, 证照维护): the administrator opens the business-process view of a certificate.
No single table holds that story, so it is assembled here from the records each part of the
platform already keeps: the entry itself (the certificate row), the approval engine's decisions
(``approval.history``: submit, entry review, issuance review), the issuance pipeline's step rows
(``IssuanceStep``), the ledger outbox (the anchor and every lifecycle event, with its block and
transaction once written; pending ones too, so a step waiting for the ledger shows as waiting),
and the audit log (edits, loss, revocation, annual review, change, copies).

Everything is read from the database: the outbox keeps the ledger's receipt (ref, block) of
each item it wrote, so the view needs no ledger round trip and works while the ledger is down.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone

from sqlalchemy import select

from . import approval, certificates
from .context import Actor
from .models import AuditEntry, IssuanceStep, OutboxItem, RoleCode, User
from .unit_of_work import UnitOfWork

# audit actions already told by another source (approval records), left out to avoid doubles
_TOLD_ELSEWHERE = frozenset({"certificate.submit", "certificate.approve", "certificate.reject"})
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


@dataclass(frozen=True)
class ProcessStep:
    """One step of a certificate's business process.

    ``source`` is entry, approval, pipeline, ledger or audit; ``code`` names the step within it
    (``entry_review.approve``, ``pipeline.seal``, ``ledger.revoke``, ``certificate.report_loss``)
    so the page can label it in the reader's language; ``status`` is done, rejected, failed, pending,
    running or skipped.

    ``detail`` is the technical note the step's record keeps, as stored (English, for logs);
    ``detail_kind`` names what it is (``digest``, ``serial``, ``anchored``, ``already_anchored``,
    ``next_due``, ``supersedes``; "" when not recognised) and ``detail_params`` holds its parts,
    so the page can say it in the reader's language and keep hashes apart from words.
    """

    source: str
    code: str
    at: datetime | None
    actor: str = ""
    status: str = "done"
    reason: str = ""
    detail: str = ""
    ref: str = ""
    block: int | None = None
    extra: dict = field(default_factory=dict)
    detail_kind: str = ""
    detail_params: dict = field(default_factory=dict)


# the notes the pipeline writes (issuance/pipeline: runner.py, documents.py), by their shape
_DETAIL_SHAPES = (
    ("digest", re.compile(r"(?P<digest>sm3:[0-9a-f]+)")),
    ("serial", re.compile(r"certificate serial (?P<serial>[0-9a-fA-F]+)")),
    ("anchored", re.compile(r"(?P<ref>\S+) block (?P<block>\d+) root (?P<root>[0-9a-f]+)")),
    ("already_anchored", re.compile(r"already on the ledger at (?P<block>\d+)")),
)


def detail_parts(detail: str) -> tuple[str, dict]:
    """(kind, parts) of a pipeline step's stored note; ("", {}) for one of no known shape.

    The pipeline stores its notes as short English strings (they are logged and kept as they
    were written); reading them back here lets the page show them as words plus values.
    """
    for kind, shape in _DETAIL_SHAPES:
        m = shape.fullmatch(detail or "")
        if m:
            return kind, m.groupdict()
    return "", {}


def _names(uow: UnitOfWork, ids: set[int | None]) -> dict[int, str]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    rows = uow.session.execute(select(User.id, User.username).where(User.id.in_(wanted))).all()
    return {i: n for i, n in rows}


def process_of(uow: UnitOfWork, actor: Actor, certificate_id: int) -> list[ProcessStep]:
    """The certificate's steps in time order (steps not started yet last, in flow order).

    Department staff see their own department's certificates, admins every one (the same
    isolation as ``certificates.get``: another department's certificate is NotFound).
    """
    actor.require(RoleCode.CLERK, RoleCode.REVIEWER, RoleCode.DEPT_ADMIN)
    cert = certificates.get(uow, actor, certificate_id)
    s = uow.session
    decisions = approval.history(s, approval.CERTIFICATE.kind, cert.id)
    steps_rows = list(s.execute(select(IssuanceStep).where(IssuanceStep.certificate_id == cert.id)
                                .order_by(IssuanceStep.id)).scalars())
    outbox = list(s.execute(select(OutboxItem).where(OutboxItem.certificate_id == cert.identifier)
                            .order_by(OutboxItem.id)).scalars())
    audits = [a for a in s.execute(select(AuditEntry).where(
        AuditEntry.subject_kind == "certificate", AuditEntry.subject_id == cert.id,
        AuditEntry.tenant_id == cert.tenant_id).order_by(AuditEntry.id)).scalars()
        if a.action not in _TOLD_ELSEWHERE]
    names = _names(uow, {cert.created_by_id, *(d.actor_id for d in decisions)})

    out: list[ProcessStep] = [ProcessStep("entry", "entry", cert.created_at, names.get(cert.created_by_id, ""),
                                          detail=cert.identifier)]
    for d in decisions:
        out.append(ProcessStep("approval", f"{d.step}.{d.action}", d.created_at, names.get(d.actor_id, ""),
                               status="rejected" if d.action == "reject" else "done", reason=d.reason,
                               extra={"from": d.from_state, "to": d.to_state}))
    from .pipeline.steps import position

    for r in sorted(steps_rows, key=lambda r: position(r.step)):
        status = r.status.value
        kind, parts = detail_parts(r.detail or "")
        out.append(ProcessStep("pipeline", f"pipeline.{r.step}", r.ended_at or r.started_at, status=status,
                               reason=r.error, detail=r.detail, extra={"attempts": r.attempts},
                               detail_kind=kind, detail_params=parts))
    for o in outbox:
        out.append(ProcessStep("ledger", f"ledger.{'issue' if o.kind == 'anchor' else o.kind}",
                               o.done_at or o.created_at, (o.payload or {}).get("actor", ""),
                               status="done" if o.state == "done" else ("failed" if o.state == "failed" else "pending"),
                               reason=(o.payload or {}).get("reason") or o.last_error, ref=o.ref,
                               block=o.block or None))
    for a in audits:
        detail = json.loads(a.detail or "{}")
        kind, parts = "", {}
        if detail.get("next_due"):
            kind, parts = "next_due", {"date": str(detail["next_due"])}
        elif detail.get("supersedes"):
            kind, parts = "supersedes", {"identifier": str(detail["supersedes"])}
        out.append(ProcessStep("audit", a.action, a.at, a.actor_name, reason=str(detail.get("reason") or ""),
                               detail=str(detail.get("next_due") or detail.get("supersedes") or ""),
                               extra={k: detail[k] for k in ("from_state", "to_state") if k in detail},
                               detail_kind=kind, detail_params=parts))

    # time order; a step without a time (not started) keeps its flow position after the dated ones
    dated = [p for p in out if p.at is not None]
    undated = [p for p in out if p.at is None]
    dated.sort(key=lambda p: p.at or _EPOCH)  # stable: equal times keep the order of the sources
    return dated + undated
