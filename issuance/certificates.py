"""Certificate entry, review and the data items of DB23/T 2836 appendix B.

Entry is validated in full before anything is written: a batch is stored entirely or not at
all, with every row's problems reported together. Custom values and the holder code are
encrypted at rest; the holder code also gets a blind index so it can still be searched.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from typing import Any, Iterable, Mapping, Sequence

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from stdnum.cn import ric, uscc
from stdnum.exceptions import ValidationError as StdnumError

from certledger.db.base import utcnow
from . import approval, audit, identifiers, states
from .codes import HOLDER_TYPES, is_region_code
from .context import Actor
from .errors import Conflict, IllegalTransition, NotFound, PermissionDenied, ValidationError
from .field_values import parse_date, validate_values
from .listing import Page, like, paginate
from .models import Certificate, CertificateStatus, CertificateType, Department, Matter, RoleCode, SerialCounter
from .models.matters import LinkKind, MatterTypeLink
from .models.org import ReviewState
from .unit_of_work import UnitOfWork

S = CertificateStatus
EDITABLE_STATES = (S.DRAFT,)
DELETABLE_STATES = (S.DRAFT, S.SUBMITTED, S.APPROVED)
LIVE_STATES = (S.DRAFT, S.SUBMITTED, S.APPROVED, S.ISSUING, S.EFFECTIVE, S.LOST, S.REVIEW_OVERDUE)

# the DB23/T 2836 interface names of the basic data items, accepted as entry keys too
API_NAMES = {
    "certificateName": "name", "certificateHolder": "holder", "certificateHolderCode": "holder_code",
    "certificateHolderType": "holder_type", "certificateNumber": "number", "certificateIssuedDate": "issue_date",
    "certificateValidateStart": "valid_from", "certificateValidateEnd": "valid_to",
    "certificateAreaCode": "area_code", "relatedMatterCode": "matter_code",
}
BASIC_KEYS = ("name", "holder", "holder_code", "holder_type", "number", "issue_date", "valid_from", "valid_to",
              "area_code", "matter_code", "next_review_due")


@dataclass(frozen=True)
class Entry:
    """One certificate to enter: basic data items and the type's custom field values."""

    basic: Mapping[str, Any]
    values: Mapping[str, Any]


def _opt_date(raw: Any, key: str, errors: dict) -> date | None:
    if raw in (None, ""):
        return None
    try:
        return parse_date(raw)
    except ValueError as exc:
        errors[key] = str(exc)
        return None


def check_holder_code(holder_type: str, code: str) -> str:
    if holder_type == "01":
        try:
            return uscc.validate(code)
        except StdnumError:
            raise ValueError("not a valid unified social credit code") from None
    if holder_type == "10":
        try:
            return ric.validate(code)
        except StdnumError:
            raise ValueError("not a valid resident identity card number") from None
    code = code.strip().upper()
    if not code or len(code) > 64 or not all(c.isalnum() or c in "-()" for c in code):
        raise ValueError("1-64 letters and digits")
    return code


def validate_basic(ctype: CertificateType, dept: Department, basic: Mapping[str, Any],
                   matters: Mapping[str, Matter], prefix: str = "") -> dict:
    basic = {API_NAMES.get(k, k): v for k, v in basic.items()}
    errors: dict[str, str] = {}
    unknown = set(basic) - set(BASIC_KEYS)
    for k in sorted(unknown):
        errors[f"{prefix}{k}"] = "unknown data item"
    out: dict[str, Any] = {}
    out["name"] = str(basic.get("name") or ctype.name).strip()[:128]
    out["holder"] = str(basic.get("holder") or "").strip()
    if not out["holder"] or len(out["holder"]) > 256:
        errors[f"{prefix}holder"] = "the holder (持证主体) is required, at most 256 characters"
    out["holder_type"] = str(basic.get("holder_type") or ctype.holder_type).strip()
    if out["holder_type"] not in HOLDER_TYPES:
        errors[f"{prefix}holder_type"] = f"one of {', '.join(HOLDER_TYPES)}"
    raw_code = str(basic.get("holder_code") or "").strip()
    if not raw_code:
        errors[f"{prefix}holder_code"] = "the holder code (持证主体代码) is required"
    else:
        try:
            out["holder_code"] = check_holder_code(out["holder_type"], raw_code)
        except ValueError as exc:
            errors[f"{prefix}holder_code"] = str(exc)
    out["number"] = str(basic.get("number") or "").strip()
    if not out["number"] or len(out["number"]) > 128:
        errors[f"{prefix}number"] = "the certificate number (证照编号) is required, at most 128 characters"
    issue = _opt_date(basic.get("issue_date"), f"{prefix}issue_date", errors)
    out["issue_date"] = issue or date.today()
    out["valid_from"] = _opt_date(basic.get("valid_from"), f"{prefix}valid_from", errors)
    out["valid_to"] = _opt_date(basic.get("valid_to"), f"{prefix}valid_to", errors)
    if out["valid_from"] and out["valid_to"] and out["valid_to"] < out["valid_from"]:
        errors[f"{prefix}valid_to"] = "the end of validity is before its start"
    out["area_code"] = str(basic.get("area_code") or dept.region_code).strip()
    if not is_region_code(out["area_code"]):
        errors[f"{prefix}area_code"] = "a six-digit region code"
    code = str(basic.get("matter_code") or "").strip()
    out["matter_code"], out["matter_name"] = "", ""
    if code:
        if code not in matters:
            errors[f"{prefix}matter_code"] = f"no matter {code} issues this certificate type"
        else:
            out["matter_code"], out["matter_name"] = code, matters[code].name
    due = _opt_date(basic.get("next_review_due"), f"{prefix}next_review_due", errors)
    if ctype.annual_review:
        out["next_review_due"] = due or _add_months(out["issue_date"], ctype.review_interval_months)
    elif due:
        errors[f"{prefix}next_review_due"] = "this certificate type has no annual review"
    if errors:
        raise ValidationError(errors)
    return out


def _add_months(d: date, months: int) -> date:
    y, m = divmod(d.month - 1 + months, 12)
    year, month = d.year + y, m + 1
    for day in (d.day, 30, 29, 28):
        try:
            return date(year, month, day)
        except ValueError:
            continue
    raise AssertionError("unreachable")


def _issuable_type(uow: UnitOfWork, actor: Actor, type_id: int) -> tuple[CertificateType, Department]:
    actor.require(RoleCode.CLERK, RoleCode.DEPT_ADMIN)
    dept_id = actor.require_department()
    t = uow.session.get(CertificateType, type_id)
    if t is None or t.tenant_id != actor.tenant_id:
        raise NotFound(f"certificate type {type_id} not found")
    if t.department_id != dept_id:
        raise PermissionDenied("certificates are entered by the department that owns the type")
    if t.status is not ReviewState.APPROVED:
        raise ValidationError({"type_id": f"{t.name} has not passed type review"})
    dept = uow.session.get(Department, dept_id)
    if dept.status is not ReviewState.APPROVED:
        raise PermissionDenied(f"{dept.name} has not been approved to use the platform")
    return t, dept


def _issuing_matters(uow: UnitOfWork, type_id: int) -> dict[str, Matter]:
    rows = uow.session.execute(select(Matter).join(MatterTypeLink, MatterTypeLink.matter_id == Matter.id).where(
        MatterTypeLink.type_id == type_id, MatterTypeLink.kind == LinkKind.ISSUES)).scalars()
    return {m.code: m for m in rows}


def _take_serials(uow: UnitOfWork, type_id: int, dept_id: int, n: int) -> int:
    """Reserve ``n`` consecutive serials under a row lock; returns the first."""
    s = uow.session
    stmt = select(SerialCounter).where(SerialCounter.type_id == type_id, SerialCounter.department_id == dept_id)
    counter = s.execute(stmt.with_for_update()).scalar_one_or_none()
    if counter is None:
        try:
            with s.begin_nested():
                s.add(SerialCounter(type_id=type_id, department_id=dept_id, next_serial=1))
        except IntegrityError:
            pass  # another writer created it first
        counter = s.execute(stmt.with_for_update()).scalar_one()
    first = counter.next_serial
    counter.next_serial = first + n
    return first


def enter_many(uow: UnitOfWork, actor: Actor, type_id: int, entries: Sequence[Entry]) -> list[Certificate]:
    """Enter certificates of one type: all of them, or none with every row's problems listed."""
    t, dept = _issuable_type(uow, actor, type_id)
    if not entries:
        raise ValidationError({"entries": "nothing to enter"})
    matters = _issuing_matters(uow, t.id)
    fields = list(t.fields)
    rows, errors = [], {}
    seen_numbers: dict[str, int] = {}
    for i, e in enumerate(entries, start=1):
        prefix = f"row {i}: " if len(entries) > 1 else ""
        row_errors: dict[str, str] = {}
        basic = values = None
        try:
            basic = validate_basic(t, dept, e.basic, matters, prefix)
        except ValidationError as exc:
            row_errors.update(exc.errors)
        try:
            values = validate_values(fields, e.values, prefix)
        except ValidationError as exc:
            row_errors.update(exc.errors)
        if basic and basic["number"] in seen_numbers:
            row_errors[f"{prefix}number"] = f"same certificate number as row {seen_numbers[basic['number']]}"
        if basic:
            seen_numbers.setdefault(basic["number"], i)
        errors.update(row_errors)
        rows.append((basic, values))
    if not errors:
        # every status counts: a revoked certificate keeps its number (unique per type and version)
        existing = set(uow.session.execute(select(Certificate.number).where(
            Certificate.type_id == t.id, Certificate.number.in_(list(seen_numbers)))).scalars())
        for number in sorted(existing):
            i = seen_numbers[number]
            prefix = f"row {i}: " if len(entries) > 1 else ""
            errors[f"{prefix}number"] = f"a certificate {number} of this type already exists"
    if errors:
        raise ValidationError(errors)
    cipher = uow.cipher
    first = _take_serials(uow, t.id, dept.id, len(rows))
    certs = []
    for offset, (basic, values) in enumerate(rows):
        serial = first + offset
        ident = str(identifiers.make(t.code, dept.code, serial, 1))
        cert = draft_certificate(
            cipher, ident, basic.pop("holder_code"), values,
            tenant_id=t.tenant_id, department_id=dept.id, type_id=t.id,
            type_name=t.name, type_code=t.code, issue_dept=dept.name, issue_dept_code=dept.code,
            serial=serial, version=1, annual_review=t.annual_review, created_by_id=actor.user_id, **basic,
        )
        certs.append(cert)
    uow.session.add_all(certs)
    uow.session.flush()
    audit.record(uow.session, actor, "certificate.enter", "certificate_type", t.id, count=len(certs),
                 first=certs[0].identifier, last=certs[-1].identifier)
    return certs


def draft_certificate(cipher, identifier: str, holder_code: str, values: Mapping[str, Any],
                      **columns: Any) -> Certificate:
    """A new draft row: the holder code and the field values encrypted under its identifier."""
    return Certificate(
        identifier=identifier,
        holder_code_enc=cipher.encrypt(holder_code.encode(), f"holder:{identifier}"),
        holder_code_index=cipher.blind_index(holder_code),
        data_enc=cipher.encrypt(json.dumps(values, ensure_ascii=False, sort_keys=True).encode(),
                                f"data:{identifier}"),
        status=S.DRAFT, **columns,
    )


def enter(uow: UnitOfWork, actor: Actor, type_id: int, basic: Mapping[str, Any], values: Mapping[str, Any]) -> Certificate:
    return enter_many(uow, actor, type_id, [Entry(basic, values)])[0]


def get(uow: UnitOfWork, actor: Actor, cert_id: int) -> Certificate:
    """Department isolation: a certificate is visible to its own department and to admins."""
    c = uow.session.get(Certificate, cert_id)
    if c is None or c.tenant_id != actor.tenant_id or not actor.can_see_department(c.department_id):
        raise NotFound(f"certificate {cert_id} not found")
    return c


def get_by_identifier(uow: UnitOfWork, actor: Actor, identifier: str) -> Certificate:
    c = uow.session.execute(select(Certificate).where(Certificate.identifier == identifier)).scalar_one_or_none()
    if c is None or c.tenant_id != actor.tenant_id or not actor.can_see_department(c.department_id):
        raise NotFound(f"certificate {identifier} not found")
    return c


def values_of(uow: UnitOfWork, cert: Certificate) -> dict[str, str]:
    return json.loads(uow.cipher.decrypt(cert.data_enc, f"data:{cert.identifier}"))


def holder_code_of(uow: UnitOfWork, cert: Certificate) -> str:
    return uow.cipher.decrypt(cert.holder_code_enc, f"holder:{cert.identifier}").decode()


def _writable(uow: UnitOfWork, actor: Actor, cert_id: int, allowed: Iterable[S], verb: str) -> Certificate:
    actor.require(RoleCode.CLERK, RoleCode.DEPT_ADMIN)
    c = get(uow, actor, cert_id)
    if c.status not in tuple(allowed):
        hint = "issued certificates cannot be edited or deleted" if c.status not in (S.DRAFT, S.SUBMITTED, S.APPROVED) \
            else "it is under review"
        raise IllegalTransition("certificate", c.identifier, c.status.value, verb, hint)
    return c


def update(uow: UnitOfWork, actor: Actor, cert_id: int, basic: Mapping[str, Any] | None = None,
           values: Mapping[str, Any] | None = None) -> Certificate:
    c = _writable(uow, actor, cert_id, EDITABLE_STATES, "edited")
    t = uow.session.get(CertificateType, c.type_id)
    dept = uow.session.get(Department, c.department_id)
    current = {k: getattr(c, k) for k in ("name", "holder", "holder_type", "number", "issue_date", "valid_from",
                                           "valid_to", "area_code", "matter_code")}
    current["holder_code"] = holder_code_of(uow, c)
    if c.annual_review:
        current["next_review_due"] = c.next_review_due
    merged_basic = {**current, **{API_NAMES.get(k, k): v for k, v in (basic or {}).items()}}
    clean = validate_basic(t, dept, merged_basic, _issuing_matters(uow, t.id))
    new_values = validate_values(t.fields, values if values is not None else values_of(uow, c))
    if clean["number"] != c.number and uow.session.execute(select(func.count()).select_from(Certificate).where(
            Certificate.type_id == t.id, Certificate.number == clean["number"], Certificate.id != c.id,
            Certificate.status.in_(LIVE_STATES))).scalar():
        raise Conflict(f"a certificate {clean['number']} of this type already exists")
    cipher = uow.cipher
    holder_code = clean.pop("holder_code")
    c.holder_code_enc = cipher.encrypt(holder_code.encode(), f"holder:{c.identifier}")
    c.holder_code_index = cipher.blind_index(holder_code)
    c.data_enc = cipher.encrypt(json.dumps(new_values, ensure_ascii=False, sort_keys=True).encode(), f"data:{c.identifier}")
    for k, v in clean.items():
        setattr(c, k, v)
    audit.record(uow.session, actor, "certificate.update", "certificate", c.id, identifier=c.identifier)
    return c


def delete(uow: UnitOfWork, actor: Actor, cert_id: int) -> None:
    c = _writable(uow, actor, cert_id, DELETABLE_STATES, "deleted")
    audit.record(uow.session, actor, "certificate.delete", "certificate", c.id, identifier=c.identifier)
    uow.session.delete(c)


ENTRY_REVIEW, ISSUANCE_REVIEW = "entry_review", "issuance_review"
_REVIEW_WAITS_IN = {ENTRY_REVIEW: (S.SUBMITTED, "approved", "draft", "it is not waiting for entry review"),
                    ISSUANCE_REVIEW: (S.APPROVED, "issuing", "submitted", "it is not waiting for issuance review")}


def get_many(uow: UnitOfWork, actor: Actor, cert_ids: Sequence[int]) -> list[Certificate]:
    """``get`` for many ids in one query, in the order given; NotFound names the first missing one."""
    ids = list(dict.fromkeys(cert_ids))
    found = {c.id: c for c in uow.session.execute(select(Certificate).where(Certificate.id.in_(ids))).scalars()}
    for i in ids:
        c = found.get(i)
        if c is None or c.tenant_id != actor.tenant_id or not actor.can_see_department(c.department_id):
            raise NotFound(f"certificate {i} not found")
    return [found[i] for i in ids]


def submit(uow: UnitOfWork, actor: Actor, cert_id: int) -> Certificate:
    return submit_many(uow, actor, [cert_id])[0]


def submit_many(uow: UnitOfWork, actor: Actor, cert_ids: Sequence[int]) -> list[Certificate]:
    """Send drafts to entry review (提交审核)."""
    actor.require(RoleCode.CLERK, RoleCode.DEPT_ADMIN)
    certs = get_many(uow, actor, cert_ids)
    approval.submit_many(uow.session, actor, approval.CERTIFICATE, certs)
    return certs


def review_entry(uow: UnitOfWork, actor: Actor, cert_id: int, approve: bool, reason: str = "") -> Certificate:
    """Entry review: approve for issuance, or reject back to the clerk with a reason."""
    return review_many(uow, actor, [cert_id], ENTRY_REVIEW, approve, reason)[0]


def review_issuance(uow: UnitOfWork, actor: Actor, cert_id: int, approve: bool, reason: str = "") -> Certificate:
    """Issuance review: start issuance (发起签发), or reject (驳回) back to entry review."""
    return review_many(uow, actor, [cert_id], ISSUANCE_REVIEW, approve, reason)[0]


def review_many(uow: UnitOfWork, actor: Actor, cert_ids: Sequence[int], stage: str, approve: bool,
                reason: str = "") -> list[Certificate]:
    """One decision of ``stage`` (ENTRY_REVIEW or ISSUANCE_REVIEW) on many certificates (批量审核).

    Every certificate must wait in that stage, or nothing is decided: a batch approved from a
    list the reviewer saw must not silently include one that moved on in the meantime.
    """
    if stage not in _REVIEW_WAITS_IN:
        raise ValidationError({"stage": f"unknown review stage {stage!r}"})
    waits_in, approved_to, rejected_to, why = _REVIEW_WAITS_IN[stage]
    certs = get_many(uow, actor, cert_ids)
    for c in certs:
        if c.status is not waits_in:
            raise IllegalTransition("certificate", c.identifier, c.status.value, approved_to if approve else rejected_to,
                                    why)
    approval.decide_many(uow.session, actor, approval.CERTIFICATE, certs, approve, reason)
    return certs


def change_status(uow: UnitOfWork, actor: Actor, cert: Certificate, target: S, reason: str, action: str) -> Certificate:
    """The one place a certificate's management data (B.2) changes after issuance."""
    before = cert.status.value
    states.advance("certificate", cert, target)
    cert.status_change_reason, cert.status_change_time = reason, utcnow()
    audit.record(uow.session, actor, f"certificate.{action}", "certificate", cert.id, identifier=cert.identifier,
                 from_state=before, to_state=target.value, reason=reason)
    return cert


def filtered(uow: UnitOfWork, stmt, text: str = "", status: str = "", type_id: int | None = None,
             holder_code: str = ""):
    """``stmt`` over Certificate narrowed by the filters every certificate list offers: text (holder,
    number or identifier), status, type, holder code (through its blind index: it is stored encrypted)."""
    if text:
        pat = like(text)
        stmt = stmt.where(Certificate.holder.like(pat, escape="\\") | Certificate.number.like(pat, escape="\\")
                          | Certificate.identifier.like(pat, escape="\\"))
    if status:
        try:
            stmt = stmt.where(Certificate.status == S(status))
        except ValueError:
            raise ValidationError({"status": "unknown status"}) from None
    if type_id:
        stmt = stmt.where(Certificate.type_id == type_id)
    if holder_code:
        stmt = stmt.where(Certificate.holder_code_index == uow.cipher.blind_index(holder_code))
    return stmt


SORTABLE = {"created_at": Certificate.created_at, "holder": Certificate.holder, "number": Certificate.number,
            "issue_date": Certificate.issue_date, "status": Certificate.status, "issue_dept": Certificate.issue_dept}


def search(uow: UnitOfWork, actor: Actor, text: str = "", status: str = "", type_id: int | None = None,
           holder_code: str = "", department_id: int | None = None, page: int = 1, size: int = 20,
           sort: str = "-created_at") -> Page[Certificate]:
    """A department's certificates; an admin's are every department's (``department_id`` narrows them)."""
    stmt = select(Certificate).where(Certificate.tenant_id == actor.tenant_id)
    if not actor.is_admin:
        stmt = stmt.where(Certificate.department_id == actor.department_id)
    elif department_id:
        stmt = stmt.where(Certificate.department_id == department_id)
    stmt = filtered(uow, stmt, text, status, type_id, holder_code)
    return paginate(uow.session, stmt, page, size, sort, SORTABLE)


def search_all_departments(uow: UnitOfWork, actor: Actor, **filters) -> Page[Certificate]:
    """证照维护: every department's certificates of the tenant, for the platform admin only."""
    actor.require_admin()
    return search(uow, actor, **filters)


def issuing_matters(uow: UnitOfWork, actor: Actor, type_id: int) -> list[Matter]:
    """The matters that issue ``type_id`` (the choices of an entry form's 关联事项), by code.

    Only for a type the actor may enter certificates of (``_issuable_type`` decides).
    """
    t, _dept = _issuable_type(uow, actor, type_id)
    return [m for _code, m in sorted(_issuing_matters(uow, t.id).items())]


def matters_of(uow: UnitOfWork, cert: Certificate) -> list[Matter]:
    """The matters that issue ``cert``'s type (the choices of its edit form), by code; ``cert`` is
    one the actor was allowed to read (``get``)."""
    return [m for _code, m in sorted(_issuing_matters(uow, cert.type_id).items())]
