"""Layout file, signature and seal of certificates: the work that runs in the process pool.

Everything here is pure computation on plain data handed over by the runner (no database, no
ledger), so it can run in worker processes, one task per department and type. Per certificate:

- layout (生成版式文件): the OFD face from the type's surface design, carrying the canonical data
  in its DocInfo (``canonical.DOCUMENT_DATA_KEY``) so a verifier can check the file on its own,
  and the anti-forgery QR code pointing at the verification page;
- sign (电子签名): the department's SM2 signature (GB/T 38540 SES_Signature over Signature.xml,
  which holds the SM3 of every file) made with its CA certificate, then verified (签名验证);
- seal (电子印章): the department's seal, checked once per task (maker's signature, maker's
  certificate up to the platform root, validity), is the stamp placed by the signature on the
  design's seal slot; the sealed package is stored under DATA/files/certificates/<identifier>.ofd,
  written to a temporary file and renamed so a crash never leaves half a file in place.

A step that raises stops that certificate; its outcome carries the error and later steps are not
attempted, as the seed wants. Times are taken here, where the work happens.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Mapping, Sequence

from .steps import Step

if TYPE_CHECKING:  # imported where used: a worker process loads only what it needs
    from multiprocessing.connection import Connection

    from certledger.crypto.signers import Signer
    from ofd.design import SurfaceDesign
    from seals.ofd_sign import Placement

    from ..signing_identity import SigningMaterial

FILE_SUFFIX = ".ofd"


@dataclass(frozen=True)
class DocumentJob:
    """One certificate's face: display values, canonical data to carry, verification URL."""

    certificate_id: int
    identifier: str
    title: str
    values: Mapping[str, str]
    canonical: str
    verify_url: str
    issue_date: date | None = None


@dataclass(frozen=True)
class DocumentTask:
    """The certificates of one type and department, with what they share."""

    design: Mapping | None                      # the type's surface design JSON, as stored
    images: Mapping[str, tuple[bytes, str]]     # design image refs resolved by the runner
    signing: SigningMaterial | None
    signing_error: str                          # why there is no signing material
    root_der: bytes                             # platform CA root: signer and seal must chain to it
    out_dir: str
    jobs: tuple[DocumentJob, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class StepOutcome:
    step: Step
    ok: bool
    started_at: datetime
    ended_at: datetime
    error: str = ""
    detail: str = ""


@dataclass(frozen=True)
class DocumentResult:
    certificate_id: int
    outcomes: tuple[StepOutcome, ...]  # in flow order, ending at the first failure
    pid: int = 0                       # the process that made it

    @property
    def ok(self) -> bool:
        return bool(self.outcomes) and all(o.ok for o in self.outcomes)


def documents_dir(data_dir: Path | str) -> Path:
    """Where a deployment keeps its sealed OFD files (DATA/files/certificates)."""
    return Path(data_dir) / "files" / "certificates"


def file_path(out_dir: Path | str, identifier: str) -> Path:
    """Where the sealed OFD of ``identifier`` is kept; refuses names that could leave the folder."""
    if not identifier or "/" in identifier or "\\" in identifier or identifier.startswith("."):
        raise ValueError(f"not a certificate identifier usable as a file name: {identifier!r}")
    return Path(out_dir) / f"{identifier}{FILE_SUFFIX}"


def verify_base_url(server) -> str:
    """Base of the verification URL in the anti-forgery QR code, from the ``[server]`` settings:
    ``public_url`` where a deployment sits behind a proxy or a public name, else this server.

    One place, so the OFD made at issuance and a PDF or PNG rendered later point at one page.
    """
    if server.public_url:
        return server.public_url.rstrip("/")
    host = "127.0.0.1" if server.host in ("0.0.0.0", "::", "") else server.host
    return f"http://{host}:{server.port}"


def document_job(cert, type_name: str, values: Mapping[str, object], holder_code: str, canonical_data: bytes,
                 base_url: str) -> DocumentJob:
    """The face of a stored certificate (display values, carried data, QR URL), as every layout shows it.

    ``cert`` is a Certificate row; ``values`` its decrypted field values. Shared by the OFD job of
    the pipeline and the PDF/PNG renditions made on request, so the three never differ.
    """
    from ofd.qr import verification_url

    def cn(d: date | None) -> str:
        return f"{d.year}年{d.month}月{d.day}日" if d else ""

    ident = cert.identifier
    face = {k: str(v) for k, v in values.items()}
    face.update({"identifier": ident, "name": cert.name, "holder": cert.holder, "holder_code": holder_code,
                 "number": cert.number, "issue_date": cn(cert.issue_date), "valid_from": cn(cert.valid_from),
                 "valid_to": cn(cert.valid_to) or "长期", "issue_dept": cert.issue_dept, "type_name": cert.type_name,
                 "area_code": cert.area_code, "matter_name": cert.matter_name})
    return DocumentJob(cert.id, ident, cert.name or type_name, face, canonical_data.decode("utf-8"),
                       verification_url(base_url, ident), cert.issue_date)


def write_atomically(path: Path, data: bytes, sync: bool = True) -> None:
    """Temp file, then rename: readers see the old file or the whole new one, never a part.

    ``sync=False`` leaves the flush to the caller, who must call ``flush_folder`` before telling
    anyone the file exists (a batch flushes once instead of once per file).
    """
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        if sync:
            os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def _syncfs():
    """Linux syncfs(2): flush one file system (not all, as sync(2) would); None elsewhere."""
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        return libc.syncfs
    except (OSError, AttributeError):
        return None


_SYNCFS = _syncfs()


def flush_folder(folder: Path, written: Sequence[Path]) -> None:
    """Make the files written into ``folder`` (and their renames) durable, at once.

    One syncfs of the folder's file system costs about what one fsync does, where an fsync per
    file makes concurrent workers queue on the journal; without syncfs, each file is fsynced.
    """
    fd = os.open(folder, os.O_RDONLY)
    try:
        if _SYNCFS is None or _SYNCFS(fd) != 0:
            for p in written:
                f = os.open(p, os.O_RDONLY)
                try:
                    os.fsync(f)
                finally:
                    os.close(f)
        os.fsync(fd)
    finally:
        os.close(fd)


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _error(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text[:2000]


# --- shared per task ---------------------------------------------------------------------------

@dataclass
class _Prepared:
    """What a task's certificates share, or why each step cannot run for any of them."""

    design: SurfaceDesign | None = None
    layout_error: str = ""
    signer: Signer | None = None
    sign_error: str = ""
    seal_error: str = ""
    placement: Placement | None = None
    has_qr: bool = False


_signers: dict[bytes, Signer] = {}  # per worker process: key DER -> signer, built once


def _signer(key_der: bytes) -> Signer:
    from certledger.crypto.signers import SoftSM2Signer
    from certledger.crypto.sm2 import SM2PrivateKey

    signer = _signers.get(key_der)
    if signer is None:
        signer = _signers[key_der] = SoftSM2Signer(SM2PrivateKey.from_der(key_der))
    return signer


def _failed_checks(checks: Sequence) -> str:
    return "; ".join(f"{c.name}: {c.detail}" for c in checks if not c.ok)


def _prepare(task: DocumentTask, now: datetime) -> _Prepared:
    from certledger.crypto import x509 as X
    from ofd.design import DesignError, QRElement, parse
    from seals.ofd_sign import Placement
    from seals.seal import SealError, check_seal, describe, load_seal

    p = _Prepared()
    try:
        if task.design is None:
            raise DesignError({"design": "the type has no surface design"})
        p.design = parse(task.design)
    except DesignError as exc:
        p.layout_error = f"the surface design cannot be used: {exc}"
        return p
    x, y, size = p.design.seal_slot()
    p.placement = Placement(page=0, x=x, y=y, width=size, height=size)
    p.has_qr = any(isinstance(e, QRElement) for e in p.design.elements)
    m = task.signing
    if m is None:
        p.sign_error = task.signing_error or "the department has no signing certificate"
        return p
    try:
        root = X.load(task.root_der)
        cert = X.load(m.certificate_der)
        bad = _failed_checks(X.check_chain(cert, [], [root], now))
        if bad:
            p.sign_error = f"the signing certificate is not trusted: {bad}"
            return p
        p.signer = _signer(m.key_der)
    except (ValueError, X.CertificateError) as exc:
        p.sign_error = f"the signing key or certificate is unusable: {_error(exc)}"
        return p
    try:
        seal = load_seal(m.seal_der)
        bad = _failed_checks(check_seal(seal, [root], now))
        if not bad and m.certificate_der not in describe(seal).signer_certs:
            bad = "the seal does not allow the department's signing certificate"
        if bad:
            p.seal_error = f"the seal cannot be used: {bad}"
    except SealError as exc:
        p.seal_error = f"the seal cannot be used: {_error(exc)}"
    return p


# --- per certificate ---------------------------------------------------------------------------

def _layout(task: DocumentTask, p: _Prepared, job: DocumentJob) -> dict[str, bytes]:
    from issuance.canonical import DOCUMENT_DATA_KEY
    from ofd.qr import qr_png
    from ofd.writer import OFDMeta, write_ofd_files

    if p.layout_error:
        raise RuntimeError(p.layout_error)

    def image(ref: str) -> tuple[bytes, str]:
        if ref not in task.images:
            raise ValueError(f"the design's image {ref} is not stored")
        return task.images[ref]

    meta = OFDMeta(doc_id=job.identifier, title=job.title, creation_date=job.issue_date,
                   custom={DOCUMENT_DATA_KEY: job.canonical, "identifier": job.identifier})
    qr = qr_png(job.verify_url) if p.has_qr else None
    return write_ofd_files(p.design, job.values, meta, images=image, qr_png=qr)


def _sign(task: DocumentTask, p: _Prepared, files: dict[str, bytes], at: datetime) -> dict[str, bytes]:
    from certledger.crypto import oids
    from certledger.crypto.signers import SM2_SM3, verify
    from certledger.crypto.sm import sm3
    from seals.asn1 import SESSignatureWriter, TBSSignWriter, to_be_signed
    from seals.ofd_sign import sign_files

    if p.sign_error:
        raise RuntimeError(p.sign_error)
    m = task.signing
    signed = sign_files(files, m.seal_der, p.signer, m.certificate_der, p.placement, at)
    # 签名验证: the signature as stored must verify with the certificate's key over Signature.xml
    # (read with the writer's shapes, which keep the signed part as the bytes that were signed)
    value_path = next(n for n in signed if n.endswith("/SignedValue.dat") and n not in files)
    ses = SESSignatureWriter.load(signed[value_path])
    tbs_der = ses["toSign"].dump()
    sig_xml = signed[value_path.rsplit("/", 1)[0] + "/Signature.xml"]
    ok = TBSSignWriter.load(tbs_der)["dataHash"].native == sm3(sig_xml) and verify(
        SM2_SM3, p.signer.public_key_der(), to_be_signed(tbs_der, m.certificate_der, oids.SM2_WITH_SM3),
        ses["signature"].native)
    if not ok:
        raise RuntimeError("the signature does not verify with the signing certificate")
    return signed


def _seal(task: DocumentTask, p: _Prepared, job: DocumentJob, signed: dict[str, bytes]) -> str:
    from certledger.crypto.sm import sm3
    from ofd.writer import zip_package

    if p.seal_error:
        raise RuntimeError(p.seal_error)
    data = zip_package(signed)
    write_atomically(file_path(task.out_dir, job.identifier), data, sync=False)  # flushed per task
    return f"sm3:{sm3(data).hex()}"


def _one(task: DocumentTask, p: _Prepared, job: DocumentJob) -> DocumentResult:
    outcomes: list[StepOutcome] = []

    def run(step: Step, fn):
        """``fn`` returns (value, detail); a raise is recorded and stops the certificate."""
        start = _now()
        try:
            value, detail = fn()
        except Exception as exc:  # noqa: BLE001 - any failure stops this certificate at this step
            outcomes.append(StepOutcome(step, False, start, _now(), _error(exc)))
            raise _Stop from None
        outcomes.append(StepOutcome(step, True, start, _now(), detail=detail))
        return value

    try:
        files = run(Step.LAYOUT, lambda: (_layout(task, p, job), ""))
        signed = run(Step.SIGN, lambda: (_sign(task, p, files, _now()), f"certificate serial {_serial(task)}"))
        run(Step.SEAL, lambda: (None, _seal(task, p, job, signed)))
    except _Stop:
        pass
    return DocumentResult(job.certificate_id, tuple(outcomes), os.getpid())


_serials: dict[bytes, str] = {}


def _serial(task: DocumentTask) -> str:
    from certledger.crypto import x509 as X

    der = task.signing.certificate_der
    if der not in _serials:
        _serials[der] = format(X.load(der).serial_number, "x")
    return _serials[der]


class _Stop(Exception):
    pass


def make_documents(task: DocumentTask) -> list[DocumentResult]:
    """Layout, sign and seal every certificate of ``task``; one result per job, in order."""
    out = Path(task.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    prepared = _prepare(task, _now())
    results = [_one(task, prepared, job) for job in task.jobs]
    written = [file_path(out, j.identifier) for j, r in zip(task.jobs, results) if r.ok]
    if written:  # durable before the runner records the seal step done
        try:
            flush_folder(out, written)
        except OSError as exc:
            return [_unsealed(r, f"the sealed file could not be made durable: {_error(exc)}") for r in results]
    return results


def _unsealed(result: DocumentResult, error: str) -> DocumentResult:
    """``result`` with its (done) seal step turned into a failure."""
    if not result.ok:
        return result
    *before, seal = result.outcomes
    return DocumentResult(result.certificate_id, (*before, StepOutcome(seal.step, False, seal.started_at, _now(), error)),
                          result.pid)


def watch_runner(lifeline: Connection) -> None:
    """Pool initializer: leave when the runner dies (its end of ``lifeline`` closes).

    A runner killed outright (SIGKILL, OOM) cannot tell its workers to stop, and their task
    queue never signals its end; without this they would wait forever, and keep the fork
    server alive with them.
    """
    import threading

    def wait() -> None:
        try:
            lifeline.recv()
        except (EOFError, OSError):
            pass
        os._exit(1)

    threading.Thread(target=wait, name="runner-lifeline", daemon=True).start()


def split(task: DocumentTask, size: int) -> list[DocumentTask]:
    """The task cut into pieces of at most ``size`` certificates, to spread over processes."""
    jobs = task.jobs
    return [DocumentTask(task.design, task.images, task.signing, task.signing_error, task.root_der, task.out_dir,
                         tuple(jobs[i:i + size])) for i in range(0, len(jobs), size)] or [task]


def run_tasks(tasks: Sequence[DocumentTask], pool=None) -> list[DocumentResult]:
    """All tasks, in a process pool when one is given, else here; results in task order."""
    if pool is None:
        return [r for t in tasks for r in make_documents(t)]
    return [r for rs in pool.map(make_documents, tasks) for r in rs]
