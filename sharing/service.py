"""What the sharing interface reads, and the shapes of its answers (appendix C).

The views in ``sharing.api`` only parse, check and answer; the reads of certificates and types
for a client system live here, in one place, each one filtered by the caller's tenant and by the
certificate types its approved usage covers (``Caller.may_use``). A certificate outside that
usage is answered exactly like one that does not exist, so its existence is not revealed.
(These are read-side queries of the sharing context; if ``issuance`` grows a sharing read
service, they move there unchanged.)

Certificate status in file and data answers: the seed's manual says a certificate reported lost
"将停止使用" and a revoked one "将正式停止使用". So the file and data methods give out effective
certificates only; asked by identifier for a lost, revoked, superseded or review-overdue one,
they refuse with ``1303`` and name the status (the caller has a right to the type, so the status
is no secret to it). VerifyCertificate and Retrieval do report such certificates, with their
status, since telling a verifier that a certificate stopped being usable is their purpose.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any, Callable, Mapping, Sequence

from sqlalchemy import select

from issuance import certificates, identifiers
from issuance.codes import HOLDER_TYPES
from issuance.field_values import parse_date
from issuance.models import Certificate, CertificateStatus as S, CertificateType
from issuance.models.org import ReviewState
from issuance.unit_of_work import UnitOfWork
from issuance.verification import Verdict

from .codes import Code

ISSUED = (S.EFFECTIVE, S.LOST, S.REVOKED, S.REVIEW_OVERDUE, S.SUPERSEDED)
MAX_HOLDER_RESULTS = 100
STATUS_NAMES = {S.EFFECTIVE: "有效", S.LOST: "已挂失", S.REVOKED: "已注销", S.REVIEW_OVERDUE: "年审逾期",
                S.SUPERSEDED: "已变更（被新版本取代）"}


class Refusal(Exception):
    """A refusal with its return code; ``detail`` is appended to the code's message."""

    def __init__(self, code: Code, detail: str = "", data: Any = None) -> None:
        super().__init__(f"{code.value} {code.message}{': ' + detail if detail else ''}")
        self.code, self.detail, self.data = code, detail, data


@dataclass
class Caller:
    """An authenticated client system for the length of one request."""

    account_id: str
    ip: str
    client_system: Any
    tenant_id: int
    allowed: Callable[[str], bool]             # usage.allowed for a type code, answered once per code
    _seen: dict[str, bool] = field(default_factory=dict)

    def may_use(self, type_code: str) -> bool:
        if type_code not in self._seen:
            self._seen[type_code] = bool(self.allowed(type_code))
        return self._seen[type_code]


def cn_date(d: date | None) -> str:
    """The standard's date form (appendix C: "1995年3月1日"); "" for none."""
    return f"{d.year}年{d.month}月{d.day}日" if d else ""


# --- finding certificates -----------------------------------------------------------------------

def by_identifier(uow: UnitOfWork, caller: Caller, identifier: str, type_code: str | None) -> Certificate:
    """The effective certificate ``identifier`` if the caller may see it; else a Refusal.

    The identifier names its type (GB/T 36904), so usage is checked before the database is read:
    a type the caller has no right to is "not found or no right", as is an unknown certificate.
    """
    ident_type = identifiers.parse(identifier).type_code
    if type_code is not None:
        if not caller.may_use(type_code):
            raise Refusal(Code.NO_USAGE_RIGHT, type_code)
        if type_code != ident_type:
            raise Refusal(Code.CERTIFICATE_NOT_FOUND)
    if not caller.may_use(ident_type):
        raise Refusal(Code.CERTIFICATE_NOT_FOUND)
    cert = uow.session.execute(select(Certificate).where(Certificate.identifier == identifier)).scalar_one_or_none()
    if cert is None or cert.tenant_id != caller.tenant_id or cert.status not in ISSUED \
            or not caller.may_use(cert.type_code):
        raise Refusal(Code.CERTIFICATE_NOT_FOUND)
    if cert.status is not S.EFFECTIVE:
        raise Refusal(Code.CERTIFICATE_NOT_EFFECTIVE, STATUS_NAMES[cert.status],
                      {"certificateID": cert.identifier, "certificateStatus": cert.status.value})
    return cert


def by_holder(uow: UnitOfWork, caller: Caller, holder_index: str, type_code: str, holder_type: str | None,
              number: str | None) -> list[Certificate]:
    """The holder's effective certificates of one type (at most 100), newest first; else a Refusal."""
    if not caller.may_use(type_code):
        raise Refusal(Code.NO_USAGE_RIGHT, type_code)
    stmt = select(Certificate).where(Certificate.tenant_id == caller.tenant_id, Certificate.type_code == type_code,
                                     Certificate.holder_code_index == holder_index, Certificate.status.in_(ISSUED))
    if holder_type is not None:
        stmt = stmt.where(Certificate.holder_type == holder_type)
    if number is not None:
        stmt = stmt.where(Certificate.number == number)
    found = uow.session.execute(stmt.order_by(Certificate.issue_date.desc(), Certificate.id.desc())
                                .limit(MAX_HOLDER_RESULTS)).scalars().all()
    effective = [c for c in found if c.status is S.EFFECTIVE]
    if effective:
        return effective
    if found:
        c = found[0]
        raise Refusal(Code.CERTIFICATE_NOT_EFFECTIVE, STATUS_NAMES[c.status],
                      {"certificateID": c.identifier, "certificateStatus": c.status.value})
    raise Refusal(Code.CERTIFICATE_NOT_FOUND)


@dataclass(frozen=True)
class Found:
    """One page of Retrieval."""

    items: Sequence[Certificate]
    total: int


def retrieve(uow: UnitOfWork, caller: Caller, type_code: str, holder_index: str | None, issue_dept_code: str | None,
             start: date | None, end: date | None, page: int, size: int) -> Found:
    if not caller.may_use(type_code):
        raise Refusal(Code.NO_USAGE_RIGHT, type_code)
    from sqlalchemy import func

    stmt = select(Certificate).where(Certificate.tenant_id == caller.tenant_id, Certificate.type_code == type_code,
                                     Certificate.status.in_(ISSUED))
    if holder_index is not None:
        stmt = stmt.where(Certificate.holder_code_index == holder_index)
    if issue_dept_code is not None:
        stmt = stmt.where(Certificate.issue_dept_code == issue_dept_code)
    if start is not None:
        stmt = stmt.where(Certificate.issue_date >= start)
    if end is not None:
        stmt = stmt.where(Certificate.issue_date <= end)
    total = uow.session.execute(select(func.count()).select_from(stmt.subquery())).scalar_one()
    items = uow.session.execute(stmt.order_by(Certificate.issue_date.desc(), Certificate.id.desc())
                                .limit(size).offset((page - 1) * size)).scalars().all()
    return Found(items, total)


def allowed_types(uow: UnitOfWork, caller: Caller, codes: set[str]) -> list[CertificateType]:
    """The approved types of the caller's tenant among ``codes`` (what its usage covers), by code."""
    if not codes:
        return []
    return list(uow.session.execute(select(CertificateType).where(
        CertificateType.tenant_id == caller.tenant_id, CertificateType.code.in_(sorted(codes)),
        CertificateType.status == ReviewState.APPROVED).order_by(CertificateType.code)).scalars())


@dataclass(frozen=True)
class FieldView:
    name: str
    column_name: str
    value_type: str
    required: bool


@dataclass(frozen=True)
class TypeView:
    """What the answers need of a certificate type, read once and kept (types barely change)."""

    id: int
    code: str
    name: str
    has_design: bool
    fields: tuple[FieldView, ...]


def type_view(uow: UnitOfWork, type_id: int) -> TypeView | None:
    t = uow.session.get(CertificateType, type_id)
    if t is None:
        return None
    return TypeView(t.id, t.code, t.name, bool(t.surface_design),
                    tuple(FieldView(f.name, f.column_name, f.value_type.value, f.required) for f in t.fields))


# --- answers ------------------------------------------------------------------------------------

def summary_item(cert: Certificate, holder_code: str) -> dict[str, Any]:
    """The basic data items of a certificate under the standard's interface names (appendix C.4)."""
    return {
        "certificateID": cert.identifier,
        "certificateType": cert.type_name,
        "certificateTypeCode": cert.type_code,
        "certificateName": cert.name,
        "certificateHolder": cert.holder,
        "certificateHolderCode": holder_code,
        "certificateHolderType": cert.holder_type,
        "issueDept": cert.issue_dept,
        "issueDeptCode": cert.issue_dept_code,
        "certificateNumber": cert.number,
        "certificateIssuedDate": cn_date(cert.issue_date),
        "certificateValidateStart": cn_date(cert.valid_from),
        "certificateValidateEnd": cn_date(cert.valid_to),
        "certificateAreaCode": cert.area_code,
        "certificateStatus": cert.status.value,
    }


def data_item(uow: UnitOfWork, cert: Certificate, ctype: TypeView) -> dict[str, Any]:
    """One element of ``dataList`` of GetCertificateData* (appendix C.4), ``surface`` in field order.

    Every field of the type is listed, an empty one with ``""`` (as ``puburl`` in C.4), so a
    client sees the type's whole face; VerifyCertificate reads empty values as absent, so this
    item can be sent back as CertificateData unchanged and verifies.
    """
    values = certificates.values_of(uow, cert)
    item = summary_item(cert, certificates.holder_code_of(uow, cert))
    item["surface"] = [{"name": f.name, "columnName": f.column_name, "valueType": f.value_type,
                        "value": values.get(f.column_name, "")} for f in ctype.fields]
    item["detail"] = []
    return item


def file_item(cert: Certificate, url: str, file_format: str, expires_at: str) -> dict[str, Any]:
    """One element of ``dataList`` of the file and picture methods (appendix C.2, C.7)."""
    return {"certificateID": cert.identifier, "certificateType": cert.type_name, "issueDept": cert.issue_dept,
            "certificateNumber": cert.number, "fileUrl": url, "fileFormat": file_format, "expiresAt": expires_at}


def type_item(t: CertificateType, dept_name: str, dept_code: str) -> dict[str, Any]:
    """One element of GetCertificateType's ``dataList`` (table 18, reconstructed)."""
    return {
        "certificateType": t.name,
        "certificateTypeCode": t.code,
        "certificateDefineAuthority": t.define_authority or dept_name,
        "certificateDefineAuthorityCode": t.define_authority_code or dept_code,
        "certificateHolderCategory": t.holder_type,
        "certificateHolderCategoryName": HOLDER_TYPES.get(t.holder_type, ""),
        "issueDept": dept_name,
        "issueDeptCode": dept_code,
        "annualReview": t.annual_review,
        "hasLayoutFile": bool(t.surface_design),
        "surface": [{"name": f.name, "columnName": f.column_name, "valueType": f.value_type.value,
                     "required": f.required} for f in t.fields],
    }


def verdict_answer(verdict: Verdict) -> dict[str, Any]:
    """VerifyCertificate's data: appendix C.6's ``verifyResult`` ("true"/"false") and every check."""
    return {"verifyResult": "true" if verdict.valid else "false", "certificateID": verdict.identifier,
            "ledgerBlock": verdict.ledger_block,
            "checks": [{"name": c.name, "label": c.label, "result": "true" if c.ok else "false", "detail": c.detail}
                       for c in verdict.checks]}


# --- CertificateData of VerifyCertificate (table 11, reconstructed) ---------------------------------

# interface name -> (canonical basic item, required)
DATA_ITEMS: dict[str, tuple[str, bool]] = {
    "certificateID": ("identifier", True),
    "certificateName": ("name", True),
    "certificateHolder": ("holder", True),
    "certificateHolderCode": ("holder_code", True),
    "certificateHolderType": ("holder_type", True),
    "certificateNumber": ("number", True),
    "certificateIssuedDate": ("issue_date", True),
    "certificateTypeCode": ("type_code", False),     # default: from the identifier
    "issueDeptCode": ("issue_dept_code", False),     # default: from the identifier
    "certificateValidateStart": ("valid_from", False),
    "certificateValidateEnd": ("valid_to", False),
}
DATE_ITEMS = frozenset({"issue_date", "valid_from", "valid_to"})
OPEN_ENDED = frozenset({"长期", "永久", "无"})
MAX_SURFACE_ITEMS = 500
MAX_TEXT = 4096


class DataProblem(ValueError):
    """CertificateData is unusable; ``item`` names the item (as the client spelled it)."""

    def __init__(self, item: str, detail: str, missing: bool = False) -> None:
        super().__init__(f"{item}: {detail}")
        self.item, self.detail, self.missing = item, detail, missing


def _scalar_text(item: str, v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bool) or not isinstance(v, (str, int, float)):
        raise DataProblem(item, "应为字符串")
    text = str(v).strip()
    if len(text) > MAX_TEXT:
        raise DataProblem(item, f"长度不能超过 {MAX_TEXT}")
    return text


def _surface(raw: Any) -> dict[str, str]:
    """Field values from ``surface``: ``[{"columnName", "value"}, ...]`` (as C.4 answers) or ``{column: value}``."""
    if raw is None:
        return {}
    if isinstance(raw, Mapping):
        pairs = list(raw.items())
    elif isinstance(raw, list):
        pairs = []
        for i, el in enumerate(raw):
            if not isinstance(el, Mapping) or not isinstance(el.get("columnName"), str):
                raise DataProblem(f"surface[{i}]", "应为含 columnName 与 value 的对象")
            pairs.append((el["columnName"], el.get("value")))
    else:
        raise DataProblem("surface", "应为数组或对象")
    if len(pairs) > MAX_SURFACE_ITEMS:
        raise DataProblem("surface", f"信息项不能超过 {MAX_SURFACE_ITEMS} 个")
    values: dict[str, str] = {}
    for key, value in pairs:
        column = _scalar_text("surface", key)
        text = _scalar_text(f"surface.{column}", value)
        if text:  # an empty value is an absent one, as at entry
            values[column] = text
    return values


def verify_input(data: Mapping[str, Any]) -> tuple[dict[str, str], dict[str, str]]:
    """(basic items, field values) of ``data`` in the canonical form; DataProblem when unusable.

    The version and, by default, the type and issuer codes come from the GB/T 36904 identifier.
    Dates are accepted as ISO or as the standard's "1995年3月1日"; "长期" (open-ended) is none.
    """
    lowered = {str(k).lower(): (k, v) for k, v in data.items()}
    basic: dict[str, str] = {}
    for name, (key, required) in DATA_ITEMS.items():
        spelled, raw = lowered.get(name.lower(), (name, None))
        text = _scalar_text(str(spelled), raw)
        if not text:
            if required:
                raise DataProblem(name, "必填", missing=True)
            basic[key] = ""
            continue
        if key in DATE_ITEMS:
            if text in OPEN_ENDED and key != "issue_date":
                text = ""
            else:
                try:
                    text = parse_date(text).isoformat()
                except ValueError:
                    raise DataProblem(name, "应为日期，如 2024-03-01 或 2024年3月1日") from None
        basic[key] = text
    try:
        ident = identifiers.parse(basic["identifier"])
    except identifiers.IdentifierError:
        raise DataProblem("certificateID", "不是有效的电子证照标识（GB/T 36904）") from None
    basic["identifier"] = str(ident)
    basic["type_code"] = basic["type_code"].upper() or ident.type_code
    basic["issue_dept_code"] = basic["issue_dept_code"].upper() or ident.issuer_code
    basic["holder_code"] = basic["holder_code"].upper()
    basic["version"] = str(int(ident.version))
    _, surface = lowered.get("surface", ("surface", None))
    return basic, _surface(surface)

