"""The statistics page's figures (统计): totals and four breakdowns, read-only.

A platform admin sees the whole tenant; anyone else sees the current department only (every
query below is filtered by tenant, and by department for a department user):

- totals: certificates issued (证照签发总数), catalogs (证照目录总数), usage applications
  (用证申请量), interface calls (接口访问量);
- certificates issued by department (部门证照数统计);
- the 20 catalogs with the most issued certificates (目录证照数TOP20);
- usage by department (部门用证数量): applications made and interface calls by its systems;
- the share of issued certificates used through the sharing interface (已使用证照占比).

"Issued" and "used" mean what ``usage.stats`` means by them; for an admin the tenant's figures
come from ``usage.stats`` itself. Drafts of usage applications (a transient state) do not count.

Public function: ``overview(session, actor) -> Overview``.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, func, select, true
from sqlalchemy.orm import Session

from . import usage
from .context import Actor
from .models import Catalog, Certificate, CertificateType, Department, UsageApplication, UsageRecord
from .models import UsageStatus as U
from .models.org import ReviewState

TOP_CATALOGS = 20


@dataclass(frozen=True)
class Count:
    """One bar: a department or a catalog and its number."""

    label: str
    value: int


@dataclass(frozen=True)
class DepartmentUsage:
    department: str
    applications: int   # usage applications the department made (drafts aside)
    calls: int          # interface calls by its client systems


@dataclass(frozen=True)
class Overview:
    scope: str                     # "tenant" (admin) or "department"
    department: str                # the department's name when scope == "department"
    certificates_issued: int
    catalogs: int
    usage_applications: int
    interface_calls: int
    certificates_by_department: list[Count]
    top_catalogs: list[Count]      # at most TOP_CATALOGS, most certificates first
    usage_by_department: list[DepartmentUsage]
    used_certificates: int
    unused_certificates: int
    used_share: float              # 0.0 .. 1.0; 0.0 when nothing is issued


def overview(session: Session, actor: Actor) -> Overview:
    tenant = actor.tenant_id
    dept = None if actor.is_admin else actor.require_department()

    def own(column):
        return column == dept if dept is not None else true()

    if dept is None:
        st = usage.stats(session, tenant)
        issued, used, calls = st["issued_certificates"], st["used_certificates"], st["total_calls"]
        applications = sum(n for status, n in st["usage_by_status"].items() if status != U.DRAFT.value)
    else:
        issued, used = usage.issued_and_used(session, tenant, dept)
        calls = session.execute(select(func.count()).select_from(UsageRecord).where(
            UsageRecord.tenant_id == tenant, UsageRecord.department_id == dept)).scalar_one()
        applications = session.execute(select(func.count()).select_from(UsageApplication).where(
            UsageApplication.tenant_id == tenant, UsageApplication.department_id == dept,
            UsageApplication.status != U.DRAFT)).scalar_one()

    catalogs = session.execute(select(func.count()).select_from(Catalog).where(
        Catalog.tenant_id == tenant, own(Catalog.department_id))).scalar_one()

    departments = dict(session.execute(select(Department.id, Department.name).where(
        Department.tenant_id == tenant, Department.status == ReviewState.APPROVED, own(Department.id))).all())

    certs_by_dept = dict(session.execute(
        select(Certificate.department_id, func.count()).where(
            Certificate.tenant_id == tenant, Certificate.status.in_(usage.ISSUED), own(Certificate.department_id))
        .group_by(Certificate.department_id)).all())
    by_department = sorted((Count(name, certs_by_dept.get(i, 0)) for i, name in departments.items()),
                           key=lambda c: (-c.value, c.label))

    per_catalog = (select(CertificateType.name, func.count(Certificate.id).label("n"))
                   .select_from(Catalog)
                   .join(CertificateType, CertificateType.id == Catalog.type_id)
                   .outerjoin(Certificate, and_(Certificate.type_id == Catalog.type_id,
                                                Certificate.tenant_id == tenant,
                                                Certificate.status.in_(usage.ISSUED), own(Certificate.department_id)))
                   .where(Catalog.tenant_id == tenant, own(Catalog.department_id))
                   .group_by(Catalog.id, CertificateType.name)
                   .order_by(func.count(Certificate.id).desc(), CertificateType.name)
                   .limit(TOP_CATALOGS))
    top = [Count(name, n) for name, n in session.execute(per_catalog).all()]

    apps_by_dept = dict(session.execute(
        select(UsageApplication.department_id, func.count()).where(
            UsageApplication.tenant_id == tenant, UsageApplication.status != U.DRAFT,
            own(UsageApplication.department_id)).group_by(UsageApplication.department_id)).all())
    if dept is None:
        calls_by_dept = st["calls_by_department"]
    else:
        calls_by_dept = {dept: calls}
    usage_rows = sorted((DepartmentUsage(name, apps_by_dept.get(i, 0), calls_by_dept.get(i, 0))
                         for i, name in departments.items()),
                        key=lambda r: (-r.applications, -r.calls, r.department))

    return Overview(
        scope="tenant" if dept is None else "department",
        department=departments.get(dept, "") if dept is not None else "",
        certificates_issued=issued, catalogs=catalogs, usage_applications=applications, interface_calls=calls,
        certificates_by_department=by_department, top_catalogs=top, usage_by_department=usage_rows,
        used_certificates=used, unused_certificates=max(0, issued - used),
        used_share=(used / issued) if issued else 0.0,
    )


@dataclass(frozen=True)
class HomeCounts:
    """The four figures of the home page (首页), tenant-wide as in the seed: what the platform
    shares, whoever looks; only the usage applications are the department's own for a department user."""

    shared_certificates: int   # 已共享证照: issued certificates of a catalog shared with others
    catalogs: int              # 证照目录总数: approved catalogs
    departments: int           # 已接入部门数: onboarded (approved) departments
    usage_applications: int    # 已申请用证数: applications made (drafts aside)


def home_counts(session: Session, actor: Actor) -> HomeCounts:
    from .models import ShareType

    tenant = actor.tenant_id
    shared_types = select(Catalog.type_id).where(Catalog.tenant_id == tenant, Catalog.status == ReviewState.APPROVED,
                                                 Catalog.share_type != ShareType.NONE)
    shared = session.execute(select(func.count()).select_from(Certificate).where(
        Certificate.tenant_id == tenant, Certificate.status.in_(usage.ISSUED),
        Certificate.type_id.in_(shared_types))).scalar_one()
    catalogs = session.execute(select(func.count()).select_from(Catalog).where(
        Catalog.tenant_id == tenant, Catalog.status == ReviewState.APPROVED)).scalar_one()
    departments = session.execute(select(func.count()).select_from(Department).where(
        Department.tenant_id == tenant, Department.status == ReviewState.APPROVED)).scalar_one()
    apps = select(func.count()).select_from(UsageApplication).where(
        UsageApplication.tenant_id == tenant, UsageApplication.status != U.DRAFT)
    if not actor.is_admin:
        apps = apps.where(UsageApplication.department_id == actor.department_id)
    return HomeCounts(shared, catalogs, departments, session.execute(apps).scalar_one())
