"""Usage of other departments' catalogs: applications (用证申请), the usage list (用证清单),
usage records (用证记录) and their statistics.

A department applies to use a catalog through one of its approved client systems. The catalog's
share type decides what happens (seed, 共享类型说明): ``none`` (不共享) cannot be applied for,
``public`` (社会公示) is approved at once by the system, ``on_demand`` (依职能按需共享) waits for
the department that owns the catalog. The interface asks ``allowed`` on each call; it answers
from the database every time, so a withdrawn application, a disabled system or catalog stops
the next call.

Public functions:

- ``apply(uow, actor, client_system_id, catalog_id, reason, matter_id=None) -> UsageApplication``
- ``review(uow, actor, usage_id, approve, reason="") -> UsageApplication``
- ``withdraw(uow, actor, usage_id, reason="") -> UsageApplication``; ``delete(uow, actor, usage_id) -> None``
- ``get(uow, actor, usage_id) -> UsageApplication``
- ``usage_list(uow, actor, status="", text="", client_system_id=None, department_id=None, page=1, size=20)
  -> Page[UsageEntry]``
- ``review_list(uow, actor, status="submitted", text="", department_id=None, page=1, size=20) -> Page[UsageEntry]``
- ``call_parameters(uow, actor, usage_id) -> CallParameters``
- ``allowed(session, client_system, certificate_type_code) -> UsageApplication | None``
- ``catalogs_allowed(session, client_system) -> set[str]``
- ``record_call(session, interface, result_code, ...) -> UsageRecord``
- ``records(uow, actor, ..., page=1, size=20, sort="-at") -> Page[UsageRecord]``
- ``stats(session, tenant_id) -> dict``

``INTERFACES`` names the standard's data methods (7.3.2-7.3.10) an approved usage opens.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from . import approval, audit, catalogs, client_systems, states
from .context import Actor
from .errors import Conflict, NotFound, PermissionDenied, ValidationError
from .listing import Page, like, paginate
from .models import (Catalog, Certificate, CertificateStatus, CertificateType, ClientSystem, Department, Matter,
                     RoleCode, ShareType, UsageApplication, UsageRecord, UsageStatus as U)
from .models.org import ReviewState
from .unit_of_work import UnitOfWork
from certledger.db.base import utcnow

# The standard's methods that read or verify certificates (DB23/T 2836 7.3.2-7.3.10); Token
# (7.3.1) needs only an approved AccountId. The catalog model has no per-method setting, so an
# approved usage opens all of them for the catalog's type.
INTERFACES: tuple[str, ...] = (
    "GetCertificateFileByHolder", "GetCertificateFileByCertificateID",
    "GetCertificateDataByHolder", "GetCertificateDataByCertificateID",
    "VerifyCertificate",
    "GetCertificatePictureByCertificateID", "GetCertificatePictureByHolder",
    "GetCertificateType", "Retrieval",
)
RESULT_OK = "0"  # head.status of a successful call (appendix C)
ISSUED = (CertificateStatus.EFFECTIVE, CertificateStatus.LOST, CertificateStatus.REVOKED,
          CertificateStatus.REVIEW_OVERDUE, CertificateStatus.SUPERSEDED)
ACTIVE = (U.SUBMITTED, U.APPROVED)
MAX_REASON = 1000



def _system_actor(actor: Actor) -> Actor:
    """Who approves a public catalog's application: the platform itself, in the applicant's tenant."""
    return Actor(user_id=None, username="system", tenant_id=actor.tenant_id, department_id=None, is_admin=True,
                 ip=actor.ip)


# --- applications -------------------------------------------------------------------------------

def apply(uow: UnitOfWork, actor: Actor, client_system_id: int, catalog_id: int, reason: str,
          matter_id: int | None = None) -> UsageApplication:
    """Apply to use a catalog through one of the department's approved systems.

    The matter is optional: the seed's application form names the catalog and the system, and
    the standard's calls carry no matter; when given, it must be one of the applicant's matters.
    """
    actor.require(RoleCode.DEPT_ADMIN, RoleCode.CLERK)
    s = uow.session
    cs = client_systems.get(uow, actor, client_system_id)
    if not actor.is_admin and cs.department_id != actor.department_id:
        raise PermissionDenied("applications can be made for your own department's systems only")
    if cs.status is not ReviewState.APPROVED:
        raise ValidationError({"client_system_id":
                               f"{cs.name} is {cs.status.value}; only an approved system can use certificates"})
    text = str(reason or "").strip()
    if not text or len(text) > MAX_REASON:
        raise ValidationError({"reason": f"why the certificates are needed, 1-{MAX_REASON} characters"})
    cat = catalogs.get(uow, actor, catalog_id)
    ctype = s.get(CertificateType, cat.type_id)
    if cat.share_type is ShareType.NONE:
        raise ValidationError({"catalog_id":
                               f"the catalog of {ctype.name} is not shared (不共享) and cannot be applied for"})
    if cat.status is not ReviewState.APPROVED or ctype.status is not ReviewState.APPROVED:
        raise ValidationError({"catalog_id": f"the catalog of {ctype.name} is not approved for sharing"})
    if matter_id is not None:
        matter = s.get(Matter, matter_id)
        if matter is None or matter.tenant_id != actor.tenant_id or matter.department_id != cs.department_id:
            raise ValidationError({"matter_id": "a matter of the applying department"})
    if s.execute(select(func.count()).select_from(UsageApplication).where(
            UsageApplication.client_system_id == cs.id, UsageApplication.catalog_id == cat.id,
            UsageApplication.status.in_(ACTIVE))).scalar():
        raise Conflict(f"{cs.name} already has an application for {ctype.name}")
    app = UsageApplication(tenant_id=cs.tenant_id, department_id=cs.department_id, client_system_id=cs.id,
                           catalog_id=cat.id, issuer_department_id=cat.department_id, matter_id=matter_id,
                           reason=text, status=U.DRAFT, created_by_id=actor.user_id)
    s.add(app)
    s.flush()
    audit.record(s, actor, "usage.apply", "usage", app.id, client_system_id=cs.id, catalog_id=cat.id,
                 type_code=ctype.code, share_type=cat.share_type.value, matter_id=matter_id)
    approval.submit(s, actor, approval.USAGE, app)
    if cat.share_type is ShareType.PUBLIC:
        approval.decide(s, _system_actor(actor), approval.USAGE, app, True, "社会公示: approved automatically")
        app.decided_at = utcnow()
    return app


def review(uow: UnitOfWork, actor: Actor, usage_id: int, approve: bool, reason: str = "") -> UsageApplication:
    """The issuing department's reviewer or admin decides (the engine checks who)."""
    app = get(uow, actor, usage_id)
    approval.decide(uow.session, actor, approval.USAGE, app, approve, reason)
    app.decided_at = utcnow()
    return app


def withdraw(uow: UnitOfWork, actor: Actor, usage_id: int, reason: str = "") -> UsageApplication:
    """The applicant takes an application back, waiting or approved; the next call is refused.

    The row stays (as ``withdrawn``) so that the history and the records of past calls keep
    their context; it leaves the usage list.
    """
    actor.require(RoleCode.DEPT_ADMIN, RoleCode.CLERK)
    app = get(uow, actor, usage_id)
    if not actor.is_admin and app.department_id != actor.department_id:
        raise PermissionDenied("only the applying department can withdraw an application")
    before = app.status.value
    states.advance(approval.USAGE.kind, app, U.WITHDRAWN)
    uow.session.flush()
    approval._log(uow.session, actor, approval.USAGE, [(app, before, app.status.value)],
                  approval.USAGE.steps[0].name, "withdraw", str(reason or "").strip())
    return app


def delete(uow: UnitOfWork, actor: Actor, usage_id: int) -> None:
    """删除 of the usage list: the same as withdrawing (the UI asks to confirm first)."""
    withdraw(uow, actor, usage_id, "deleted from the usage list")


def get(uow: UnitOfWork, actor: Actor, usage_id: int) -> UsageApplication:
    """Visible to the applying department, the issuing department and admins; else not found."""
    app = uow.session.get(UsageApplication, usage_id)
    if app is None or app.tenant_id != actor.tenant_id or not (
            actor.can_see_department(app.department_id) or actor.can_see_department(app.issuer_department_id)):
        raise NotFound(f"usage application {usage_id} not found")
    return app


# --- lists --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class CallParameters:
    """What the 调用服务信息 dialog shows: everything a client system needs to make its calls."""

    account_id: str
    interfaces: tuple[str, ...]
    type_codes: tuple[str, ...]
    ips: tuple[str, ...]


@dataclass(frozen=True)
class UsageEntry:
    """One row of the usage list or the review list, with the names a page shows."""

    application: UsageApplication
    type_code: str
    type_name: str
    share_type: ShareType
    client_system_name: str
    department_name: str          # the applicant
    issuer_department_name: str
    matter_name: str
    call: CallParameters | None   # only for approved applications of an approved system


def _entries(session: Session, apps: list[UsageApplication]) -> list[UsageEntry]:
    """Rows for one page, with three batched reads instead of several per row."""
    if not apps:
        return []
    cats = {c.id: c for c in session.execute(select(Catalog).where(
        Catalog.id.in_({a.catalog_id for a in apps}))).scalars()}
    types = {t.id: t for t in session.execute(select(CertificateType).where(
        CertificateType.id.in_({c.type_id for c in cats.values()}))).scalars()}
    systems = {c.id: c for c in session.execute(select(ClientSystem).where(
        ClientSystem.id.in_({a.client_system_id for a in apps}))).scalars()}
    dept_ids = {a.department_id for a in apps} | {a.issuer_department_id for a in apps}
    depts = dict(session.execute(select(Department.id, Department.name).where(Department.id.in_(dept_ids))).all())
    matter_ids = {a.matter_id for a in apps if a.matter_id is not None}
    matters = dict(session.execute(select(Matter.id, Matter.name).where(Matter.id.in_(matter_ids))).all()) \
        if matter_ids else {}
    out = []
    for a in apps:
        cat, cs = cats[a.catalog_id], systems[a.client_system_id]
        t = types[cat.type_id]
        call = None
        if a.status is U.APPROVED and cs.status is ReviewState.APPROVED and cs.account_id:
            call = CallParameters(cs.account_id, INTERFACES, (t.code,), tuple(cs.ips))
        out.append(UsageEntry(a, t.code, t.name, cat.share_type, cs.name, depts.get(a.department_id, ""),
                              depts.get(a.issuer_department_id, ""), matters.get(a.matter_id, ""), call))
    return out


def _status(value: str) -> U:
    try:
        return U(value)
    except ValueError:
        raise ValidationError({"status": ", ".join(s.value for s in U)}) from None


USAGE_SORTS = {"created_at": UsageApplication.created_at, "id": UsageApplication.id,
               "status": UsageApplication.status, "decided_at": UsageApplication.decided_at}


def _page(uow: UnitOfWork, stmt, text: str, page: int, size: int, sort: str = "") -> Page[UsageEntry]:
    if text:
        pattern = like(text)
        stmt = stmt.where(UsageApplication.catalog_id.in_(
            select(Catalog.id).join(CertificateType, CertificateType.id == Catalog.type_id).where(
                CertificateType.name.like(pattern, escape="\\") | CertificateType.code.like(pattern, escape="\\"))))
    p = paginate(uow.session, stmt.order_by(UsageApplication.id.desc()), page, size, sort, USAGE_SORTS)
    return Page(_entries(uow.session, list(p.items)), p.total, p.page, p.size)


def usage_list(uow: UnitOfWork, actor: Actor, status: str = "", text: str = "", client_system_id: int | None = None,
               department_id: int | None = None, page: int = 1, size: int = 20, sort: str = "") -> Page[UsageEntry]:
    """The applying department's usage list (用证清单), newest first; withdrawn ones only on request."""
    stmt = select(UsageApplication).where(UsageApplication.tenant_id == actor.tenant_id)
    if not actor.is_admin:
        stmt = stmt.where(UsageApplication.department_id == actor.require_department())
    elif department_id:
        stmt = stmt.where(UsageApplication.department_id == department_id)
    stmt = stmt.where(UsageApplication.status == _status(status)) if status else \
        stmt.where(UsageApplication.status != U.WITHDRAWN)
    if client_system_id is not None:
        stmt = stmt.where(UsageApplication.client_system_id == client_system_id)
    return _page(uow, stmt, text, page, size, sort)


def review_list(uow: UnitOfWork, actor: Actor, status: str = "submitted", text: str = "",
                department_id: int | None = None, page: int = 1, size: int = 20, sort: str = "") -> Page[UsageEntry]:
    """Applications to use the actor's department's catalogs (用证申请审批列表); ``status=""`` shows
    the decided ones too. Admins see every issuing department's, or one named by ``department_id``."""
    stmt = select(UsageApplication).where(UsageApplication.tenant_id == actor.tenant_id,
                                          UsageApplication.status != U.DRAFT)
    if not actor.is_admin:
        actor.require(RoleCode.REVIEWER, RoleCode.DEPT_ADMIN)
        stmt = stmt.where(UsageApplication.issuer_department_id == actor.require_department())
    elif department_id:
        stmt = stmt.where(UsageApplication.issuer_department_id == department_id)
    if status:
        stmt = stmt.where(UsageApplication.status == _status(status))
    return _page(uow, stmt, text, page, size, sort)


def call_parameters(uow: UnitOfWork, actor: Actor, usage_id: int) -> CallParameters:
    """The call parameters of one approved usage (its AccountId is the applicant's credential,
    so the issuing department does not get them)."""
    app = get(uow, actor, usage_id)
    if not actor.can_see_department(app.department_id):
        raise NotFound(f"usage application {usage_id} not found")
    [entry] = _entries(uow.session, [app])
    if entry.call is None:
        raise ValidationError({"usage_id": "call parameters exist for approved usage of an approved system only"})
    return entry.call


# --- what the interface asks on each call -------------------------------------------------------

def _usable(client_system: ClientSystem):
    """Approved usage of ``client_system`` whose catalog is still shared and whose type is approved.

    A catalog under re-registration (submitted again) stops serving until approved: its new
    share type is not decided yet.
    """
    return (select(UsageApplication, CertificateType.code)
            .join(Catalog, Catalog.id == UsageApplication.catalog_id)
            .join(CertificateType, CertificateType.id == Catalog.type_id)
            .where(UsageApplication.client_system_id == client_system.id,
                   UsageApplication.status == U.APPROVED,
                   Catalog.status == ReviewState.APPROVED, Catalog.share_type != ShareType.NONE,
                   CertificateType.status == ReviewState.APPROVED,
                   CertificateType.tenant_id == client_system.tenant_id))


def allowed(session: Session, client_system: ClientSystem, certificate_type_code: str) -> UsageApplication | None:
    """The approved usage that lets ``client_system`` read certificates of this type, or None."""
    if client_system.status is not ReviewState.APPROVED:
        return None
    row = session.execute(_usable(client_system).where(CertificateType.code == certificate_type_code)
                          .order_by(UsageApplication.id).limit(1)).first()
    return row[0] if row else None


def catalogs_allowed(session: Session, client_system: ClientSystem) -> set[str]:
    """Every certificate type code ``client_system`` may read now (GetCertificateType lists them)."""
    if client_system.status is not ReviewState.APPROVED:
        return set()
    return {code for _app, code in session.execute(_usable(client_system)).all()}


# --- records and statistics ---------------------------------------------------------------------

def record_call(session: Session, interface: str, result_code: str, account_id: str = "", ip: str = "",
                client_system: ClientSystem | None = None, certificate_identifier: str | None = None,
                holder_code_index: str | None = None, type_code: str | None = None, message: str = "",
                duration_ms: int = 0, at: datetime | None = None) -> UsageRecord:
    """Log one interface call: added to the session, not flushed, so a caller can batch many.

    ``holder_code_index`` is ``uow.cipher.blind_index(holder_code)``: records never hold a
    holder code in clear. Values are cut to their column sizes, because a refused call may
    carry anything the caller sent.
    """
    rec = UsageRecord(
        tenant_id=client_system.tenant_id if client_system is not None else None,
        client_system_id=client_system.id if client_system is not None else None,
        department_id=client_system.department_id if client_system is not None else None,
        account_id=str(account_id or "")[:64], ip=str(ip or "")[:64], interface=str(interface)[:64],
        type_code=type_code[:64] if type_code else None,
        certificate_identifier=certificate_identifier[:160] if certificate_identifier else None,
        holder_code_index=holder_code_index[:64] if holder_code_index else None,
        result_code=str(result_code)[:16], message=str(message or "")[:1000], duration_ms=max(0, int(duration_ms)),
        at=at or utcnow(),
    )
    session.add(rec)
    return rec


def _visible_records(actor: Actor):
    """Records a department may read: its own systems' calls and calls that used its certificates
    (by identifier, or by the type code of one of its types)."""
    stmt = select(UsageRecord)
    if actor.is_admin:
        return stmt.where(or_(UsageRecord.tenant_id == actor.tenant_id, UsageRecord.tenant_id.is_(None)))
    dept = actor.require_department()
    own_certs = select(Certificate.identifier).where(Certificate.department_id == dept)
    own_types = select(CertificateType.code).where(CertificateType.department_id == dept,
                                                   CertificateType.tenant_id == actor.tenant_id)
    return stmt.where(UsageRecord.tenant_id == actor.tenant_id, or_(
        UsageRecord.department_id == dept,
        UsageRecord.certificate_identifier.in_(own_certs),
        UsageRecord.type_code.in_(own_types)))


def records(uow: UnitOfWork, actor: Actor, client_system_id: int | None = None, department_id: int | None = None,
            interface: str = "", result_code: str = "", type_code: str = "", certificate_identifier: str = "",
            holder_code: str = "", account_id: str = "", since: datetime | None = None,
            until: datetime | None = None, page: int = 1, size: int = 20, sort: str = "-at") -> Page[UsageRecord]:
    """The usage records (用证记录) the actor may see, filtered; ``department_id`` is the caller's."""
    stmt = _visible_records(actor)
    if client_system_id is not None:
        stmt = stmt.where(UsageRecord.client_system_id == client_system_id)
    if department_id is not None:
        stmt = stmt.where(UsageRecord.department_id == department_id)
    if interface:
        stmt = stmt.where(UsageRecord.interface == interface)
    if result_code:
        stmt = stmt.where(UsageRecord.result_code == result_code)
    if type_code:
        stmt = stmt.where(UsageRecord.type_code == type_code)
    if certificate_identifier:
        stmt = stmt.where(UsageRecord.certificate_identifier == certificate_identifier.strip())
    if holder_code:
        stmt = stmt.where(UsageRecord.holder_code_index == uow.cipher.blind_index(holder_code))
    if account_id:
        stmt = stmt.where(UsageRecord.account_id == account_id.strip().upper())
    if since is not None:
        stmt = stmt.where(UsageRecord.at >= since)
    if until is not None:
        stmt = stmt.where(UsageRecord.at < until)
    return paginate(uow.session, stmt, page, size, sort,
                    {"at": UsageRecord.at, "interface": UsageRecord.interface, "duration_ms": UsageRecord.duration_ms})


def issued_and_used(session: Session, tenant_id: int, department_id: int | None = None) -> tuple[int, int]:
    """(issued certificates, those used through the interface) of a tenant, or of one department.

    A certificate counts as used when a successful call named it by identifier, or asked by its
    holder (blind index) and type; a call by holder may thus mark every issued version of that
    holder's certificate of the type as used.
    """
    issued_q = select(Certificate.id).where(Certificate.tenant_id == tenant_id, Certificate.status.in_(ISSUED))
    if department_id is not None:
        issued_q = issued_q.where(Certificate.department_id == department_id)
    used_by = select(UsageRecord.id).where(UsageRecord.tenant_id == tenant_id, UsageRecord.result_code == RESULT_OK, or_(
        UsageRecord.certificate_identifier == Certificate.identifier,
        and_(UsageRecord.certificate_identifier.is_(None),
             UsageRecord.holder_code_index == Certificate.holder_code_index,
             UsageRecord.type_code == Certificate.type_code)))

    def count(q) -> int:
        return session.execute(select(func.count()).select_from(q.subquery())).scalar_one()

    return count(issued_q), count(issued_q.where(used_by.exists()))


def stats(session: Session, tenant_id: int) -> dict[str, Any]:
    """Figures for the sharing overview of one tenant ("used" as ``issued_and_used`` counts it)."""
    in_tenant = UsageRecord.tenant_id == tenant_id
    total = session.execute(select(func.count()).select_from(UsageRecord).where(in_tenant)).scalar_one()
    ok = session.execute(select(func.count()).select_from(UsageRecord).where(
        in_tenant, UsageRecord.result_code == RESULT_OK)).scalar_one()
    by_interface = dict(session.execute(select(UsageRecord.interface, func.count()).where(in_tenant)
                                        .group_by(UsageRecord.interface)).all())
    by_dept = dict(session.execute(select(UsageRecord.department_id, func.count()).where(
        in_tenant, UsageRecord.department_id.is_not(None)).group_by(UsageRecord.department_id)).all())
    names = dict(session.execute(select(Department.id, Department.name).where(Department.id.in_(by_dept))).all()) \
        if by_dept else {}
    by_status = {U(k).value: n for k, n in session.execute(
        select(UsageApplication.status, func.count()).where(UsageApplication.tenant_id == tenant_id)
        .group_by(UsageApplication.status)).all()}
    issued, used = issued_and_used(session, tenant_id)
    return {
        "total_calls": total,
        "successful_calls": ok,
        "calls_by_interface": by_interface,
        "calls_by_department": by_dept,
        "department_names": names,
        "usage_by_status": by_status,
        "issued_certificates": issued,
        "used_certificates": used,
        "used_share": (used / issued) if issued else 0.0,
    }


# --- what the management pages show -------------------------------------------------------------

def entry(uow: UnitOfWork, actor: Actor, usage_id: int) -> UsageEntry:
    """One application with the names its page shows; visible as ``get`` says."""
    app = get(uow, actor, usage_id)
    [row] = _entries(uow.session, [app])
    if row.call is not None and not actor.can_see_department(app.department_id):
        # the AccountId is the applicant's credential: the issuing department does not get it
        row = UsageEntry(row.application, row.type_code, row.type_name, row.share_type, row.client_system_name,
                         row.department_name, row.issuer_department_name, row.matter_name, None)
    return row


@dataclass(frozen=True)
class CatalogChoice:
    """A catalog that may be applied for (用证申请), as the application form lists it."""

    id: int
    type_code: str
    type_name: str
    department_name: str
    share_type: ShareType


def applicable_catalogs(uow: UnitOfWork, actor: Actor) -> list[CatalogChoice]:
    """The tenant's shared catalog list: approved 社会公示 and 依职能按需共享 catalogs of approved
    types (不共享 ones cannot be applied for), by type name."""
    rows = uow.session.execute(
        select(Catalog.id, CertificateType.code, CertificateType.name, Department.name, Catalog.share_type)
        .join(CertificateType, CertificateType.id == Catalog.type_id)
        .join(Department, Department.id == Catalog.department_id)
        .where(Catalog.tenant_id == actor.tenant_id, Catalog.status == ReviewState.APPROVED,
               Catalog.share_type != ShareType.NONE, CertificateType.status == ReviewState.APPROVED)
        .order_by(CertificateType.name, Catalog.id)).all()
    return [CatalogChoice(*row) for row in rows]


def record(uow: UnitOfWork, actor: Actor, record_id: int) -> UsageRecord:
    """One usage record, if the actor may read it (as ``records`` lists them); else not found."""
    rec = uow.session.execute(_visible_records(actor).where(UsageRecord.id == record_id)).scalar_one_or_none()
    if rec is None:
        raise NotFound(f"usage record {record_id} not found")
    return rec


def record_names(uow: UnitOfWork, recs) -> tuple[dict[int, str], dict[int, str]]:
    """(client system names, department names) by id for records of one page: two reads, not 2 per row."""
    sys_ids = {r.client_system_id for r in recs if r.client_system_id is not None}
    dept_ids = {r.department_id for r in recs if r.department_id is not None}
    systems = dict(uow.session.execute(select(ClientSystem.id, ClientSystem.name).where(
        ClientSystem.id.in_(sys_ids))).all()) if sys_ids else {}
    depts = dict(uow.session.execute(select(Department.id, Department.name).where(
        Department.id.in_(dept_ids))).all()) if dept_ids else {}
    return systems, depts
