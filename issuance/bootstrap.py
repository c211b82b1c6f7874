"""What a new deployment needs before anyone can log in: roles, the tenant, the first admin."""

from __future__ import annotations

from sqlalchemy import select

from . import accounts, audit
from .context import SYSTEM, Actor
from .models import Role, RoleCode, Tenant, User, UserRole
from .unit_of_work import UnitOfWork

ROLES = [
    (1, RoleCode.PLATFORM_ADMIN, "证照链管理员"),
    (2, RoleCode.DEPT_ADMIN, "部门管理员"),
    (3, RoleCode.CLERK, "录入员"),
    (4, RoleCode.REVIEWER, "审核员"),
    (5, RoleCode.AUDITOR, "审计员"),
]


def ensure_roles(uow: UnitOfWork) -> None:
    existing = {r.id for r in uow.session.execute(select(Role)).scalars()}
    for rid, code, name in ROLES:
        if rid not in existing:
            uow.session.add(Role(id=rid, code=code.value, name=name))
    uow.session.flush()


def ensure_tenant(uow: UnitOfWork, code: str, name: str) -> Tenant:
    tenant = uow.session.execute(select(Tenant).where(Tenant.code == code)).scalar_one_or_none()
    if tenant is None:
        tenant = Tenant(code=code, name=name, region_code=code if code.isdigit() and len(code) == 6 else "")
        uow.session.add(tenant)
        uow.session.flush()
    return tenant


def create_admin(uow: UnitOfWork, policy: accounts.Policy, tenant: Tenant, username: str, password: str) -> User:
    """The first platform admin, holding the role whose id the config names as admin role."""
    actor = Actor(None, "init", tenant.id, None, is_admin=True)
    role_code = uow.session.get(Role, policy.admin_role_id)
    if role_code is None:
        raise ValueError(f"platform.admin_role_id = {policy.admin_role_id} names no role")
    user = accounts.create_user(uow, actor, policy, username, password, display_name=username)
    uow.session.add(UserRole(user_id=user.id, role_id=policy.admin_role_id, department_id=None))
    audit.record(uow.session, actor, "user.grant_role", "user", user.id, role=role_code.code)
    return user


def initialise(uow: UnitOfWork, policy: accounts.Policy, tenant_code: str, tenant_name: str) -> Tenant:
    ensure_roles(uow)
    tenant = ensure_tenant(uow, tenant_code, tenant_name)
    audit.record(uow.session, SYSTEM, "platform.initialise", "tenant", tenant.id)
    return tenant
