"""Matters (事项) and their links to the types they use (事项用证) and issue (事项发证)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import func, select

from . import audit
from .context import Actor
from .errors import Conflict, NotFound, PermissionDenied, ValidationError
from .listing import Page, like, paginate
from .models import CertificateType, Department, Matter, MatterTypeLink, RoleCode
from .models.matters import LinkKind
from .unit_of_work import UnitOfWork

CODE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
FIELDS = ("code", "name", "category", "basis", "description")


def validate(data: dict) -> dict:
    errors = {}
    clean = {k: str(data.get(k) or "").strip() for k in FIELDS}
    if not CODE.match(clean["code"]):
        errors["code"] = "1-64 letters, digits or _ . -"
    if not clean["name"] or len(clean["name"]) > 256:
        errors["name"] = "1-256 characters"
    if len(clean["category"]) > 64:
        errors["category"] = "at most 64 characters"
    if errors:
        raise ValidationError(errors)
    return clean


def _writable_department(uow: UnitOfWork, actor: Actor, department_id: int | None) -> int:
    """Admins may file matters for any department; others only for their own (as in the seed)."""
    if department_id is None:
        return actor.require_department()
    if not actor.is_admin and department_id != actor.department_id:
        raise PermissionDenied("matters can be added for your own department only")
    dept = uow.session.get(Department, department_id)
    if dept is None or dept.tenant_id != actor.tenant_id:
        raise NotFound(f"department {department_id} not found")
    return department_id


def code_taken(uow: UnitOfWork, tenant_id: int, code: str, exclude_id: int | None = None) -> bool:
    stmt = select(func.count()).select_from(Matter).where(Matter.tenant_id == tenant_id, Matter.code == code)
    if exclude_id is not None:
        stmt = stmt.where(Matter.id != exclude_id)
    return bool(uow.session.execute(stmt).scalar())


def create(uow: UnitOfWork, actor: Actor, department_id: int | None = None, **data) -> Matter:
    actor.require(RoleCode.DEPT_ADMIN, RoleCode.CLERK)
    clean = validate(data)
    dept_id = _writable_department(uow, actor, department_id)
    if code_taken(uow, actor.tenant_id, clean["code"]):
        raise Conflict(f"matter code {clean['code']} already exists")
    matter = Matter(tenant_id=actor.tenant_id, department_id=dept_id, **clean)
    uow.session.add(matter)
    uow.session.flush()
    audit.record(uow.session, actor, "matter.create", "matter", matter.id, **clean)
    return matter


def get(uow: UnitOfWork, actor: Actor, matter_id: int) -> Matter:
    m = uow.session.get(Matter, matter_id)
    if m is None or m.tenant_id != actor.tenant_id or not actor.can_see_department(m.department_id):
        raise NotFound(f"matter {matter_id} not found")
    return m


def update(uow: UnitOfWork, actor: Actor, matter_id: int, **data) -> Matter:
    actor.require(RoleCode.DEPT_ADMIN, RoleCode.CLERK)
    m = get(uow, actor, matter_id)
    clean = validate({**{k: getattr(m, k) for k in FIELDS}, **data})
    if code_taken(uow, actor.tenant_id, clean["code"], exclude_id=m.id):
        raise Conflict(f"matter code {clean['code']} already exists")
    for k, v in clean.items():
        setattr(m, k, v)
    audit.record(uow.session, actor, "matter.update", "matter", m.id, **clean)
    return m


def delete(uow: UnitOfWork, actor: Actor, matter_id: int) -> None:
    actor.require(RoleCode.DEPT_ADMIN, RoleCode.CLERK)
    m = get(uow, actor, matter_id)
    audit.record(uow.session, actor, "matter.delete", "matter", m.id, code=m.code, name=m.name)
    uow.session.delete(m)


def search(uow: UnitOfWork, actor: Actor, text: str = "", department_id: int | None = None,
           page: int = 1, size: int = 20, sort: str = "code") -> Page[Matter]:
    """Admins see every department's matters; others only their own department's."""
    stmt = select(Matter).where(Matter.tenant_id == actor.tenant_id)
    if not actor.is_admin:
        stmt = stmt.where(Matter.department_id == actor.department_id)
    elif department_id:
        stmt = stmt.where(Matter.department_id == department_id)
    if text:
        stmt = stmt.where(Matter.name.like(like(text), escape="\\") | Matter.code.like(like(text), escape="\\"))
    return paginate(uow.session, stmt, page, size, sort,
                    {"code": Matter.code, "name": Matter.name, "created_at": Matter.created_at})


def link(uow: UnitOfWork, actor: Actor, matter_id: int, type_id: int, kind: str) -> MatterTypeLink:
    """Any approved type of the tenant may be used by a matter; issued types must be our own."""
    m = get(uow, actor, matter_id)
    try:
        kind_ = LinkKind(kind)
    except ValueError:
        raise ValidationError({"kind": "uses or issues"}) from None
    t = uow.session.get(CertificateType, type_id)
    if t is None or t.tenant_id != actor.tenant_id:
        raise NotFound(f"certificate type {type_id} not found")
    if kind_ is LinkKind.ISSUES and t.department_id != m.department_id:
        raise ValidationError({"type_id": "a matter issues only types of its own department"})
    existing = uow.session.execute(select(MatterTypeLink).where(
        MatterTypeLink.matter_id == m.id, MatterTypeLink.type_id == t.id, MatterTypeLink.kind == kind_)).scalar_one_or_none()
    if existing:
        raise Conflict(f"matter {m.code} already {kind_.value} {t.name}")
    ln = MatterTypeLink(matter_id=m.id, type_id=t.id, kind=kind_)
    uow.session.add(ln)
    uow.session.flush()
    audit.record(uow.session, actor, f"matter.link_{kind_.value}", "matter", m.id, type_id=t.id)
    return ln


def unlink(uow: UnitOfWork, actor: Actor, link_id: int) -> None:
    ln = uow.session.get(MatterTypeLink, link_id)
    if ln is None:
        raise NotFound(f"link {link_id} not found")
    get(uow, actor, ln.matter_id)
    audit.record(uow.session, actor, f"matter.unlink_{ln.kind.value}", "matter", ln.matter_id, type_id=ln.type_id)
    uow.session.delete(ln)


def links(uow: UnitOfWork, actor: Actor, matter_id: int, kind: str | None = None) -> list[MatterTypeLink]:
    get(uow, actor, matter_id)
    stmt = select(MatterTypeLink).where(MatterTypeLink.matter_id == matter_id)
    if kind:
        stmt = stmt.where(MatterTypeLink.kind == LinkKind(kind))
    return list(uow.session.execute(stmt.order_by(MatterTypeLink.id)).scalars())


# --- reading for the matter pages (web/matters.py) --------------------------------------------------

@dataclass(frozen=True)
class LinkRow:
    """A matter↔type link with what its list row shows."""

    id: int
    kind: LinkKind
    matter: Matter
    type: CertificateType
    department: str
    created_at: object


def search_links(uow: UnitOfWork, actor: Actor, kind: str, text: str = "", department_id: int | None = None,
                 page: int = 1, size: int = 20, sort: str = "matter_code") -> Page[LinkRow]:
    """事项用证 / 事项发证 lists: admins see every department's links, others their own matters'."""
    try:
        kind_ = LinkKind(kind)
    except ValueError:
        raise ValidationError({"kind": "uses or issues"}) from None
    stmt = (select(MatterTypeLink)
            .join(Matter, Matter.id == MatterTypeLink.matter_id)
            .join(CertificateType, CertificateType.id == MatterTypeLink.type_id)
            .where(Matter.tenant_id == actor.tenant_id, MatterTypeLink.kind == kind_))
    if not actor.is_admin:
        stmt = stmt.where(Matter.department_id == actor.department_id)
    elif department_id:
        stmt = stmt.where(Matter.department_id == department_id)
    if text:
        pattern = like(text)
        stmt = stmt.where(Matter.name.like(pattern, escape="\\") | Matter.code.like(pattern, escape="\\")
                          | CertificateType.name.like(pattern, escape="\\"))
    result = paginate(uow.session, stmt, page, size, sort,
                      {"matter_code": Matter.code, "matter_name": Matter.name, "type_name": CertificateType.name,
                       "created_at": MatterTypeLink.created_at})
    s = uow.session
    rows = []
    for ln in result.items:
        m, t = s.get(Matter, ln.matter_id), s.get(CertificateType, ln.type_id)
        dept = s.get(Department, m.department_id)
        rows.append(LinkRow(ln.id, ln.kind, m, t, dept.name if dept else "", ln.created_at))
    return Page(rows, result.total, result.page, result.size)


def choices(uow: UnitOfWork, actor: Actor) -> list[Matter]:
    """Matters to pick from in the link form: the actor's department's, or all for an admin."""
    stmt = select(Matter).where(Matter.tenant_id == actor.tenant_id)
    if not actor.is_admin:
        stmt = stmt.where(Matter.department_id == actor.department_id)
    return list(uow.session.execute(stmt.order_by(Matter.code)).scalars())
