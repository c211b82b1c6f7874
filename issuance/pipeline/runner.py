"""Running the issuance pipeline over many certificates: chunked, parallel, crash-safe.

Certificates are taken in chunks (500 by default). Each chunk goes through five phases, each
ending in a commit, so a crash at any point leaves a state the next run continues from:

1. **prepare** (one transaction): step records created (document steps skipped for a type
   without surface design; a failed step of a retried certificate back to pending), the
   encryption step run (data authenticated and decrypted, moved to the active data key,
   canonicalised, SM3 and keccak256 digests; the keccak256 one kept on the certificate), the
   first document step marked running. Then the departments' signing identities (own commit).
2. **documents** (no transaction): layout, signature and seal of every certificate, in a
   process pool for big batches (``documents``); each sealed file is renamed into place whole.
3. **enqueue** (one transaction): the document outcomes recorded; every certificate whose steps
   before anchoring are finished gets its digest queued in the ledger outbox, unless an anchor
   of it is already queued (a certificate is never queued twice), and its anchor step running.
4. **anchor**: the outbox worker writes the chunk's digests as one Merkle batch per issuer and
   type; the outbox is crash-safe on its own (``sending`` items are completed from the ledger or
   sent again with the same root, which the ledger recognises), so nothing is anchored twice.
5. **effective** (one transaction): certificates whose anchor is done become effective; an
   anchor that could not be written fails the anchor step with the ledger's error.

``resume`` runs every certificate still in ``issuing`` that has not stopped at a failed step:
after a crash, each is either effective already or continues from its first unfinished step.
Failed certificates are retried by naming them again (``issue``), once their cause is fixed.

For tests, ``CERTLEDGER_TEST_CRASH_AFTER=<point>[:<n>]`` kills the process (SIGKILL) the n-th
time (default first) it reaches a point: ``encrypt``, ``documents``, ``enqueue``,
``ledger-write`` (the ledger has the batch, the outbox does not know yet), ``anchor``,
``effective``. Unset in production, it costs one dictionary lookup per phase.
"""

from __future__ import annotations

import json
import os
import signal
import time
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from certledger.db.base import utcnow
from ledger import Ledger, LedgerError
from ledger.interface import EventKind, LifecycleEvent

from .. import anchoring, audit, canonical, states
from ..context import Actor
from ..models import Certificate, CertificateStatus, CertificateType, Department, OutboxItem
from ..models.pipeline import IssuanceStep, StepStatus
from ..unit_of_work import UnitOfWork
from . import documents as docs
from . import records
from .steps import DOCUMENT_STEPS, FINISHED, ORDER, Step, initial_statuses, reconcile, remaining

S = CertificateStatus
SS = StepStatus
CHUNK_SIZE = 500
POOL_THRESHOLD = 64          # fewer certificates with documents than this: made in this process
PIECE_SIZE = 25              # certificates per pool task: small enough to spread, big enough to amortise
CRASH_ENV = "CERTLEDGER_TEST_CRASH_AFTER"
# imported once in the fork server, so each worker starts with them instead of importing them itself
PRELOAD = ["issuance.pipeline.documents", "issuance.canonical", "issuance.signing_identity", "ofd.design",
           "ofd.writer", "ofd.package", "seals.ofd_sign", "seals.seal", "seals.asn1", "certledger.crypto.x509",
           "certledger.crypto.signers", "zxingcpp", "PIL.Image"]
EFFECTIVE_REASON = "签发生效"
FIRST_REVIEW_REASON = "首次年审到期日 (first annual review due date, set at issuance)"


# --- environment and report ------------------------------------------------------------------

@dataclass
class PipelineEnv:
    """What the pipeline uses of a deployment; ``from_platform`` builds it from a Platform."""

    uow: Callable[[], UnitOfWork]
    session_factory: Callable[[], Session]
    ledger: Ledger
    ca: Any                       # certledger.crypto.ca.CertificateAuthority (the SM2 platform root)
    files_dir: Path               # DATA/files: stored images; sealed OFDs go to files_dir/certificates
    verify_base_url: str
    blockchain_enabled: bool

    @classmethod
    def from_platform(cls, platform) -> "PipelineEnv":
        st = platform.settings
        return cls(platform.uow, platform.session_factory, platform.ledger, platform.ca, st.data_dir / "files",
                   docs.verify_base_url(st.server), st.blockchain.enabled)

    @property
    def certificates_dir(self) -> Path:
        return docs.documents_dir(self.files_dir.parent)


@dataclass
class IssueReport:
    effective: list[str] = field(default_factory=list)
    failed: dict[str, tuple[Step, str]] = field(default_factory=dict)  # identifier -> (step, error)
    not_issuing: list[str] = field(default_factory=list)               # named, but not in status issuing
    ledger_error: str = ""
    seconds: float = 0.0
    document_processes: set[int] = field(default_factory=set)  # pids that made layout files and seals

    @property
    def ok(self) -> bool:
        return not self.failed and not self.not_issuing


# --- crash points (tests only) ---------------------------------------------------------------

_reached: dict[str, int] = {}


def crash_point(name: str) -> None:
    """SIGKILL this process at ``name`` when CERTLEDGER_TEST_CRASH_AFTER asks for it (tests)."""
    wanted = os.environ.get(CRASH_ENV)
    if not wanted:
        return
    point, _, nth = wanted.partition(":")
    if point != name:
        return
    _reached[name] = _reached.get(name, 0) + 1
    if _reached[name] == int(nth or 1):
        os.kill(os.getpid(), signal.SIGKILL)


class _CrashAfterLedgerWrite:
    """The ledger, dying right after a batch is written (before the outbox records it)."""

    def __init__(self, ledger: Ledger) -> None:
        self._ledger = ledger

    def __getattr__(self, name: str):
        return getattr(self._ledger, name)

    def anchor_batch(self, *args, **kwargs):
        receipt = self._ledger.anchor_batch(*args, **kwargs)
        crash_point("ledger-write")
        return receipt


def _drain_ledger(ledger: Ledger) -> Ledger:
    return _CrashAfterLedgerWrite(ledger) if os.environ.get(CRASH_ENV, "").startswith("ledger-write") else ledger


# --- per-certificate state between phases ----------------------------------------------------

@dataclass
class _Cert:
    id: int
    identifier: str
    tenant_id: int
    department_id: int
    type_id: int
    issuer: str
    type_code: str
    supersedes: bool
    digest: str
    steps: dict[Step, records.StepState]
    job: docs.DocumentJob | None = None
    directly_anchored: str = ""   # the ledger already held this certificate (detail of where)

    def status(self, step: Step) -> StepStatus:
        return self.steps[step].status

    @property
    def stopped(self) -> bool:
        return any(st.status is SS.FAILED for st in self.steps.values())


@dataclass
class _Chunk:
    certs: list[_Cert]
    tasks: list[docs.DocumentTask] = field(default_factory=list)


def _key_id(token: str) -> int | None:
    try:
        return int(token.split(":", 2)[1])
    except (IndexError, ValueError):
        return None


def _image_format(data: bytes) -> str:
    return "png" if data.startswith(b"\x89PNG") else "jpeg"


def stored_images(design: dict | None, files_dir: Path) -> dict[str, tuple[bytes, str]]:
    """The images a design refers to (``file:<sha256>``), read from DATA/files/<sha256>."""
    refs: set[str] = set()
    if design:
        if design.get("background"):
            refs.add(design["background"])
        refs.update(e.get("ref") for e in design.get("elements", []) if isinstance(e, dict) and e.get("kind") == "image")
    out = {}
    for ref in sorted(r for r in refs if isinstance(r, str) and r.startswith("file:")):
        path = files_dir / ref.removeprefix("file:")
        if path.is_file():
            data = path.read_bytes()
            out[ref] = (data, _image_format(data))
    return out


# --- the run ---------------------------------------------------------------------------------

class _Run:
    def __init__(self, env: PipelineEnv, actor: Actor | None, pool: "_Pool | None", chunk_size: int) -> None:
        self.env, self.actor, self.pool, self.chunk_size = env, actor, pool, chunk_size
        self.report = IssueReport()

    # phase 1 -------------------------------------------------------------------------------
    def prepare(self, ids: Sequence[int]) -> _Chunk:
        env = self.env
        with env.uow() as uow:
            s = uow.session
            found = s.execute(select(Certificate).where(Certificate.id.in_(ids)).order_by(Certificate.id)).scalars().all()
            known = {c.id for c in found}
            self.report.not_issuing += [f"#{i}" for i in ids if i not in known]
            certs = []
            for c in found:
                if c.status is S.ISSUING:
                    certs.append(c)
                else:
                    self.report.not_issuing.append(c.identifier)
            types = {t.id: t for t in s.execute(select(CertificateType).where(
                CertificateType.id.in_({c.type_id for c in certs}))).scalars()}
            designs = {tid: t.surface_design or None for tid, t in types.items()}  # plain data, kept past the session
            recorded = records.load(s, [c.id for c in certs])
            writes = records.Writes()
            chunk = _Chunk([])
            cipher = uow.cipher if certs else None
            for c in certs:
                has_design = designs[c.type_id] is not None
                steps = recorded.get(c.id)
                if steps is None:
                    steps = {st: records.StepState(v) for st, v in initial_statuses(has_design).items()}
                    for st, state in steps.items():
                        writes.insert(c.id, st, state.status)
                else:
                    for st, new in reconcile({k: v.status for k, v in steps.items()}, has_design).items():
                        steps[st].status = new
                        writes.change(c.id, st, status=new)
                    for st, state in steps.items():
                        if state.status in (SS.FAILED, SS.RUNNING):  # a retry, or what a crash interrupted
                            state.status = SS.PENDING
                            writes.change(c.id, st, status=SS.PENDING)
                item = _Cert(c.id, c.identifier, c.tenant_id, c.department_id, c.type_id, c.issue_dept_code,
                             c.type_code, c.supersedes_id is not None, c.digest, steps)
                chunk.certs.append(item)
                todo = remaining({k: v.status for k, v in steps.items()})
                if Step.ENCRYPT in todo or any(st in DOCUMENT_STEPS for st in todo):
                    self._encrypt(c, item, cipher, writes, types[c.type_id])
            writes.flush(s)
            uow.commit()
        crash_point("encrypt")
        chunk.tasks = self._tasks(chunk, designs)
        return chunk

    def _encrypt(self, c: Certificate, item: _Cert, cipher, writes: records.Writes, ctype: CertificateType) -> None:
        """证照加密, and the document job of the certificate when its document steps remain."""
        start = utcnow()
        try:
            ident = c.identifier
            values = json.loads(cipher.decrypt(c.data_enc, f"data:{ident}"))
            holder_code = cipher.decrypt(c.holder_code_enc, f"holder:{ident}").decode()
            data = canonical.canonical_bytes(canonical.basic_of(c, holder_code), values)
        except Exception as exc:  # noqa: BLE001 - undecryptable or malformed data stops the certificate here
            if item.status(Step.ENCRYPT) is not SS.DONE:
                self._fail(writes, item, Step.ENCRYPT, start, f"the certificate data cannot be read: {exc}")
            else:
                self._fail(writes, item, Step.LAYOUT, start, f"the certificate data cannot be read: {exc}")
            return
        if item.status(Step.ENCRYPT) is not SS.DONE:
            if _key_id(c.data_enc) != cipher.active_key_id:  # re-encrypt under the active data key
                c.data_enc = cipher.encrypt(json.dumps(values, ensure_ascii=False, sort_keys=True).encode(), f"data:{ident}")
            if _key_id(c.holder_code_enc) != cipher.active_key_id:
                c.holder_code_enc = cipher.encrypt(holder_code.encode(), f"holder:{ident}")
            c.digest = item.digest = canonical.ledger_digest(data).hex()
            self._done(writes, item, Step.ENCRYPT, start, f"sm3:{canonical.sm3_digest(data).hex()}")
        if any(item.status(st) not in FINISHED for st in DOCUMENT_STEPS):
            item.job = docs.document_job(c, ctype.name, values, holder_code, data, self.env.verify_base_url)
            first = next(st for st in ORDER if st in DOCUMENT_STEPS and item.status(st) not in FINISHED)
            item.steps[first].status = SS.RUNNING
            writes.change(item.id, first, status=SS.RUNNING, started_at=utcnow(), ended_at=None)

    def _tasks(self, chunk: _Chunk, designs: dict[int, dict | None]) -> list[docs.DocumentTask]:
        """One document task per (type, department), with the department's signing material."""
        from ..signing_identity import (SigningIdentityError, design_seal_id, signing_material,
                                        signing_material_for_seal)

        groups: dict[tuple[int, int], list[_Cert]] = {}
        for c in chunk.certs:
            if c.job is not None:
                groups.setdefault((c.type_id, c.department_id), []).append(c)
        if not groups:
            return []
        # (department, seal the type's design picked or None for the automatic identity)
        wanted = sorted({(d, design_seal_id(designs[t])) for t, d in groups}, key=lambda k: (k[0], k[1] or 0))
        materials, errors = {}, {}
        with self.env.uow() as uow:
            for dept_id, seal_id in wanted:
                try:
                    materials[dept_id, seal_id] = (signing_material(uow, self.env.ca, dept_id) if seal_id is None
                                                   else signing_material_for_seal(uow, dept_id, seal_id))
                except SigningIdentityError as exc:
                    errors[dept_id, seal_id] = str(exc)
            uow.commit()
        root = self.env.ca.certificate_der
        out = str(self.env.certificates_dir)
        tasks = []
        for (type_id, dept_id), certs in groups.items():
            design = designs[type_id]
            key = (dept_id, design_seal_id(design))
            tasks.append(docs.DocumentTask(design, stored_images(design, self.env.files_dir), materials.get(key),
                                           errors.get(key, ""), root, out, tuple(c.job for c in certs)))
        return tasks

    # phase 2 -------------------------------------------------------------------------------
    def submit(self, chunk: _Chunk) -> list[Future] | list[docs.DocumentResult]:
        jobs = sum(len(t.jobs) for t in chunk.tasks)
        if self.pool is None or jobs < POOL_THRESHOLD:
            return docs.run_tasks(chunk.tasks)
        pieces = [p for t in chunk.tasks for p in docs.split(t, PIECE_SIZE)]
        return [self.pool.submit(docs.make_documents, p) for p in pieces]

    @staticmethod
    def gather(submitted) -> list[docs.DocumentResult]:
        return [r for f in submitted for r in (f.result() if isinstance(f, Future) else [f])]

    # phase 3 -------------------------------------------------------------------------------
    def enqueue(self, chunk: _Chunk, results: list[docs.DocumentResult]) -> None:
        crash_point("documents")
        by_id = {c.id: c for c in chunk.certs}
        writes = records.Writes()
        for r in results:
            self.report.document_processes.add(r.pid)
            c = by_id[r.certificate_id]
            for o in r.outcomes:
                state = c.steps[o.step]
                state.attempts += 1
                state.status = SS.DONE if o.ok else SS.FAILED
                writes.change(c.id, o.step, status=state.status, started_at=o.started_at, ended_at=o.ended_at,
                              attempts=state.attempts, error=o.error, detail=o.detail)
        ready = [c for c in chunk.certs if not c.stopped
                 and all(c.status(st) in FINISHED for st in ORDER[:ORDER.index(Step.ANCHOR)])
                 and c.status(Step.ANCHOR) not in FINISHED]
        self._ensure_issuers(ready)
        with self.env.uow() as uow:
            s = uow.session
            if ready:  # row locks: two runners never both queue the same certificate (PostgreSQL)
                s.execute(select(Certificate.id).where(Certificate.id.in_([c.id for c in ready])).with_for_update()).all()
            queued = {i.certificate_id: i for i in s.execute(select(OutboxItem).where(
                OutboxItem.kind == "anchor", OutboxItem.certificate_id.in_([c.identifier for c in ready]))).scalars()}
            now = utcnow()
            for c in ready:
                item = queued.get(c.identifier)
                if item is None:
                    on_ledger = self._already_on_ledger(c)
                    if on_ledger is None:
                        anchoring.enqueue_anchor(s, c.identifier, c.issuer, c.type_code, bytes.fromhex(c.digest))
                    elif on_ledger.digest.hex() == c.digest:
                        c.directly_anchored = f"already on the ledger at {on_ledger.issued_block}"
                    else:
                        self._fail(writes, c, Step.ANCHOR, now, "the ledger holds another digest for this identifier")
                        continue
                elif item.state == "failed":  # given up by the outbox worker: a retry sends it again
                    item.state, item.attempts = "pending", 0
                c.steps[Step.ANCHOR].status = SS.RUNNING
                writes.change(c.id, Step.ANCHOR, status=SS.RUNNING, started_at=now, ended_at=None, error="")
            writes.flush(s)
            uow.commit()
        crash_point("enqueue")

    def _ensure_issuers(self, ready: Iterable[_Cert]) -> None:
        """Register each department as issuer of its types on the ledger the first time it issues.

        The type passed its review by an admin, which is what the registry records. A suspended
        issuer is left suspended (registering would re-activate it): its anchors are refused.
        """
        wanted: dict[str, set[str]] = {}
        depts: dict[str, int] = {}
        for c in ready:
            wanted.setdefault(c.issuer, set()).add(c.type_code)
            depts[c.issuer] = c.department_id
        if not wanted:
            return
        names = {}
        with self.env.session_factory() as s:
            for d in s.execute(select(Department).where(Department.id.in_(set(depts.values())))).scalars():
                names[d.code] = d.name
        for issuer, codes in wanted.items():
            try:
                info = self.env.ledger.issuer_info(issuer)
                if info is None or (info.active and not codes <= info.type_codes):
                    have = info.type_codes if info else frozenset()
                    self.env.ledger.register_issuer(issuer, names.get(issuer, issuer), sorted(codes | have))
            except LedgerError as exc:
                self.report.ledger_error = str(exc)  # the anchors wait in the outbox and fail below

    def _already_on_ledger(self, c: _Cert):
        try:
            return self.env.ledger.status(c.identifier)
        except LedgerError:
            return None

    # phase 4 -------------------------------------------------------------------------------
    def anchor(self, chunk: _Chunk) -> anchoring.DrainReport | None:
        if not any(c.status(Step.ANCHOR) is SS.RUNNING and not c.directly_anchored for c in chunk.certs):
            return None
        worker = anchoring.Worker(self.env.session_factory, _drain_ledger(self.env.ledger),
                                  max_batch=max(self.chunk_size, 1000))
        report = worker.drain()
        if report.error:
            self.report.ledger_error = report.error
        crash_point("anchor")
        return report

    # phase 5 -------------------------------------------------------------------------------
    def finish(self, chunk: _Chunk, drain: anchoring.DrainReport | None) -> None:
        todo = [c for c in chunk.certs if not c.stopped and c.status(Step.EFFECTIVE) not in FINISHED
                and c.status(Step.ANCHOR) in (SS.RUNNING, SS.DONE)]
        events_queued = False
        with self.env.uow() as uow:
            s = uow.session
            writes = records.Writes()
            rows = {c.id: c for c in s.execute(select(Certificate).where(
                Certificate.id.in_([c.id for c in todo])).with_for_update()).scalars()} if todo else {}
            items = {i.certificate_id: i for i in s.execute(select(OutboxItem).where(
                OutboxItem.kind == "anchor", OutboxItem.certificate_id.in_([c.identifier for c in todo]))
                .order_by(OutboxItem.id)).scalars()} if todo else {}
            now = utcnow()
            done: dict[int, list[str]] = {}
            for c in todo:
                if c.status(Step.ANCHOR) is SS.RUNNING:
                    item = items.get(c.identifier)
                    if c.directly_anchored:
                        detail = c.directly_anchored
                    elif item is not None and item.state == "done":
                        detail = f"{item.ref} block {item.block} root {item.batch_root[:16]}"
                    else:
                        why = (item.last_error if item is not None else "") or (drain.error if drain else "") \
                            or "the anchor is still waiting in the ledger outbox"
                        self._fail(writes, c, Step.ANCHOR, None, f"not anchored: {why}")
                        continue
                    c.steps[Step.ANCHOR].attempts += 1
                    c.steps[Step.ANCHOR].status = SS.DONE
                    writes.change(c.id, Step.ANCHOR, status=SS.DONE, ended_at=now,
                                  attempts=c.steps[Step.ANCHOR].attempts, error="", detail=detail[:255])
                cert = rows[c.id]
                start = utcnow()
                if cert.status is not S.ISSUING:  # moved out of issuance meanwhile: not made effective
                    self._fail(writes, c, Step.EFFECTIVE, start, f"the certificate is {cert.status.value}, not issuing")
                    continue
                states.advance("certificate", cert, S.EFFECTIVE)
                cert.issued_at = cert.status_change_time = now
                cert.status_change_reason = EFFECTIVE_REASON
                if cert.annual_review and cert.next_review_due is not None:
                    # the ledger learns the first due date now, so a verifier sees an overdue
                    # certificate as such even if it was never reviewed
                    anchoring.enqueue_event(s, LifecycleEvent(cert.identifier, EventKind.ANNUAL_REVIEW, c.issuer,
                                                              self._actor(c.tenant_id).username, FIRST_REVIEW_REASON,
                                                              next_review_due=cert.next_review_due))
                    events_queued = True
                if c.supersedes:
                    from ..lifecycle import complete_change

                    complete_change(uow, self._actor(c.tenant_id), cert)
                    events_queued = True
                self._done(writes, c, Step.EFFECTIVE, start, "")
                done.setdefault(c.tenant_id, []).append(c.identifier)
            writes.flush(s)
            for tenant_id, idents in done.items():
                audit.record(s, self._actor(tenant_id), "certificate.issue", "certificate", None,
                             count=len(idents), first=idents[0], last=idents[-1])
            uow.commit()
        for idents in done.values():
            self.report.effective += idents
        for c in chunk.certs:
            failed = next((st for st in ORDER if c.status(st) is SS.FAILED), None)
            if failed is not None:
                self.report.failed[c.identifier] = (failed, "")
        if events_queued:  # first review due dates, and CHANGE events of superseded versions, follow the anchors
            anchoring.Worker(self.env.session_factory, self.env.ledger).drain()
        crash_point("effective")

    # helpers -------------------------------------------------------------------------------
    def _actor(self, tenant_id: int) -> Actor:
        if self.actor is not None:
            return self.actor
        return Actor(user_id=None, username="issuance-pipeline", tenant_id=tenant_id, department_id=None, is_admin=True)

    def _done(self, writes: records.Writes, c: _Cert, step: Step, start, detail: str) -> None:
        state = c.steps[step]
        state.status, state.attempts = SS.DONE, state.attempts + 1
        writes.change(c.id, step, status=SS.DONE, started_at=start, ended_at=utcnow(), attempts=state.attempts,
                      error="", detail=detail[:255])

    def _fail(self, writes: records.Writes, c: _Cert, step: Step, start, error: str) -> None:
        state = c.steps[step]
        state.status, state.attempts = SS.FAILED, state.attempts + 1
        values = {"status": SS.FAILED, "ended_at": utcnow(), "attempts": state.attempts, "error": error[:2000]}
        if start is not None:
            values["started_at"] = start
        writes.change(c.id, step, **values)


def _errors(env: PipelineEnv, report: IssueReport) -> None:
    """The error text of each failed certificate, read back from its records."""
    if not report.failed:
        return
    with env.session_factory() as s:
        rows = s.execute(select(Certificate.identifier, IssuanceStep.step, IssuanceStep.error)
                         .join(IssuanceStep, IssuanceStep.certificate_id == Certificate.id)
                         .where(Certificate.identifier.in_(list(report.failed)), IssuanceStep.status == SS.FAILED)).all()
    for ident, step, error in rows:
        if report.failed[ident][0] is Step(step):
            report.failed[ident] = (Step(step), error)


class _Pool:
    """Worker processes for the documents of a big batch, tied to this process's life.

    ``forkserver``: workers start from a clean server process, not from a copy of this one with
    its open database connections, ledger handle and threads. Each worker holds the read end of
    a pipe whose write end only this process has: if this process dies, the workers leave.
    """

    def __init__(self, workers: int) -> None:
        import multiprocessing

        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(PRELOAD)
        self._lifeline, keep = ctx.Pipe(duplex=False)
        self._keep = keep
        self.executor = ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=docs.watch_runner,
                                            initargs=(self._lifeline,))

    def submit(self, fn, *args) -> Future:
        return self.executor.submit(fn, *args)

    def close(self) -> None:
        self.executor.shutdown(wait=True, cancel_futures=True)
        self._keep.close()
        self._lifeline.close()


def _pool(workers: int | None, count: int) -> _Pool | None:
    """A pool for a batch of ``count``; none for a small batch or workers=0."""
    n = workers if workers is not None else (os.cpu_count() or 1)
    if n <= 0 or count < POOL_THRESHOLD:
        return None
    return _Pool(n)


def issue_with(env: PipelineEnv, certificate_ids: Iterable[int], *, actor: Actor | None = None,
               chunk_size: int = CHUNK_SIZE, workers: int | None = None) -> IssueReport:
    """Issue ``certificate_ids`` (status issuing) through every step; see the module docstring.

    While the workers make the documents of one chunk, this process prepares the next and
    records and anchors the previous one.
    """
    started = time.perf_counter()
    ids = list(dict.fromkeys(certificate_ids))
    chunks = [ids[i:i + chunk_size] for i in range(0, len(ids), chunk_size)]
    pool = _pool(workers, len(ids))
    run = _Run(env, actor, pool, chunk_size)
    try:
        if chunks:
            current = run.prepare(chunks[0])
            submitted = run.submit(current)
            for i in range(len(chunks)):
                following = run.prepare(chunks[i + 1]) if i + 1 < len(chunks) else None
                results = run.gather(submitted)
                if following is not None:
                    submitted = run.submit(following)
                run.enqueue(current, results)
                drain = run.anchor(current)
                run.finish(current, drain)
                current = following
    finally:
        if pool is not None:
            pool.close()
    _errors(env, run.report)
    run.report.seconds = time.perf_counter() - started
    return run.report


def issue(platform, certificate_ids: Iterable[int], *, actor: Actor | None = None, chunk_size: int = CHUNK_SIZE,
          workers: int | None = None) -> IssueReport:
    """Issue certificates of a Platform (see ``issue_with``)."""
    return issue_with(PipelineEnv.from_platform(platform), certificate_ids, actor=actor, chunk_size=chunk_size,
                      workers=workers)


def issuing_ids(session: Session, *, type_id: int | None = None, include_failed: bool = True) -> list[int]:
    """Certificates waiting in status issuing, oldest first; without those stopped at a failed step."""
    stmt = select(Certificate.id).where(Certificate.status == S.ISSUING)
    if type_id is not None:
        stmt = stmt.where(Certificate.type_id == type_id)
    if not include_failed:
        failed = select(IssuanceStep.certificate_id).where(IssuanceStep.status == SS.FAILED)
        stmt = stmt.where(Certificate.id.not_in(failed))
    return list(session.execute(stmt.order_by(Certificate.id)).scalars())


def resume(platform, **kwargs) -> IssueReport:
    """Carry on every certificate in issuing that is not stopped at a failed step (after a crash).

    Ledger writes a crash left waiting in the outbox (events queued with an effective status) go first.
    """
    env = PipelineEnv.from_platform(platform)
    anchoring.Worker(env.session_factory, env.ledger).drain()
    with env.session_factory() as s:
        ids = issuing_ids(s, include_failed=False)
    return issue_with(env, ids, **kwargs)


def progress(session: Session, certificate: Certificate) -> list[records.StepView]:
    """The steps of ``certificate`` in flow order, as recorded (or as planned before issuance)."""
    seen = records.views(session, certificate.id)
    if not seen:
        ctype = session.get(CertificateType, certificate.type_id)
        seen = records.planned(initial_statuses(ctype is not None and bool(ctype.surface_design)))
    return [seen[s] for s in ORDER if s in seen]


def counts(session: Session) -> dict[str, int]:
    """How many step records are in each status (for a dashboard or a health check)."""
    rows = session.execute(select(IssuanceStep.status, func.count()).group_by(IssuanceStep.status)).all()
    return {st.value: n for st, n in rows}
