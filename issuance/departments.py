"""Department onboarding (部门进驻), approved by a platform admin."""

from __future__ import annotations

from sqlalchemy import func, select

from . import approval, audit
from .codes import is_region_code
from .context import Actor
from .errors import Conflict, NotFound, PermissionDenied, ValidationError
from .listing import Page, like, paginate
from .models import CertificateType, Department, Role, RoleCode, User, UserRole
from .models.org import ReviewState
from .unit_of_work import UnitOfWork

EDITABLE = ("name", "code", "region_code", "contact_name", "contact_phone", "address")
LIMITS = {"contact_name": 64, "contact_phone": 32, "address": 256}  # the column sizes


def _validate(data: dict) -> dict:
    errors = {}
    name = (data.get("name") or "").strip()
    code = (data.get("code") or "").strip().upper()
    region = (data.get("region_code") or "").strip()
    if not name or len(name) > 128:
        errors["name"] = "1-128 characters"
    if not code or not code.isalnum() or len(code) > 32:
        errors["code"] = "the issuing-authority code: letters and digits, at most 32"
    if not is_region_code(region):
        errors["region_code"] = "a six-digit region code such as 230100"
    for key, most in LIMITS.items():
        if len((data.get(key) or "").strip()) > most:
            errors[key] = f"at most {most} characters"
    if errors:
        raise ValidationError(errors)
    clean = {k: (data.get(k) or "").strip() for k in EDITABLE}
    clean.update(name=name, code=code, region_code=region)
    return clean


def apply(uow: UnitOfWork, actor: Actor, **data) -> Department:
    """The department's first user asks to onboard it; they become its department admin."""
    clean = _validate(data)
    s = uow.session
    if s.execute(select(func.count()).select_from(Department).where(
            Department.tenant_id == actor.tenant_id, Department.code == clean["code"])).scalar():
        raise Conflict(f"a department with code {clean['code']} is already registered")
    dept = Department(tenant_id=actor.tenant_id, status=ReviewState.DRAFT, created_by_id=actor.user_id, **clean)
    s.add(dept)
    s.flush()
    approval.submit(s, actor, approval.DEPARTMENT_ONBOARDING, dept)
    if actor.user_id is not None:
        admin_role = s.execute(select(Role.id).where(Role.code == RoleCode.DEPT_ADMIN.value)).scalar_one()
        s.add(UserRole(user_id=actor.user_id, role_id=admin_role, department_id=dept.id))
        user = s.get(User, actor.user_id)
        if user is not None and user.current_department_id is None:
            user.current_department_id = dept.id
    audit.record(s, actor, "department.apply", "department", dept.id, **clean)
    return dept


def review(uow: UnitOfWork, actor: Actor, department_id: int, approve: bool, reason: str = "") -> Department:
    dept = get(uow, actor, department_id)
    approval.decide(uow.session, actor, approval.DEPARTMENT_ONBOARDING, dept, approve, reason)
    return dept


def resubmit(uow: UnitOfWork, actor: Actor, department_id: int, **data) -> Department:
    dept = _own(uow, actor, department_id)
    for k, v in _validate({**{k: getattr(dept, k) for k in EDITABLE}, **data}).items():
        setattr(dept, k, v)
    approval.submit(uow.session, actor, approval.DEPARTMENT_ONBOARDING, dept)
    return dept


def get(uow: UnitOfWork, actor: Actor, department_id: int) -> Department:
    """Any department of the tenant may be viewed (the seed lets everyone look them up)."""
    dept = uow.session.get(Department, department_id)
    if dept is None or dept.tenant_id != actor.tenant_id:
        raise NotFound(f"department {department_id} not found")
    return dept


def may_change(actor: Actor, dept: Department) -> bool:
    """The admin; the department's own admin; before approval, its applicant (whose roles count
    only once the department is approved, see accounts.actor_for)."""
    if actor.is_admin:
        return True
    if dept.id != actor.department_id:
        return False
    if dept.status is not ReviewState.APPROVED and dept.created_by_id == actor.user_id:
        return True
    return RoleCode.DEPT_ADMIN.value in actor.roles


def _own(uow: UnitOfWork, actor: Actor, department_id: int) -> Department:
    dept = get(uow, actor, department_id)
    if not may_change(actor, dept):
        raise PermissionDenied("only your own department can be changed, by its admin")
    return dept


def own(uow: UnitOfWork, actor: Actor, department_id: int) -> Department:
    """The department if the actor may change it (its own department admin, or an admin)."""
    return _own(uow, actor, department_id)


def update(uow: UnitOfWork, actor: Actor, department_id: int, **data) -> Department:
    dept = _own(uow, actor, department_id)
    clean = _validate({**{k: getattr(dept, k) for k in EDITABLE}, **data})
    if clean["code"] != dept.code and uow.session.execute(select(func.count()).select_from(Department).where(
            Department.tenant_id == dept.tenant_id, Department.code == clean["code"])).scalar():
        raise Conflict(f"a department with code {clean['code']} is already registered")
    for k, v in clean.items():
        setattr(dept, k, v)
    audit.record(uow.session, actor, "department.update", "department", dept.id, **clean)
    return dept


def delete(uow: UnitOfWork, actor: Actor, department_id: int) -> None:
    actor.require_admin()
    dept = get(uow, actor, department_id)
    s = uow.session
    if s.execute(select(func.count()).select_from(CertificateType).where(CertificateType.department_id == dept.id)).scalar():
        raise Conflict(f"{dept.name} still has certificate types; delete them first")
    s.query(UserRole).filter(UserRole.department_id == dept.id).delete()
    s.query(User).filter(User.current_department_id == dept.id).update({User.current_department_id: None})
    audit.record(s, actor, "department.delete", "department", dept.id, name=dept.name, code=dept.code)
    s.delete(dept)


def search(uow: UnitOfWork, actor: Actor, text: str = "", status: str = "", region_code: str = "",
           page: int = 1, size: int = 20, sort: str = "-created_at") -> Page[Department]:
    stmt = select(Department).where(Department.tenant_id == actor.tenant_id)
    if text:
        stmt = stmt.where(Department.name.like(like(text), escape="\\") | Department.code.like(like(text), escape="\\"))
    if status:
        stmt = stmt.where(Department.status == ReviewState(status))
    if region_code:
        stmt = stmt.where(Department.region_code == region_code)
    return paginate(uow.session, stmt, page, size, sort,
                    {"created_at": Department.created_at, "name": Department.name, "code": Department.code})


def names(uow: UnitOfWork, actor: Actor, ids) -> dict[int, str]:
    """Names of the tenant's departments with ``ids``, for list pages that show them by id."""
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return dict(uow.session.execute(select(Department.id, Department.name).where(
        Department.tenant_id == actor.tenant_id, Department.id.in_(wanted))).all())


def choices(uow: UnitOfWork, actor: Actor, approved_only: bool = True) -> list[tuple[int, str]]:
    """(id, name) of the tenant's departments, by name: the options of an admin's department filter."""
    stmt = select(Department.id, Department.name).where(Department.tenant_id == actor.tenant_id)
    if approved_only:
        stmt = stmt.where(Department.status == ReviewState.APPROVED)
    return [(i, n) for i, n in uow.session.execute(stmt.order_by(Department.name)).all()]
