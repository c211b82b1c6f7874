"""The lifecycle of an issued certificate: report loss, revoke, annual review, change, copies.

Seed (user manual, 证照管理 / 证照年审): a department reports an issued certificate lost (挂失) or
revokes it (注销/废止), each time with a reason that is kept; revocation is permanent. Certificates
that need an annual review (年审) are reviewed by their department; the review sets the next due
date. DB23/T 2836 5.3.3: a change of the data (证照变更) goes together with a new issuance
(制证签发) -- here a new version that supersedes the old one once it is effective. B.3: an
annotated copy (加注件) adds a purpose and a validity to a certificate and is signed by its maker.

Every status change goes through ``certificates.change_status`` (the state machine in
``states`` refuses illegal ones with the same error everywhere). Every change the ledger keeps is
queued in the ledger outbox in the same unit of work as the database change, so both commit
together or not at all; ``anchoring.Worker`` writes them to the ledger later.

The ledger knows fewer statuses than the database: ``review_overdue`` is not a ledger status
and has no event. The ledger keeps the next review due date (sent with each annual review) and a
verifier derives "overdue" from it (see ``verification.verify_data``), so the scheduled
``mark_overdue`` job changes only the database and queues nothing. ``LEDGER_STATUS`` states the
correspondence.
"""

from __future__ import annotations

import base64
import dataclasses
import json
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Any, Mapping

from sqlalchemy import select

from certledger.crypto.signers import SM2_SM3, Signer, verify as verify_signature
from certledger.crypto.sm import sm3
from certledger.db.base import utcnow
from ledger import EventKind, LedgerStatus, LifecycleEvent

from . import anchoring, audit, canonical, certificates, identifiers, states
from .context import Actor
from .errors import Conflict, IllegalTransition, ValidationError
from .field_values import validate_values
from .models import (AuditEntry, Certificate, CertificateCopy, CertificateStatus, CertificateType, Department,
                     OutboxItem, RoleCode)
from .unit_of_work import UnitOfWork

S = CertificateStatus
MANAGERS = (RoleCode.CLERK, RoleCode.DEPT_ADMIN)            # 证照管理: the department's own staff
REVIEWERS = (RoleCode.CLERK, RoleCode.REVIEWER, RoleCode.DEPT_ADMIN)  # 证照年审: the issuing department
MAX_REASON = 1000
# statuses before the new version of a change is effective: a change is "in progress"
PENDING_STATES = (S.DRAFT, S.SUBMITTED, S.APPROVED, S.ISSUING)
# what the ledger shows for each database status once the outbox is drained (None: not on it yet)
LEDGER_STATUS: dict[CertificateStatus, LedgerStatus | None] = {
    S.DRAFT: None, S.SUBMITTED: None, S.APPROVED: None, S.ISSUING: None,
    S.EFFECTIVE: LedgerStatus.EFFECTIVE,
    S.REVIEW_OVERDUE: LedgerStatus.EFFECTIVE,  # derived on the ledger: next_review_due < today
    S.LOST: LedgerStatus.LOST,
    S.REVOKED: LedgerStatus.REVOKED,
    S.SUPERSEDED: LedgerStatus.SUPERSEDED,
}
# the job acting for nobody in particular; its tenant is set per certificate for the audit log
OVERDUE_JOB = Actor(user_id=None, username="overdue-job", tenant_id=0, department_id=None, is_admin=True)
# basic items that identify the certificate series: a change cannot alter them
FIXED_IN_CHANGE = ("number", "holder_code")
COPY_DATA_VERSION = 1


# --- shared helpers ---------------------------------------------------------------------------

def _reason(reason: str | None, what: str) -> str:
    """The seed asks for the reason of a loss or revocation to be registered: never empty."""
    text = (reason or "").strip()
    if not text:
        raise ValidationError({"reason": f"{what} needs a reason"})
    if len(text) > MAX_REASON:
        raise ValidationError({"reason": f"at most {MAX_REASON} characters"})
    return text


def _managed(uow: UnitOfWork, actor: Actor, cert_id: int, roles: tuple[RoleCode, ...]) -> Certificate:
    """Role first, then department isolation (another department's certificate is NotFound)."""
    actor.require(*roles)
    return certificates.get(uow, actor, cert_id)


def ledger_issuer(uow: UnitOfWork, cert: Certificate) -> str:
    """The ledger identity the certificate was anchored under; the ledger accepts events only from it.

    Taken from the certificate's anchor in the outbox, so it is whatever the issuance pipeline
    used; the issuing department's code (also the issuer part of the identifier) otherwise.
    """
    issuer = uow.session.execute(select(OutboxItem.issuer).where(
        OutboxItem.kind == "anchor", OutboxItem.certificate_id == cert.identifier)
        .order_by(OutboxItem.id.desc()).limit(1)).scalar()
    return issuer or cert.issue_dept_code


def _queue(uow: UnitOfWork, actor: Actor, cert: Certificate, kind: EventKind, reason: str = "", **extra: Any) -> None:
    anchoring.enqueue_event(uow.session, LifecycleEvent(
        cert.identifier, kind, ledger_issuer(uow, cert), actor.username, reason, **extra))


def ledger_status_of(cert: Certificate) -> LedgerStatus | None:
    """The status the ledger shows for ``cert`` once the outbox has been drained."""
    return LEDGER_STATUS[cert.status]


def canonical_data(uow: UnitOfWork, cert: Certificate) -> bytes:
    """The canonical bytes of a stored certificate (what its ledger digest is computed from)."""
    basic = canonical.basic_of(cert, certificates.holder_code_of(uow, cert))
    return canonical.canonical_bytes(basic, certificates.values_of(uow, cert))


def certificate_digest(uow: UnitOfWork, cert: Certificate) -> bytes:
    """The digest the ledger holds for ``cert``: the stored one once anchored, else recomputed."""
    if cert.digest:
        return bytes.fromhex(cert.digest)
    return canonical.ledger_digest(canonical_data(uow, cert))


# --- loss, revocation --------------------------------------------------------------------------

def report_loss(uow: UnitOfWork, actor: Actor, cert_id: int, reason: str) -> Certificate:
    """挂失: an effective (or review-overdue) certificate stops being usable; the reason is kept."""
    cert = _managed(uow, actor, cert_id, MANAGERS)
    text = _reason(reason, "reporting a certificate lost")
    certificates.change_status(uow, actor, cert, S.LOST, text, "report_loss")
    _queue(uow, actor, cert, EventKind.REPORT_LOSS, text)
    return cert


def revoke(uow: UnitOfWork, actor: Actor, cert_id: int, reason: str) -> Certificate:
    """注销/废止: permanent; from effective, review-overdue or lost. Nothing follows a revocation.

    Refused while a change of the certificate is in progress: the new version would otherwise
    become effective and try to supersede a revoked certificate, which neither the database nor
    the ledger allows. Withdraw (delete) or finish the change first.
    """
    cert = _managed(uow, actor, cert_id, MANAGERS)
    text = _reason(reason, "revoking a certificate")
    states.check("certificate", cert.identifier, cert.status, S.REVOKED)
    pending = _pending_change(uow, cert)
    if pending is not None:
        raise Conflict(f"certificate {cert.identifier} has a change in progress ({pending.identifier}, "
                       f"{pending.status.value}); withdraw or finish it before revoking")
    certificates.change_status(uow, actor, cert, S.REVOKED, text, "revoke")
    _queue(uow, actor, cert, EventKind.REVOKE, text)
    return cert


# --- annual review -----------------------------------------------------------------------------

def pass_annual_review(uow: UnitOfWork, actor: Actor, cert_id: int, next_due: date, reason: str = "",
                       today: date | None = None) -> Certificate:
    """年审 passed: sets the next due date (on the ledger too); an overdue certificate is effective again.

    Only certificates whose type has annual review, only effective or overdue ones (a lost,
    revoked or superseded certificate is not reviewed), and the next due date must lie after
    ``today`` -- a review that is due again at once would leave the certificate overdue.
    """
    cert = _managed(uow, actor, cert_id, REVIEWERS)
    today = today or date.today()
    if not cert.annual_review:
        raise ValidationError({"annual_review": f"{cert.type_name} has no annual review"})
    if not isinstance(next_due, date) or isinstance(next_due, datetime):
        raise ValidationError({"next_due": "a date such as 2026-03-01"})
    if next_due <= today:
        raise ValidationError({"next_due": f"the next review must be due after today ({today.isoformat()})"})
    if cert.status not in (S.EFFECTIVE, S.REVIEW_OVERDUE):
        hint = states.FINAL_HINTS.get(cert.status) or "only effective or overdue certificates are reviewed"
        raise IllegalTransition("certificate", cert.identifier, cert.status.value, "annual_review", hint)
    text = (reason or "").strip()[:MAX_REASON] or "年审通过"
    before, previous_due = cert.status, cert.next_review_due
    if cert.status is S.REVIEW_OVERDUE:
        certificates.change_status(uow, actor, cert, S.EFFECTIVE, text, "annual_review_reinstate")
    cert.next_review_due = next_due
    audit.record(uow.session, actor, "certificate.annual_review", "certificate", cert.id, identifier=cert.identifier,
                 from_state=before.value, to_state=cert.status.value, previous_due=previous_due, next_due=next_due,
                 reason=text)
    _queue(uow, actor, cert, EventKind.ANNUAL_REVIEW, text, next_review_due=next_due)
    return cert


def mark_overdue(uow: UnitOfWork, today: date | None = None, actor: Actor = OVERDUE_JOB) -> int:
    """The scheduled job: effective certificates past their review date become ``review_overdue``.

    Idempotent (an overdue certificate is no longer effective, so a second run finds nothing).
    Queues no ledger event: the ledger has neither the status nor the event, it already holds
    the due date and verifiers derive "overdue" from it. Returns how many certificates changed.
    """
    today = today or date.today()
    due = uow.session.execute(select(Certificate).where(
        Certificate.status == S.EFFECTIVE, Certificate.annual_review.is_(True),
        Certificate.next_review_due.is_not(None), Certificate.next_review_due < today)
        .order_by(Certificate.id).with_for_update()).scalars().all()
    for cert in due:
        who = dataclasses.replace(actor, tenant_id=cert.tenant_id) if actor.tenant_id == 0 else actor
        certificates.change_status(uow, who, cert, S.REVIEW_OVERDUE,
                                   f"年审逾期: due {cert.next_review_due.isoformat()}", "review_overdue")
    return len(due)


# --- change (a new version) --------------------------------------------------------------------

def _pending_change(uow: UnitOfWork, cert: Certificate) -> Certificate | None:
    return uow.session.execute(select(Certificate).where(
        Certificate.supersedes_id == cert.id, Certificate.status.in_(PENDING_STATES))).scalars().first()


def change(uow: UnitOfWork, actor: Actor, cert_id: int, reason: str, basic: Mapping[str, Any] | None = None,
           values: Mapping[str, Any] | None = None) -> Certificate:
    """变更: enter the next version of a certificate; returns it as a draft.

    The new version has the same serial and number with version + 1 in its identifier (GB/T
    36904 ``...<serial>.<version>.<check>``) and goes through entry review and issuance review
    like any entry: the seed gives every main step an approval, and DB23/T 2836 5.3.3 has a data
    change re-issued (制证签发). The old version stays as it is -- still valid -- until the new
    one becomes effective; then ``complete_change`` marks it superseded and queues the ledger's
    CHANGE event. ``basic``/``values`` hold only what changes; the rest is carried over. The
    issue date defaults to today (the new version is issued now). The number and holder code
    cannot change: they identify what is being changed.
    """
    old = _managed(uow, actor, cert_id, MANAGERS)
    text = _reason(reason, "changing a certificate")
    states.check("certificate", old.identifier, old.status, S.SUPERSEDED)
    pending = _pending_change(uow, old)
    if pending is not None:
        raise Conflict(f"certificate {old.identifier} already has a change in progress ({pending.identifier})")
    t, dept = certificates._issuable_type(uow, actor, old.type_id)
    changes = {certificates.API_NAMES.get(k, k): v for k, v in (basic or {}).items()}
    fixed = {k: "cannot change in a change; enter a new certificate instead" for k in FIXED_IN_CHANGE
             if k in changes and str(changes[k]).strip().upper() != str(
                 old.number if k == "number" else certificates.holder_code_of(uow, old)).upper()}
    if fixed:
        raise ValidationError(fixed)
    current: dict[str, Any] = {k: getattr(old, k) for k in (
        "name", "holder", "holder_type", "number", "valid_from", "valid_to", "area_code", "matter_code")}
    current["holder_code"] = certificates.holder_code_of(uow, old)
    current["issue_date"] = date.today()
    if old.annual_review and t.annual_review:
        current["next_review_due"] = old.next_review_due
    clean = certificates.validate_basic(t, dept, {**current, **changes}, certificates._issuing_matters(uow, t.id))
    old_values = certificates.values_of(uow, old)
    new_values = validate_values(t.fields, {**old_values, **(values or {})})
    ident = identifiers.parse(old.identifier)
    version = old.version + 1
    new_ident = str(identifiers.make(ident.type_code, ident.issuer_code, int(ident.serial), version))
    new = certificates.draft_certificate(
        uow.cipher, new_ident, clean.pop("holder_code"), new_values,
        tenant_id=old.tenant_id, department_id=old.department_id, type_id=old.type_id,
        type_name=t.name, type_code=old.type_code, issue_dept=dept.name, issue_dept_code=old.issue_dept_code,
        serial=old.serial, version=version, supersedes_id=old.id, annual_review=t.annual_review,
        created_by_id=actor.user_id, **clean,
    )
    uow.session.add(new)
    uow.session.flush()
    basic_changed = sorted(k for k in clean if k != "issue_date" and clean[k] != getattr(old, k, None))
    values_changed = sorted(k for k in set(old_values) | set(new_values) if old_values.get(k) != new_values.get(k))
    audit.record(uow.session, actor, "certificate.change", "certificate", new.id, identifier=new.identifier,
                 supersedes=old.identifier, supersedes_id=old.id, reason=text, basic_changed=basic_changed,
                 values_changed=values_changed)
    return new


def _change_reason(uow: UnitOfWork, new: Certificate) -> str:
    """The reason given when the new version was entered (kept in its audit entry)."""
    detail = uow.session.execute(select(AuditEntry.detail).where(
        AuditEntry.action == "certificate.change", AuditEntry.subject_kind == "certificate",
        AuditEntry.subject_id == new.id).order_by(AuditEntry.id.desc()).limit(1)).scalar()
    return (json.loads(detail).get("reason") if detail else "") or f"changed to version {new.version}"


def complete_change(uow: UnitOfWork, actor: Actor, new: Certificate) -> Certificate | None:
    """Call when a certificate has just become effective: a new version supersedes the old one.

    Marks the previous version ``superseded`` and queues the ledger's CHANGE event carrying the
    new version's identifier and digest, so a verifier holding the old one is led to the new
    one. Both stay verifiable: each keeps its anchor, the old with status superseded. Does
    nothing (returns None) for a certificate that is not a new version.
    """
    if new.supersedes_id is None:
        return None
    if new.status is not S.EFFECTIVE:
        raise IllegalTransition("certificate", new.identifier, new.status.value, "supersede its previous version",
                                "only an effective new version supersedes the old one")
    old = uow.session.get(Certificate, new.supersedes_id)
    text = _change_reason(uow, new)
    certificates.change_status(uow, actor, old, S.SUPERSEDED, text, "superseded")
    _queue(uow, actor, old, EventKind.CHANGE, text, superseded_by=new.identifier,
           superseded_by_digest=certificate_digest(uow, new))
    return old


def versions(uow: UnitOfWork, actor: Actor, cert_id: int) -> list[Certificate]:
    """Every version of the certificate's series, oldest first (each keeps its own status)."""
    cert = certificates.get(uow, actor, cert_id)
    return list(uow.session.execute(select(Certificate).where(
        Certificate.type_id == cert.type_id, Certificate.serial == cert.serial,
        Certificate.department_id == cert.department_id).order_by(Certificate.version)).scalars())


# --- annotated copies (加注件, DB23/T 2836 B.3) -----------------------------------------------

@dataclass(frozen=True)
class CopyCheck:
    """The checks of an annotated copy, each with its result (not one boolean only)."""

    signature: bool
    not_expired: bool
    certificate_effective: bool
    trusted_key: bool | None  # None when no key was given to compare with

    @property
    def valid(self) -> bool:
        return self.signature and self.not_expired and self.certificate_effective and self.trusted_key is not False


def copy_data(copy: CertificateCopy, cert_identifier: str, cert_digest: bytes, maker: str, key_id: str) -> bytes:
    """The canonical bytes the maker signs: the B.3 items plus what binds them to the certificate.

    The certificate's ledger digest binds the copy to that exact version's data; the key id
    (SM3 of the maker's public key) names the key that signed. UTF-8 JSON, keys sorted.
    """
    doc = {"v": COPY_DATA_VERSION, "certificateId": cert_identifier, "certificateDigest": cert_digest.hex(),
           "creationTime": _utc_text(copy.creation_time), "creationOrganization": copy.creation_org,
           "purpose": copy.purpose, "expiringTime": _utc_text(copy.expiring_time), "maker": maker, "keyId": key_id}
    return json.dumps(doc, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")


def _utc_text(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _copies_allowed(t: CertificateType) -> None:
    if not t.copy_enabled:
        raise ValidationError({"copy": f"certificate type {t.name} does not allow annotated copies (加注件)"})


def make_copy(uow: UnitOfWork, actor: Actor, cert_id: int, signer: Signer, purpose: str | None = None,
              valid_days: int | None = None) -> CertificateCopy:
    """加注件: a copy of an effective certificate for a purpose, valid for some days, signed by its maker.

    Purpose and validity default to the type's copy settings. The copy expires at the end of
    the last valid day, but never after the certificate's own end of validity: a copy cannot
    make a certificate last longer. ``signer`` is the maker's SM2 key (``certledger.crypto``
    signers: software or token). There are no per-user keys in the domain, so the caller
    supplies the key: a person's own (token) key, or the department's identity through
    ``department_signer`` for copies made in the department's name. The signature, its
    algorithm and the public key are stored together in ``CertificateCopy.signature`` (JSON)
    because the table has no columns for them; ``verify_copy`` checks them and, given the
    maker's trusted key, that it is the same key.
    """
    cert = _managed(uow, actor, cert_id, MANAGERS)
    t = uow.session.get(CertificateType, cert.type_id)
    _copies_allowed(t)
    if cert.status is not S.EFFECTIVE:
        raise IllegalTransition("certificate", cert.identifier, cert.status.value, "copied",
                                "only an effective certificate can be copied")
    if signer.algorithm != SM2_SM3:
        raise ValidationError({"signer": "an annotated copy is signed with SM2 (sm2-sm3)"})
    text = (purpose if purpose is not None else t.copy_default_purpose or "").strip()
    if not text or len(text) > 256:
        raise ValidationError({"purpose": "the purpose (用途) is required, at most 256 characters"})
    days = t.copy_validity_days if valid_days is None else valid_days
    if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= 3650:
        raise ValidationError({"valid_days": "a whole number of days from 1 to 3650"})
    now = utcnow().replace(microsecond=0)
    expiring = datetime.combine(now.date() + timedelta(days=days), time(23, 59, 59), timezone.utc)
    if cert.valid_to is not None:
        expiring = min(expiring, datetime.combine(cert.valid_to, time(23, 59, 59), timezone.utc))
    dept = uow.session.get(Department, cert.department_id)
    copy = CertificateCopy(certificate_id=cert.id, creation_time=now, creation_org=dept.name, purpose=text,
                           expiring_time=expiring, maker_id=actor.user_id)
    pub = signer.public_key_der()
    key_id = sm3(pub).hex()
    data = copy_data(copy, cert.identifier, certificate_digest(uow, cert), actor.username, key_id)
    copy.signature = json.dumps({"alg": signer.algorithm, "maker": actor.username, "keyId": key_id,
                                 "publicKey": base64.b64encode(pub).decode(),
                                 "value": base64.b64encode(signer.sign(data)).decode()}, sort_keys=True)
    uow.session.add(copy)
    uow.session.flush()
    audit.record(uow.session, actor, "certificate.copy", "certificate", cert.id, identifier=cert.identifier,
                 copy_id=copy.id, purpose=text, expiring_time=_utc_text(expiring), key_id=key_id)
    return copy


def department_signer(uow: UnitOfWork, ca: Any, department_id: int) -> tuple[Signer, bytes]:
    """The department's SM2 key (``issuance.signing_identity``) as a signer, with its certificate (DER).

    For copies made in the department's name: the certificate is issued by the platform CA, so
    a verifier can take the trusted maker key from it (``trusted_key_of``) instead of from us.
    The identity is made on first need; the caller commits.
    """
    from certledger.crypto.sm2 import SM2PrivateKey
    from certledger.crypto.signers import SoftSM2Signer
    from .signing_identity import signing_material

    material = signing_material(uow, ca, department_id)
    return SoftSM2Signer(SM2PrivateKey.from_der(material.key_der)), material.certificate_der


def trusted_key_of(certificate_der: bytes) -> bytes:
    """The public key (SubjectPublicKeyInfo DER) of a maker's X.509 certificate."""
    from certledger.crypto import x509 as X

    return X.public_key_der(X.load(certificate_der))


def verify_copy(uow: UnitOfWork, copy: CertificateCopy, trusted_public_key_der: bytes | None = None,
                now: datetime | None = None) -> CopyCheck:
    """Recompute the signed data from the stored copy and certificate, and check each part."""
    cert = uow.session.get(Certificate, copy.certificate_id)
    now = now or utcnow()
    try:
        sig = json.loads(copy.signature)
        pub, value = base64.b64decode(sig["publicKey"]), base64.b64decode(sig["value"])
        data = copy_data(copy, cert.identifier, certificate_digest(uow, cert), sig["maker"], sig["keyId"])
        ok = sig["keyId"] == sm3(pub).hex() and verify_signature(sig["alg"], pub, data, value)
    except (ValueError, KeyError, TypeError):
        ok, pub = False, b""
    trusted = None if trusted_public_key_der is None else pub == trusted_public_key_der
    return CopyCheck(ok, now <= copy.expiring_time, cert.status is S.EFFECTIVE, trusted)


def copies(uow: UnitOfWork, actor: Actor, cert_id: int) -> list[CertificateCopy]:
    """The annotated copies of a certificate of the actor's department, newest first."""
    cert = certificates.get(uow, actor, cert_id)
    return list(uow.session.execute(select(CertificateCopy).where(CertificateCopy.certificate_id == cert.id)
                                    .order_by(CertificateCopy.id.desc())).scalars())


# --- reads for the management pages (证照管理 / 证照年审) ---------------------------------------

ANNUAL_LISTED = (S.EFFECTIVE, S.REVIEW_OVERDUE, S.LOST, S.REVOKED, S.SUPERSEDED)


def ledger_history(ledger: Any, cert: Certificate) -> list:
    """The certificate's events as the ledger holds them (``ledger.EventRecord``), oldest first.

    Empty before the certificate is anchored. Raises ``ledger.LedgerError`` when the ledger
    cannot answer; the caller shows that rather than an empty history.
    """
    return list(ledger.history(cert.identifier))


def waiting_for_ledger(uow: UnitOfWork, cert: Certificate) -> list[OutboxItem]:
    """Anchors and events of ``cert`` queued for the ledger but not written yet, oldest first.

    A loss or revocation is on the ledger only once the outbox is drained; the page says so
    instead of showing a history that seems to have missed the change.
    """
    return list(uow.session.execute(select(OutboxItem).where(
        OutboxItem.certificate_id == cert.identifier, OutboxItem.state != "done").order_by(OutboxItem.id)).scalars())


def annual_review_search(uow: UnitOfWork, actor: Actor, text: str = "", status: str = "",
                         due_before: date | None = None, overdue: bool = False, today: date | None = None,
                         page: int = 1, size: int = 20, sort: str = "next_review_due"):
    """证照年审 list: issued certificates of types with annual review, of the actor's department.

    ``overdue``: past the due date, whether the scheduled job has marked them yet or not
    (review_overdue, or effective with a due date before ``today``). ``due_before``: due on or
    before that date. Returns ``listing.Page[Certificate]``.
    """
    from .listing import paginate

    actor.require(*REVIEWERS)
    today = today or date.today()
    stmt = select(Certificate).where(Certificate.tenant_id == actor.tenant_id, Certificate.annual_review.is_(True),
                                     Certificate.status.in_(ANNUAL_LISTED))
    if not actor.is_admin:
        stmt = stmt.where(Certificate.department_id == actor.require_department())
    stmt = certificates.filtered(uow, stmt, text, status)
    if due_before:
        stmt = stmt.where(Certificate.next_review_due <= due_before)
    if overdue:
        stmt = stmt.where((Certificate.status == S.REVIEW_OVERDUE)
                          | ((Certificate.status == S.EFFECTIVE) & (Certificate.next_review_due < today)))
    return paginate(uow.session, stmt, page, size, sort, {
        "next_review_due": Certificate.next_review_due, "holder": Certificate.holder, "number": Certificate.number,
        "issue_date": Certificate.issue_date, "status": Certificate.status, "created_at": Certificate.created_at})
