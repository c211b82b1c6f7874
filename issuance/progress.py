"""The review queue of 审核 and the live progress of issuance (签发流程) as the web pages show them.

Three things the web app needs and the pipeline does not give directly:

* ``review_queue``: the department's certificates waiting for a reviewer (entry review:
  submitted; issuance review: approved) or in issuance (issuing), filtered, sorted and paged on
  the server.
* ``of``: the steps of some certificates, in flow order, with the labels of the seed (anchoring
  is 本地存储 when the blockchain is not enabled), after the department check of
  ``certificates.get_many``.
* ``Background``: the pipeline started from a request must not hold the request for the seconds
  a layout, a signature and an anchor take, so it runs in a thread of the web process; the
  registry remembers which certificates are being run so a second click does not start a second
  run of the same certificate (the pipeline itself is safe against that, but it would be wasted
  work and a confusing page).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable, Sequence

from sqlalchemy import select

from . import certificates
from .context import Actor
from .errors import IllegalTransition, ValidationError
from .listing import Page, like, paginate
from .models import Certificate, CertificateStatus, RoleCode
from .models.pipeline import StepStatus
from .pipeline.steps import label
from .unit_of_work import UnitOfWork

log = logging.getLogger("certledger.issuance.progress")
S = CertificateStatus

# what each stage of the queue holds
STAGES: dict[str, tuple[S, ...]] = {
    "entry": (S.SUBMITTED,),
    "issuance": (S.APPROVED,),
    "issuing": (S.ISSUING,),
}
QUEUE_STATES: tuple[S, ...] = (S.SUBMITTED, S.APPROVED, S.ISSUING)
MAX_BATCH = 200  # certificates one click may start; a larger batch belongs to `certledger issue`


def _reviewer(actor: Actor) -> None:
    actor.require(RoleCode.REVIEWER, RoleCode.DEPT_ADMIN)


def review_queue(uow: UnitOfWork, actor: Actor, text: str = "", stage: str = "", type_id: int | None = None,
                 page: int = 1, size: int = 20, sort: str = "-created_at") -> Page[Certificate]:
    """Certificates of the actor's department waiting in a review stage or in issuance.

    An admin sees every department of the tenant, as in ``certificates.search``.
    """
    _reviewer(actor)
    if stage and stage not in STAGES:
        raise ValidationError({"stage": "unknown review stage"})
    stmt = select(Certificate).where(Certificate.tenant_id == actor.tenant_id,
                                     Certificate.status.in_(STAGES[stage] if stage else QUEUE_STATES))
    if not actor.is_admin:
        stmt = stmt.where(Certificate.department_id == actor.department_id)
    if text:
        pat = like(text)
        stmt = stmt.where(Certificate.holder.like(pat, escape="\\") | Certificate.number.like(pat, escape="\\")
                          | Certificate.identifier.like(pat, escape="\\")
                          | Certificate.type_name.like(pat, escape="\\"))
    if type_id:
        stmt = stmt.where(Certificate.type_id == type_id)
    return paginate(uow.session, stmt, page, size, sort, {
        "created_at": Certificate.created_at, "holder": Certificate.holder, "number": Certificate.number,
        "type_name": Certificate.type_name, "status": Certificate.status})


# --- progress ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class StepRow:
    step: str
    label: str
    status: str
    error: str
    detail: str
    started_at: datetime | None
    ended_at: datetime | None

    def as_dict(self) -> dict:
        return {"step": self.step, "label": self.label, "status": self.status, "error": self.error,
                "detail": self.detail,
                "started_at": self.started_at.isoformat() if self.started_at else None,
                "ended_at": self.ended_at.isoformat() if self.ended_at else None}


@dataclass(frozen=True)
class CertificateProgress:
    id: int
    identifier: str
    holder: str
    type_name: str
    status: str
    steps: list[StepRow] = field(default_factory=list)

    @property
    def failed(self) -> StepRow | None:
        return next((s for s in self.steps if s.status == StepStatus.FAILED.value), None)

    @property
    def started(self) -> bool:
        return any(s.status not in (StepStatus.PENDING.value, StepStatus.SKIPPED.value) for s in self.steps)

    def as_dict(self) -> dict:
        return {"id": self.id, "identifier": self.identifier, "holder": self.holder, "type_name": self.type_name,
                "status": self.status, "failed": self.failed.step if self.failed else None,
                "steps": [s.as_dict() for s in self.steps]}


def of(uow: UnitOfWork, actor: Actor, cert_ids: Sequence[int], blockchain_enabled: bool,
       language: str = "zh_CN") -> list[CertificateProgress]:
    """The issuance steps of ``cert_ids`` (visible to the actor), in flow order."""
    from .pipeline.runner import progress as step_views

    _reviewer(actor)
    out = []
    for c in certificates.get_many(uow, actor, cert_ids):
        rows = [StepRow(v.step.value, label(v.step, blockchain_enabled, language), v.status.value, v.error or "",
                        v.detail or "", v.started_at, v.ended_at) for v in step_views(uow.session, c)]
        out.append(CertificateProgress(c.id, c.identifier, c.holder, c.type_name, c.status.value, rows))
    return out


def check_startable(uow: UnitOfWork, actor: Actor, cert_ids: Sequence[int]) -> list[Certificate]:
    """The certificates a reviewer may run now: visible, in status issuing (after 发起签发)."""
    _reviewer(actor)
    ids = list(dict.fromkeys(cert_ids))
    if not ids:
        raise ValidationError({"ids": "no certificate chosen"})
    if len(ids) > MAX_BATCH:
        raise ValidationError({"ids": f"at most {MAX_BATCH} certificates at once"})
    certs = certificates.get_many(uow, actor, ids)
    for c in certs:
        if c.status is not S.ISSUING:
            raise IllegalTransition("certificate", c.identifier, c.status.value, "issued",
                                    "issuance starts after 发起签发 (status issuing)")
    return certs


# --- running in the background ----------------------------------------------------------------------

class Background:
    """Pipeline runs in daemon threads of this process, one per started batch.

    ``run`` is the work (normally ``lambda ids: runner.issue(platform, ids, actor=..., workers=0)``).
    Certificates already in a run are left out of a new one; ``running`` answers the progress
    page's "is something still happening" so it can stop polling.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._busy: set[int] = set()
        self._threads: list[threading.Thread] = []
        self.errors: dict[int, str] = {}  # certificate id -> why its last run broke off (not a step failure)
        self.runs = 0                      # runs started by this process

    def running(self, cert_ids: Sequence[int]) -> bool:
        with self._lock:
            return any(i in self._busy for i in cert_ids)

    def start(self, cert_ids: Sequence[int], run: Callable[[list[int]], object]) -> list[int]:
        """Start ``run`` on the ids not already running; returns those started (maybe none)."""
        with self._lock:
            todo = [i for i in dict.fromkeys(cert_ids) if i not in self._busy]
            if not todo:
                return []
            self._busy.update(todo)
            for i in todo:
                self.errors.pop(i, None)
            self._threads = [t for t in self._threads if t.is_alive()]
            thread = threading.Thread(target=self._run, args=(todo, run), name="issuance-web", daemon=True)
            self._threads.append(thread)
            self.runs += 1
        thread.start()
        return todo

    def _run(self, ids: list[int], run: Callable[[list[int]], object]) -> None:
        try:
            run(ids)
        except Exception as exc:  # noqa: BLE001 - a broken run is shown on the page, the process goes on
            log.exception("issuance of %d certificate(s) broke off", len(ids))
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
            with self._lock:
                for i in ids:
                    self.errors[i] = first
        finally:
            with self._lock:
                self._busy.difference_update(ids)

    def join(self, timeout: float = 60.0) -> bool:
        """Wait for every run (tests, shutdown); whether all ended."""
        with self._lock:
            threads = list(self._threads)
        for t in threads:
            t.join(timeout)
        return not any(t.is_alive() for t in threads)
