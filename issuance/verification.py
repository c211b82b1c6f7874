"""Verifying a certificate: from its data, from its layout file, or by identifier; one or many.

The answer lists every check with its result and a single verdict. The ledger part never trusts
our database: the digest, root, issuer and status come from the ledger (local store or chain);
what the database supplies (the stored proof, the data of an identifier) is itself checked
against the ledger.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any, Mapping, Sequence

from ledger import LedgerStatus
from ledger.interface import Ledger, LedgerError
from ledger.merkle import verify_proof

from . import canonical

# zh-CN labels of the checks, as a verifier reads them
LABELS = {
    "data": "证照数据", "ledger": "链上记录", "digest": "数据摘要", "proof": "默克尔证明", "issuer": "签发机构授权",
    "status": "证照状态", "validity": "有效期", "annual_review": "年审", "document": "版式文件签章",
}
BAD_STATUS = {LedgerStatus.LOST: "reported lost (挂失)", LedgerStatus.REVOKED: "revoked (注销)",
              LedgerStatus.SUPERSEDED: "superseded by a newer version (已变更)"}
BAD_STATUS_CODE = {LedgerStatus.LOST: "status.lost", LedgerStatus.REVOKED: "status.revoked",
                   LedgerStatus.SUPERSEDED: "status.superseded"}


@dataclass(frozen=True)
class Check:
    """One verification item.

    ``detail`` is the English sentence the CLI, the JSON API and the sharing interface carry (kept
    as it is: programs read it). ``code`` names the sentence and ``params`` holds its values, so a
    page can say the same thing in the reader's language (web/verify.py); an empty code means
    "no sentence known", and the page shows ``detail``. Neither is part of any JSON output.
    """

    name: str
    ok: bool
    detail: str = ""
    code: str = ""
    params: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def label(self) -> str:
        return LABELS.get(self.name, self.name)


@dataclass
class Verdict:
    identifier: str
    checks: list[Check] = field(default_factory=list)
    ledger_block: int | None = None  # the ledger position the status reflects

    @property
    def valid(self) -> bool:
        return bool(self.checks) and all(c.ok for c in self.checks)

    def as_dict(self) -> dict[str, Any]:
        return {"identifier": self.identifier, "valid": self.valid, "ledgerBlock": self.ledger_block,
                "checks": [{"name": c.name, "label": c.label, "ok": c.ok, "detail": c.detail} for c in self.checks]}


def _iso(value: date | None) -> str:
    return value.isoformat() if value else ""


def _date(text: str) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


def verify_data(ledger: Ledger, basic: Mapping[str, Any], values: Mapping[str, Any], *,
                proof: Sequence[bytes] | None = None, today: date | None = None,
                extra: Sequence[Check] = ()) -> Verdict:
    """The ledger checks of presented data: digest, Merkle proof, issuer, status, dates."""
    today = today or date.today()
    identifier = str(basic.get("identifier", ""))
    verdict = Verdict(identifier, list(extra))
    checks = verdict.checks
    if not identifier:
        checks.append(Check("data", False, "no certificate identifier", "data.no_identifier"))
        return verdict
    digest = canonical.ledger_digest(canonical.canonical_bytes(basic, values))
    try:
        state = ledger.status(identifier)
    except LedgerError as exc:
        checks.append(Check("ledger", False, f"the ledger cannot be read: {exc}", "ledger.unreadable",
                            {"error": str(exc)}))
        return verdict
    if state is None:
        checks.append(Check("ledger", False, "the ledger has no certificate with this identifier", "ledger.missing"))
        return verdict
    # the position the answer reflects: a follower's synced block, else the certificate's last event
    verdict.ledger_block = state.as_of_block if state.as_of_block is not None else state.last_block
    checks.append(Check("ledger", True, f"anchored at {state.issued_block} by {state.issuer}", "ledger.anchored",
                        {"block": state.issued_block, "issuer": state.issuer}))
    same = digest == state.digest
    checks.append(Check("digest", same, "the data matches the anchored digest" if same
                        else "the data differs from what was anchored (tampered or another version)",
                        "digest.match" if same else "digest.mismatch"))
    if proof is not None:
        ok = verify_proof(digest, list(proof), state.root)
        checks.append(Check("proof", ok, "leads to the anchored batch root" if ok
                            else "does not lead to the batch root", "proof.ok" if ok else "proof.bad"))
    root = ledger.root_info(state.root)
    issuer = ledger.issuer_info(state.issuer)
    type_code = str(basic.get("type_code", ""))
    if root is None or root.issuer != state.issuer:
        checks.append(Check("issuer", False, "the batch root is not on the ledger under this issuer",
                            "issuer.root_missing"))
    elif issuer is None or (type_code and type_code not in issuer.type_codes):
        checks.append(Check("issuer", False, f"{state.issuer} is not authorised for type {type_code}",
                            "issuer.not_authorised", {"issuer": state.issuer, "type_code": type_code}))
    else:
        checks.append(Check("issuer", True, f"{issuer.name or state.issuer}, batch of {root.count}", "issuer.ok",
                            {"issuer": issuer.name or state.issuer, "count": root.count}))
    overdue = state.next_review_due is not None and state.next_review_due < today
    if state.status in BAD_STATUS:
        detail = BAD_STATUS[state.status] + (f": {state.superseded_by}" if state.superseded_by else "")
        checks.append(Check("status", False, detail, BAD_STATUS_CODE[state.status],
                            {"by": state.superseded_by or ""}))
    elif overdue:  # the ledger keeps the due date; overdue is read from it, not from our database
        checks.append(Check("status", False, f"annual review overdue since {state.next_review_due} (年审逾期)",
                            "status.review_overdue", {"since": str(state.next_review_due)}))
    else:
        checks.append(Check("status", True, "effective (有效)", "status.effective"))
    start, end = _date(str(basic.get("valid_from", ""))), _date(str(basic.get("valid_to", "")))
    if (start and today < start) or (end and today > end):
        checks.append(Check("validity", False, f"valid {start or '…'} to {end or '…'}, not on {today}",
                            "validity.outside", {"start": _iso(start), "end": _iso(end), "today": today.isoformat()}))
    else:
        checks.append(Check("validity", True, f"valid {start or '…'} to {end or 'no end date'}", "validity.ok",
                            {"start": _iso(start), "end": _iso(end)}))
    if state.next_review_due is not None:
        checks.append(Check("annual_review", not overdue, f"next review due {state.next_review_due}",
                            "annual_review.next_due", {"due": str(state.next_review_due)}))
    return verdict


def verify_ofd_file(ledger: Ledger, data: bytes, roots: Sequence, *, today: date | None = None) -> Verdict:
    """A layout file: its seals and signature, then the ledger checks of the data it carries."""
    from ofd.package import Package, Q, UnsafePackage
    from seals.ofd_sign import verify_ofd

    try:
        pkg = Package.load(data)
        info = pkg.xml("OFD.xml").find(f"{Q}DocBody/{Q}DocInfo")
        carried = None if info is None else next(
            (cd.text or "" for cd in info.iter(f"{Q}CustomData") if cd.get("Name") == canonical.DOCUMENT_DATA_KEY), None)
    except UnsafePackage as exc:
        return Verdict("", [Check("document", False, f"not a readable OFD file: {exc}", "document.unreadable_ofd",
                                  {"error": str(exc)})])
    if carried is None:
        return Verdict("", [Check("data", False, "the file carries no certificate data", "data.not_carried")])
    try:
        basic, values = canonical.parse(carried.encode("utf-8"))
    except ValueError as exc:
        return Verdict("", [Check("data", False, str(exc), "data.unreadable", {"error": str(exc)})])
    reports = verify_ofd(data, roots)
    if not reports:
        doc = Check("document", False, "the file is not signed or sealed", "document.ofd_unsigned")
    else:
        bad = [f"{r.sign_id}: {c.name}: {c.detail}" for r in reports for c in r.checks if not c.ok]
        problems = "; ".join(bad)
        doc = Check("document", not bad, problems or f"{len(reports)} seal(s) and signature intact, signer trusted",
                    "document.ofd_bad" if bad else "document.ofd_ok", {"problems": problems, "count": len(reports)})
    return verify_data(ledger, basic, values, today=today, extra=[doc])


def verify_pdf_file(ledger: Ledger, data: bytes, roots: Sequence, *, today: date | None = None) -> Verdict:
    """A PDF rendition: its PAdES signature, then the ledger checks of the data it carries.

    The data is the embedded file ``canonical.DOCUMENT_DATA_KEY``, read from the revision the
    last signature covers, so an update appended after signing can neither swap it nor pass:
    a PDF changed after its signature is not valid (renditions are never updated).
    """
    from seals.pdf_sign import PDFSignError, verify_pdf

    try:
        carried, covers_all = _pdf_carried_data(data)
    except ValueError as exc:
        return Verdict("", [Check("document", False, f"not a readable PDF file: {exc}", "document.unreadable_pdf",
                                  {"error": str(exc)})])
    if carried is None:
        return Verdict("", [Check("data", False, "the file carries no certificate data", "data.not_carried")])
    try:
        basic, values = canonical.parse(carried)
    except ValueError as exc:
        return Verdict("", [Check("data", False, str(exc), "data.unreadable", {"error": str(exc)})])
    try:
        reports = verify_pdf(data, roots)
    except PDFSignError as exc:
        reports, error, code = [], str(exc), "document.pdf_error"
    else:
        error, code = "the file is not signed", "document.pdf_unsigned"
    if not reports:
        doc = Check("document", False, error, code, {"error": error})
    else:
        bad = [f"signature {i + 1}: {c.name}: {c.detail}"
               for i, checks in enumerate(reports) for c in checks if not c.ok]
        code = "document.pdf_bad" if bad else ("document.pdf_changed" if not covers_all else "document.pdf_ok")
        problems = "; ".join(bad)  # the signature checks' own words, before the sentence below joins them
        if not covers_all:
            bad.append("the file was changed after it was signed (a later revision)")
        doc = Check("document", not bad, "; ".join(bad) or f"{len(reports)} signature(s) intact, signer trusted",
                    code, {"problems": problems, "changed": not covers_all, "count": len(reports)})
    return verify_data(ledger, basic, values, today=today, extra=[doc])


def _pdf_carried_data(pdf: bytes) -> tuple[bytes | None, bool]:
    """(the canonical data a PDF carries or None, whether its last signature covers the whole file).

    Read from the revision the last signature covers; from the last revision of an unsigned
    PDF. ValueError for a file that is not a readable PDF.
    """
    import io

    from pyhanko.pdf_utils.reader import PdfFileReader

    try:
        reader = PdfFileReader(io.BytesIO(pdf), strict=False)
        sigs = reader.embedded_signatures
        last = reader.xrefs.total_revisions - 1
        revision = max((s.signed_revision for s in sigs), default=last)
        root = reader.get_historical_root(revision) if sigs else reader.root
        carried = _pdf_embedded_file(root, canonical.DOCUMENT_DATA_KEY)
    except Exception as exc:  # noqa: BLE001 - pyHanko raises many kinds for a broken PDF
        raise ValueError(str(exc) or type(exc).__name__) from None
    return carried, bool(sigs) and revision == last


def _pdf_embedded_file(root, name: str) -> bytes | None:
    """The data of the embedded file ``name`` in the document's name tree, or None."""
    try:
        tree = root["/Names"]["/EmbeddedFiles"]
    except KeyError:
        return None

    def walk(node, depth: int) -> bytes | None:
        node = node.get_object()
        pairs = node["/Names"] if "/Names" in node else ()
        for i in range(0, len(pairs) - 1, 2):
            if str(pairs[i]) == name:
                return pairs[i + 1].get_object()["/EF"]["/F"].get_object().data
        if depth < 16:
            for kid in (node["/Kids"] if "/Kids" in node else ()):
                found = walk(kid, depth + 1)
                if found is not None:
                    return found
        return None

    return walk(tree, 0)


def verify_many(ledger: Ledger, items: Sequence[tuple[Mapping[str, Any], Mapping[str, Any]]],
                today: date | None = None) -> list[Verdict]:
    """Batch verification of presented data: one verdict per item, in order."""
    return [verify_data(ledger, basic, values, today=today) for basic, values in items]
