"""Public verification (公众验证): by identifier (the QR code), by uploaded file, in batch.

One implementation for everyone who verifies from this deployment's record: the public pages and
JSON endpoints (``web/verify.py``) and ``certledger verify``. An identifier is checked from the
record (canonical data decrypted, the stored Merkle proof) against the ledger, and its stored
sealed OFD too; a file is checked on its own (seals or PAdES signature, then the data it carries
against the ledger), as ``issuance.verification`` does.

What the public answer shows, decided from the seed:

- DB23/T 2836 §8.1.5 asks for verification and batch verification "by anyone, holder or public,
  online, of a certificate's authenticity (真伪)": authenticity, not content. The standard's own
  verification service (VerifyCertificate, appendix C.6) answers nothing but ``verifyResult``;
  the services that return content (GetCertificateDataBy..., C.4: holder, holder code, every
  surface field) need an account bound to an IP and a token (§7.2.2), and the platform manual
  (seed 000) makes even a 社会公示 catalog go through a usage application first.
- So a public verdict carries every check (name, zh-CN label, detail), the ledger block it
  reflects, and a summary limited to what lets someone holding the certificate (or its QR
  code) recognise it: name, type name and code, issuing department and its code, issue date,
  validity dates, version, the ledger's status and next annual-review date. The holder's code
  is masked (first 4 + last 4 characters), the holder's name too (first and last character),
  and the certificate number like the code (a business licence's number *is* the holder's
  USCC). No surface field value is ever part of it, and no summary exists for a certificate
  that was never issued (a draft is not public).
- The check details come from the ledger and the document checks (blocks, issuer identities,
  part names of a file): they hold no holder data.

Work per request is bounded here, not only by the web layer: a file larger than the limit or
neither OFD nor PDF (sniffed from its content, not its name) is refused before any parsing, an
OFD package is opened first with limits derived from the upload limit (entries, expanded size,
compression ratio: zip bombs are refused by the package loader), and a batch holds at most
``max_batch`` distinct identifiers, read from the database in one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Sequence

from sqlalchemy import select

from ledger import LedgerStatus
from ledger.interface import Ledger, LedgerError

from . import canonical, certificates, lifecycle
from .identifiers import IdentifierError, parse as parse_identifier
from .models import Certificate, CertificateStatus as S, OutboxItem
from .pipeline.documents import documents_dir, file_path
from .unit_of_work import UnitOfWork
from .verification import Check, Verdict, verify_data, verify_ofd_file, verify_pdf_file

if TYPE_CHECKING:
    from certledger.runtime import Platform
    from ofd.package import Limits

MB = 1024 * 1024
DEFAULT_MAX_FILE_BYTES = 10 * MB
DEFAULT_MAX_BATCH = 100
MAX_IDENTIFIER = 160  # the column's width: anything longer cannot name a certificate
ISSUED = frozenset({S.EFFECTIVE, S.LOST, S.REVOKED, S.REVIEW_OVERDUE, S.SUPERSEDED})
PDF_MAGIC_WINDOW = 1024  # readers accept the %PDF- header anywhere in the first KB
ZIP_MAGIC = b"PK\x03\x04"
FILE_CHECKS = frozenset({"document", "data", "digest"})  # the checks of a stored layout file about the file itself


class FileRefused(ValueError):
    """An upload that is not verified at all; ``reason`` is "empty", "size" or "type"."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class BatchRefused(ValueError):
    """A batch that is not verified at all; ``reason`` is "empty" or "too_many"."""

    def __init__(self, reason: str, message: str, limit: int) -> None:
        super().__init__(message)
        self.reason = reason
        self.limit = limit


@dataclass(frozen=True)
class VerificationEnv:
    """What verification uses of a deployment; ``from_platform`` builds it, opening nothing yet.

    The ledger and the CA roots are callables so that a request refused early (a wrong file
    type, an empty batch) never opens the ledger or decrypts a CA.
    """

    uow: Callable[[], UnitOfWork]
    ledger: Callable[[], Ledger]
    data_dir: Path
    roots: Callable[[], Sequence[Any]]      # the SM2 platform root: OFD seals and signatures
    pdf_roots: Callable[[], Sequence[Any]]  # the ECDSA PDF root: PAdES (PDF readers know no SM2)
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
    max_batch: int = DEFAULT_MAX_BATCH

    @classmethod
    def from_platform(cls, platform: "Platform") -> "VerificationEnv":
        public = platform.settings.public
        return cls(platform.uow, lambda: platform.ledger, Path(platform.settings.data_dir),
                   lambda: [platform.ca.certificate], lambda: [platform.pdf_ca.certificate],
                   public.max_file_mb * MB, public.max_batch)


def _env(source: "Platform | VerificationEnv") -> VerificationEnv:
    return source if isinstance(source, VerificationEnv) else VerificationEnv.from_platform(source)


# --- what the public may see ---------------------------------------------------------------------

def mask_code(text: str) -> str:
    """A holder code or number with all but its first 4 and last 4 characters hidden.

    Enough to compare with the paper in front of you, not enough to learn the code.
    """
    text = text or ""
    n = len(text)
    if n > 8:
        return text[:4] + "*" * (n - 8) + text[-4:]
    if n > 2:
        return text[0] + "*" * (n - 2) + text[-1]
    return "*" * n


def mask_name(text: str) -> str:
    """A holder's name with its first and last character kept (张*, 哈*****司)."""
    text = text or ""
    if len(text) <= 1:
        return "*" * len(text)
    if len(text) == 2:
        return text[0] + "*"
    return text[0] + "*" * (len(text) - 2) + text[-1]


@dataclass(frozen=True)
class CertificateSummary:
    """The public face of an issued certificate; see the module docstring for why these items."""

    identifier: str
    name: str
    type_name: str
    type_code: str
    issue_dept: str
    issue_dept_code: str
    holder_masked: str
    holder_code_masked: str
    number_masked: str
    issue_date: date | None
    valid_from: date | None
    valid_to: date | None
    version: int
    status: str = "unknown"          # ledger status: effective, lost, revoked, superseded, review_overdue, not_on_ledger
    next_review_due: date | None = None

    def as_dict(self) -> dict[str, Any]:
        """DB23/T 2836 names (appendix C.4) where the standard has one."""
        iso = lambda d: d.isoformat() if d else ""  # noqa: E731
        return {"certificateIdentifier": self.identifier, "certificateName": self.name,
                "certificateType": self.type_name, "certificateTypeCode": self.type_code,
                "issueDept": self.issue_dept, "issueDeptCode": self.issue_dept_code,
                "certificateHolder": self.holder_masked, "certificateHolderCode": self.holder_code_masked,
                "certificateNumber": self.number_masked, "certificateIssueDate": iso(self.issue_date),
                "certificateValidateStart": iso(self.valid_from), "certificateValidateEnd": iso(self.valid_to),
                "version": self.version, "status": self.status, "nextReviewDue": iso(self.next_review_due)}


@dataclass
class PublicVerdict(Verdict):
    """A verdict with the public summary of the certificate it names (None when not ours or not issued).

    ``found`` is False when this deployment has no certificate under the identifier at all.
    """

    summary: CertificateSummary | None = None
    found: bool = True

    def as_dict(self) -> dict[str, Any]:
        out = super().as_dict()
        out["verifyResult"] = "true" if self.valid else "false"  # the standard's VerifyCertificate answer (C.6)
        out["certificate"] = self.summary.as_dict() if self.summary else None
        return out


def _summary(uow: UnitOfWork, cert: Certificate) -> CertificateSummary | None:
    if cert.status not in ISSUED:
        return None
    return CertificateSummary(
        cert.identifier, cert.name, cert.type_name, cert.type_code, cert.issue_dept, cert.issue_dept_code,
        mask_name(cert.holder), mask_code(certificates.holder_code_of(uow, cert)), mask_code(cert.number),
        cert.issue_date, cert.valid_from, cert.valid_to, cert.version)


def _with_ledger_status(summary: CertificateSummary | None, ledger: Ledger, today: date) -> CertificateSummary | None:
    """The summary's status as the ledger has it (a verifier needs no trust in our database)."""
    if summary is None:
        return None
    try:
        state = ledger.status(summary.identifier)
    except LedgerError:
        return summary
    if state is None:
        return replace(summary, status="not_on_ledger")
    status = state.status.value
    if state.status == LedgerStatus.EFFECTIVE and state.next_review_due is not None and state.next_review_due < today:
        status = "review_overdue"
    return replace(summary, status=status, next_review_due=state.next_review_due)


# --- the record of identifiers ----------------------------------------------------------------------

@dataclass
class _Record:
    data: bytes
    proof: list[bytes] | None
    summary: CertificateSummary | None


def _records(env: VerificationEnv, wanted: Sequence[str], with_data: bool = True) -> dict[str, _Record]:
    """The record of each known identifier, read in one transaction (a batch is one query, not 100)."""
    wanted = [i for i in wanted if i and len(i) <= MAX_IDENTIFIER]
    if not wanted:
        return {}
    out: dict[str, _Record] = {}
    with env.uow() as uow:
        certs = uow.session.execute(select(Certificate).where(Certificate.identifier.in_(wanted))).scalars().all()
        proofs: dict[str, list] = {}
        if with_data and certs:
            rows = uow.session.execute(select(OutboxItem.certificate_id, OutboxItem.proof).where(
                OutboxItem.certificate_id.in_([c.identifier for c in certs]), OutboxItem.kind == "anchor",
                OutboxItem.state == "done").order_by(OutboxItem.id)).all()
            for cid, proof in rows:
                proofs.setdefault(cid, proof)
        for cert in certs:
            data = lifecycle.canonical_data(uow, cert) if with_data else b""
            stored = proofs.get(cert.identifier)
            proof = [bytes.fromhex(p) for p in stored] if stored is not None else None
            out[cert.identifier] = _Record(data, proof, _summary(uow, cert))
    return out


def _unknown(identifier: str) -> PublicVerdict:
    if len(identifier) > MAX_IDENTIFIER:
        return PublicVerdict(identifier[:MAX_IDENTIFIER] + "…", [Check(
            "data", False, f"not a certificate identifier: longer than {MAX_IDENTIFIER} characters",
            "data.too_long", {"max": MAX_IDENTIFIER})], found=False)
    hint, malformed = "", ""
    if identifier:
        try:
            parse_identifier(identifier)
        except IdentifierError as exc:
            malformed = str(exc)
            hint = f" (not a well-formed GB/T 36904 identifier: {exc})"
    if not identifier:
        check = Check("data", False, "no certificate identifier", "data.no_identifier")
    else:
        check = Check("data", False, f"no certificate with this identifier in this deployment{hint}",
                      "data.unknown_malformed" if malformed else "data.unknown", {"error": malformed})
    return PublicVerdict(identifier, [check], found=False)


def _verify_records(env: VerificationEnv, wanted: Sequence[str], today: date | None) -> list[PublicVerdict]:
    day = today or date.today()
    records = _records(env, wanted)
    ledger = env.ledger() if records else None
    roots: Sequence[Any] | None = None
    out: list[PublicVerdict] = []
    for ident in wanted:
        rec = records.get(ident)
        if rec is None or ledger is None:
            out.append(_unknown(ident))
            continue
        basic, values = canonical.parse(rec.data)
        extra = []
        stored = file_path(documents_dir(env.data_dir), ident)  # identifiers from our database are file-safe
        if stored.exists():
            roots = env.roots() if roots is None else roots
            doc = verify_ofd_file(ledger, stored.read_bytes(), roots, today=day)
            # only what concerns the file (seals, carried data): status and dates are checked once, below
            bad = [c for c in doc.checks if not c.ok and c.name in FILE_CHECKS]
            problems = "; ".join(f"{c.name}: {c.detail}" for c in bad)
            extra.append(Check("document", not bad,
                               problems or f"{stored.name}: seals intact, carries this record's data",
                               "document.stored_bad" if bad else "document.stored_ok",
                               {"problems": problems, "file": stored.name}))
        v = verify_data(ledger, basic, values, proof=rec.proof, today=day, extra=extra)
        out.append(PublicVerdict(v.identifier, v.checks, v.ledger_block,
                                 summary=_with_ledger_status(rec.summary, ledger, day)))
    return out


# --- the three public services ------------------------------------------------------------------

def verify_identifier(source: "Platform | VerificationEnv", identifier: str, today: date | None = None) -> PublicVerdict:
    """Every check of the certificate ``identifier`` names, from this deployment's record.

    What ``certledger verify ID`` prints and what the certificate's QR code leads to. An
    identifier this deployment does not know gets a verdict (``found`` False) with one failed
    check saying so, not an exception: to a verifier, "unknown" is an answer.
    """
    return _verify_records(_env(source), [(identifier or "").strip()], today)[0]


def verify_identifiers(source: "Platform | VerificationEnv", identifiers: Iterable[str],
                       today: date | None = None) -> list[PublicVerdict]:
    """Batch verification (批量验证): one verdict per distinct identifier, in the order first given.

    Blank entries are skipped and duplicates answered once, so a pasted list with repeats costs
    what its distinct identifiers cost. Raises BatchRefused for no identifier at all or more
    than ``max_batch`` distinct ones (refused whole: a partial answer would look complete).
    """
    env = _env(source)
    wanted = list(dict.fromkeys(i.strip() for i in identifiers if isinstance(i, str) and i.strip()))
    if not wanted:
        raise BatchRefused("empty", "no certificate identifier given", env.max_batch)
    if len(wanted) > env.max_batch:
        raise BatchRefused("too_many", f"{len(wanted)} identifiers; at most {env.max_batch} at a time", env.max_batch)
    return _verify_records(env, wanted, today)


def sniff(data: bytes) -> str | None:
    """"pdf", "ofd" or None, from the content: a file's name or declared type proves nothing."""
    if b"%PDF-" in data[:PDF_MAGIC_WINDOW]:
        return "pdf"
    if data.startswith(ZIP_MAGIC):
        return "ofd"
    return None


def _ofd_limits(max_bytes: int) -> "Limits":
    """Package limits for an upload of at most ``max_bytes``: a certificate OFD expands a few times, not 200 MB."""
    from ofd.package import DEFAULT_LIMITS, Limits

    return Limits(max_file=max_bytes, max_entries=min(DEFAULT_LIMITS.max_entries, 500),
                  max_entry=min(DEFAULT_LIMITS.max_entry, 8 * max_bytes),
                  max_total=min(DEFAULT_LIMITS.max_total, 8 * max_bytes), max_ratio=DEFAULT_LIMITS.max_ratio)


def verify_file(source: "Platform | VerificationEnv", data: bytes, filename: str = "", *,
                today: date | None = None, max_bytes: int | None = None) -> PublicVerdict:
    """A presented sealed OFD or signed PDF: its seals or signature, then its data against the ledger.

    ``max_bytes`` defaults to the deployment's public upload limit (``public.max_file_mb``).
    Raises FileRefused for an empty file, one over the limit, or one that is neither OFD nor PDF;
    an OFD package that breaks the loader's limits (a zip bomb, too many parts) or is not a
    package at all is a verdict with a failed document check, like any unreadable file.
    """
    from ofd.package import Package, UnsafePackage

    env = _env(source)
    limit = env.max_file_bytes if max_bytes is None else max_bytes
    name = filename or "the file"
    if not data:
        raise FileRefused("empty", f"{name} is empty")
    if len(data) > limit:
        raise FileRefused("size", f"{name} is larger than {limit // MB or 1} MB")
    kind = sniff(data)
    if kind is None:
        raise FileRefused("type", f"{name} is neither an OFD nor a PDF file")
    day = today or date.today()
    if kind == "pdf":
        verdict = verify_pdf_file(env.ledger(), data, env.pdf_roots(), today=day)
    else:
        try:
            Package.load(data, _ofd_limits(limit))  # the strict limits first; the checks below load it again
        except UnsafePackage as exc:
            return PublicVerdict("", [Check("document", False, f"not a readable OFD file: {exc}",
                                            "document.unreadable_ofd", {"error": str(exc)})], found=False)
        verdict = verify_ofd_file(env.ledger(), data, env.roots(), today=day)
    record = _records(env, [verdict.identifier], with_data=False).get(verdict.identifier)
    summary = _with_ledger_status(record.summary, env.ledger(), day) if record else None
    return PublicVerdict(verdict.identifier, verdict.checks, verdict.ledger_block, summary=summary,
                         found=record is not None)
