"""Catalog registration (目录注册): share a type as none / on_demand / public, reviewed by an admin."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from . import approval, audit, departments, states
from .context import Actor
from .errors import Conflict, NotFound, PermissionDenied, ValidationError
from .listing import Page, like, paginate
from .models import Catalog, CertificateType, RoleCode, ShareType
from .models.org import ReviewState
from .unit_of_work import UnitOfWork


def _share(value: str) -> ShareType:
    try:
        return ShareType(value)
    except ValueError:
        raise ValidationError({"share_type": "none, on_demand or public"}) from None


def register(uow: UnitOfWork, actor: Actor, type_id: int, share_type: str, description: str = "",
             usage_restriction: str = "") -> Catalog:
    """First registration, or re-registration of a changed catalog; both go to review."""
    actor.require(RoleCode.DEPT_ADMIN, RoleCode.CLERK)
    share = _share(share_type)
    if len(usage_restriction.strip()) > 256:
        raise ValidationError({"usage_restriction": "at most 256 characters"})
    t = uow.session.get(CertificateType, type_id)
    if t is None or t.tenant_id != actor.tenant_id:
        raise NotFound(f"certificate type {type_id} not found")
    if not actor.is_admin and t.department_id != actor.department_id:
        raise PermissionDenied("only types of your own department can be registered")
    if t.status is not ReviewState.APPROVED:
        raise ValidationError({"type_id": f"{t.name} must pass type review before it is registered"})
    cat = uow.session.execute(select(Catalog).where(Catalog.type_id == t.id)).scalar_one_or_none()
    if cat is None:
        cat = Catalog(tenant_id=t.tenant_id, department_id=t.department_id, type_id=t.id, share_type=share,
                      status=ReviewState.DRAFT, description=description.strip(), usage_restriction=usage_restriction.strip())
        uow.session.add(cat)
        uow.session.flush()
    else:
        if cat.status is ReviewState.SUBMITTED:
            raise Conflict(f"the catalog of {t.name} is already waiting for review")
        states.check("catalog", cat.id, cat.status, ReviewState.SUBMITTED)
        cat.share_type, cat.description, cat.usage_restriction = share, description.strip(), usage_restriction.strip()
        cat.version += 1
    approval.submit(uow.session, actor, approval.CATALOG_REVIEW, cat)
    audit.record(uow.session, actor, "catalog.register", "catalog", cat.id, share_type=share.value, version=cat.version)
    return cat


def review(uow: UnitOfWork, actor: Actor, catalog_id: int, approve: bool, reason: str = "") -> Catalog:
    cat = get(uow, actor, catalog_id)
    approval.decide(uow.session, actor, approval.CATALOG_REVIEW, cat, approve, reason)
    return cat


def disable(uow: UnitOfWork, actor: Actor, catalog_id: int) -> Catalog:
    cat = _own(uow, actor, catalog_id)
    states.advance("catalog", cat, ReviewState.DISABLED)
    audit.record(uow.session, actor, "catalog.disable", "catalog", cat.id)
    return cat


def delete(uow: UnitOfWork, actor: Actor, catalog_id: int) -> None:
    cat = _own(uow, actor, catalog_id)
    audit.record(uow.session, actor, "catalog.delete", "catalog", cat.id, type_id=cat.type_id)
    uow.session.delete(cat)


def get(uow: UnitOfWork, actor: Actor, catalog_id: int) -> Catalog:
    cat = uow.session.get(Catalog, catalog_id)
    if cat is None or cat.tenant_id != actor.tenant_id:
        raise NotFound(f"catalog {catalog_id} not found")
    return cat


def _own(uow: UnitOfWork, actor: Actor, catalog_id: int) -> Catalog:
    cat = get(uow, actor, catalog_id)
    if not actor.is_admin:
        actor.require(RoleCode.DEPT_ADMIN, RoleCode.CLERK)
        if cat.department_id != actor.department_id:
            raise PermissionDenied("only catalogs of your own department can be changed")
    return cat


def can_apply_for_use(cat: Catalog) -> bool:
    """Only approved public and on-demand catalogs can be applied for (不共享 cannot)."""
    return cat.status is ReviewState.APPROVED and cat.share_type is not ShareType.NONE


def search(uow: UnitOfWork, actor: Actor, text: str = "", share_type: str = "", status: str = "",
           department_id: int | None = None, page: int = 1, size: int = 20, sort: str = "-created_at") -> Page[Catalog]:
    stmt = select(Catalog).join(CertificateType, CertificateType.id == Catalog.type_id).where(Catalog.tenant_id == actor.tenant_id)
    if text:
        stmt = stmt.where(CertificateType.name.like(like(text), escape="\\") | CertificateType.code.like(like(text), escape="\\"))
    if share_type:
        stmt = stmt.where(Catalog.share_type == _share(share_type))
    if status:
        stmt = stmt.where(Catalog.status == ReviewState(status))
    if department_id:
        stmt = stmt.where(Catalog.department_id == department_id)
    return paginate(uow.session, stmt, page, size, sort,
                    {"created_at": Catalog.created_at, "name": CertificateType.name, "share_type": Catalog.share_type})


# --- reading for the catalog pages (web/catalogs.py) ------------------------------------------------

@dataclass(frozen=True)
class CatalogRow:
    """A catalog with what its list row shows: the type it shares and the owning department."""

    catalog: Catalog
    type: CertificateType
    department: str


def get_visible(uow: UnitOfWork, actor: Actor, catalog_id: int) -> Catalog:
    """An approved catalog is the tenant's public directory; any other state is seen only by its
    own department and the admins (a waiting or rejected registration is not published)."""
    cat = get(uow, actor, catalog_id)
    if cat.status is not ReviewState.APPROVED and not actor.can_see_department(cat.department_id):
        raise NotFound(f"catalog {catalog_id} not found")
    return cat


def of_type(uow: UnitOfWork, actor: Actor, type_id: int) -> Catalog | None:
    """The catalog a type is registered as, if any (the register form starts from it)."""
    cat = uow.session.execute(select(Catalog).where(Catalog.type_id == type_id,
                                                    Catalog.tenant_id == actor.tenant_id)).scalar_one_or_none()
    if cat is not None and not actor.can_see_department(cat.department_id) and cat.status is not ReviewState.APPROVED:
        return None
    return cat


def search_rows(uow: UnitOfWork, actor: Actor, own_only: bool = False, **criteria) -> Page[CatalogRow]:
    """``search`` with each catalog's type and department name; ``own_only`` keeps a non-admin to
    the catalogs of their current department (目录管理)."""
    if own_only and not actor.is_admin:
        criteria["department_id"] = actor.require_department()
    page = search(uow, actor, **criteria)
    type_ids = {c.type_id for c in page.items}
    types = {t.id: t for t in uow.session.execute(
        select(CertificateType).where(CertificateType.id.in_(type_ids))).scalars()} if type_ids else {}
    names = departments.names(uow, actor, {c.department_id for c in page.items})
    rows = [CatalogRow(c, types[c.type_id], names.get(c.department_id, "")) for c in page.items]
    return Page(rows, page.total, page.page, page.size)
