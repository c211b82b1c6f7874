"""Users: login with lockout, roles per department, password changes, switching department."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterable

from sqlalchemy import func, select

from certledger.db.base import utcnow
from . import audit
from .context import Actor
from .errors import AccountLocked, AuthenticationFailed, Conflict, NotFound, PermissionDenied, ValidationError
from .listing import Page, like, paginate
from .models import Department, Role, RoleCode, Tenant, User, UserRole
from .models.org import ReviewState
from argon2 import PasswordHasher

from .passwords import DEFAULT_HASHER, check_policy, hash_password, make_hasher, needs_rehash, verify_password
from .unit_of_work import UnitOfWork

USERNAME = re.compile(r"^[A-Za-z0-9_.@-]{3,64}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
PHONE = re.compile(r"^\+?[0-9-]{5,20}$")


@dataclass(frozen=True)
class Policy:
    admin_role_id: int = 1
    lockout_threshold: int = 3
    min_length: int = 8
    min_classes: int = 3
    hasher: PasswordHasher = field(default=DEFAULT_HASHER, compare=False)

    @classmethod
    def from_settings(cls, settings) -> "Policy":
        s = settings.security
        return cls(settings.platform.admin_role_id, s.lockout_threshold, s.password_min_length, s.password_min_classes,
                   make_hasher(s.argon2_time_cost, s.argon2_memory_kib))


def actor_for(uow: UnitOfWork, user: User, policy: Policy, ip: str = "", department_id: int | None = None) -> Actor:
    """Build the acting identity of a user in one of their departments (default: the current)."""
    session = uow.session
    dept_id = department_id if department_id is not None else user.current_department_id
    links = session.execute(select(UserRole).where(UserRole.user_id == user.id)).scalars().all()
    is_admin = any(l.role_id == policy.admin_role_id for l in links)
    if dept_id is not None and not is_admin and not any(l.department_id == dept_id for l in links):
        dept_id = None
    dept = session.get(Department, dept_id) if dept_id is not None else None
    # the tenant follows the current department; a platform admin may also pick one without a department
    tenant_id = dept.tenant_id if dept else (user.current_tenant_id or user.tenant_id)
    if is_admin and user.current_tenant_id and dept and dept.tenant_id != user.current_tenant_id:
        dept_id, tenant_id = None, user.current_tenant_id
    role_ids = {l.role_id for l in links if l.department_id == dept_id or l.department_id is None}
    if dept is not None and dept.status is not ReviewState.APPROVED and not is_admin:
        # a department works only once onboarded: until then its roles grant nothing (its applicant
        # may still change and resubmit the application: departments._own)
        role_ids = {l.role_id for l in links if l.department_id is None}
    codes = set(session.execute(select(Role.code).where(Role.id.in_(role_ids))).scalars()) if role_ids else set()
    return Actor(user.id, user.username, tenant_id, dept_id, frozenset(codes), is_admin, ip)


def authenticate(uow: UnitOfWork, username: str, password: str, policy: Policy, ip: str = "") -> Actor:
    """Check a password; the N-th consecutive failure locks the account until an admin unlocks it.

    Failures are committed before the error is raised, so the count survives the refusal.
    """
    session = uow.session
    user = session.execute(select(User).where(User.username == username)).scalar_one_or_none()
    if user is None or not user.active:
        # the same answer as a wrong password: do not reveal which user names exist
        if user is None:
            verify_password(policy.hasher.hash("x"), password, policy.hasher)  # same timing as a real check
        raise AuthenticationFailed("wrong user name or password")
    system = Actor(user.id, user.username, user.tenant_id, None, ip=ip)
    if user.locked:
        raise AccountLocked(f"account {username} is locked after {policy.lockout_threshold} failed logins; "
                            "ask an administrator to unlock it")
    if not verify_password(user.password_hash, password, policy.hasher):
        user.failed_logins += 1
        if user.failed_logins >= policy.lockout_threshold:
            user.locked, user.locked_at = True, utcnow()
            audit.record(session, system, "user.locked", "user", user.id, failures=user.failed_logins)
            uow.commit()
            raise AccountLocked(f"account {username} is now locked after {user.failed_logins} failed logins; "
                                "ask an administrator to unlock it")
        audit.record(session, system, "user.login_failed", "user", user.id, failures=user.failed_logins)
        uow.commit()
        left = policy.lockout_threshold - user.failed_logins
        raise AuthenticationFailed(f"wrong user name or password ({left} attempt(s) left before the account is locked)")
    user.failed_logins = 0
    if needs_rehash(user.password_hash, policy.hasher):
        user.password_hash = hash_password(password, policy.hasher)
    actor = actor_for(uow, user, policy, ip)
    audit.record(session, actor, "user.login", "user", user.id)
    uow.commit()
    return actor


def _role_ids(uow: UnitOfWork, grants: Iterable[tuple[str, int | None]]) -> list[tuple[int, int | None]]:
    by_code = {r.code: r.id for r in uow.session.execute(select(Role)).scalars()}
    out = []
    for code, dept in grants:
        if code not in by_code:
            raise ValidationError({"roles": f"unknown role {code!r}"})
        out.append((by_code[code], dept))
    return out


def create_user(uow: UnitOfWork, actor: Actor, policy: Policy, username: str, password: str,
                display_name: str = "", email: str = "", phone: str = "",
                roles: Iterable[tuple[str, int | None]] = ()) -> User:
    """Admins create anyone; a department admin creates users of their own department only."""
    roles = list(roles)
    if not actor.is_admin:
        actor.require(RoleCode.DEPT_ADMIN)
        if any(dept != actor.department_id for _, dept in roles):
            raise PermissionDenied("a department admin grants roles in their own department only")
    errors = {}
    if not USERNAME.match(username or ""):
        errors["username"] = "3-64 letters, digits or _ . @ -"
    if email and not EMAIL.match(email):
        errors["email"] = "not an e-mail address"
    if phone and not PHONE.match(phone):
        errors["phone"] = "not a phone number"
    if errors:
        raise ValidationError(errors)
    check_policy(password, policy.min_length, policy.min_classes)
    session = uow.session
    if session.execute(select(func.count()).select_from(User).where(User.username == username)).scalar():
        raise Conflict(f"user name {username!r} is taken")
    user = User(tenant_id=actor.tenant_id, username=username, display_name=display_name or username,
                email=email, phone=phone, password_hash=hash_password(password, policy.hasher), password_changed_at=utcnow())
    session.add(user)
    session.flush()
    for role_id, dept in _role_ids(uow, roles):
        session.add(UserRole(user_id=user.id, role_id=role_id, department_id=dept))
        if dept is not None and user.current_department_id is None:
            user.current_department_id = dept
    audit.record(session, actor, "user.create", "user", user.id, username=username, roles=roles)
    return user


def grant_role(uow: UnitOfWork, actor: Actor, user_id: int, role_code: str, department_id: int | None) -> None:
    if not actor.is_admin:
        actor.require(RoleCode.DEPT_ADMIN)
        if department_id != actor.department_id:
            raise PermissionDenied("a department admin grants roles in their own department only")
    user = get_user(uow, actor, user_id)
    [(role_id, dept)] = _role_ids(uow, [(role_code, department_id)])
    exists = uow.session.execute(select(UserRole).where(
        UserRole.user_id == user.id, UserRole.role_id == role_id, UserRole.department_id == dept)).scalar_one_or_none()
    if exists is None:
        uow.session.add(UserRole(user_id=user.id, role_id=role_id, department_id=dept))
    if dept is not None and user.current_department_id is None:
        user.current_department_id = dept
    audit.record(uow.session, actor, "user.grant_role", "user", user.id, role=role_code, department_id=dept)


def get_user(uow: UnitOfWork, actor: Actor, user_id: int) -> User:
    user = uow.session.get(User, user_id)
    if user is None or (user.tenant_id != actor.tenant_id and user.id != actor.user_id):
        raise NotFound(f"user {user_id} not found")
    return user


def unlock(uow: UnitOfWork, actor: Actor, user_id: int) -> None:
    actor.require_admin()
    user = get_user(uow, actor, user_id)
    user.locked, user.locked_at, user.failed_logins = False, None, 0
    audit.record(uow.session, actor, "user.unlock", "user", user.id)


def change_password(uow: UnitOfWork, actor: Actor, policy: Policy, old: str, new: str, confirm: str) -> None:
    user = get_user(uow, actor, actor.user_id)
    if not verify_password(user.password_hash, old, policy.hasher):
        raise ValidationError({"old_password": "the current password is wrong"})
    if new != confirm:
        raise ValidationError({"confirm_password": "the two new passwords differ"})
    if new == old:
        raise ValidationError({"new_password": "choose a password different from the current one"})
    check_policy(new, policy.min_length, policy.min_classes, field="new_password")
    user.password_hash, user.password_changed_at = hash_password(new, policy.hasher), utcnow()
    audit.record(uow.session, actor, "user.change_password", "user", user.id)


def update_profile(uow: UnitOfWork, actor: Actor, display_name: str, email: str, phone: str) -> User:
    errors = {}
    if not display_name.strip() or len(display_name) > 64:
        errors["display_name"] = "1-64 characters"
    if email and not EMAIL.match(email):
        errors["email"] = "not an e-mail address"
    if phone and not PHONE.match(phone):
        errors["phone"] = "not a phone number"
    if errors:
        raise ValidationError(errors)
    user = get_user(uow, actor, actor.user_id)
    user.display_name, user.email, user.phone = display_name.strip(), email, phone
    audit.record(uow.session, actor, "user.update_profile", "user", user.id)
    return user


def departments_of(uow: UnitOfWork, user: User) -> list[Department]:
    ids = {l.department_id for l in uow.session.execute(select(UserRole).where(UserRole.user_id == user.id)).scalars()
           if l.department_id is not None}
    if not ids:
        return []
    return list(uow.session.execute(select(Department).where(Department.id.in_(ids)).order_by(Department.name)).scalars())


def switch_department(uow: UnitOfWork, actor: Actor, policy: Policy, department_id: int) -> Actor:
    """A user in several departments works in one at a time; roles follow the department."""
    user = get_user(uow, actor, actor.user_id)
    dept = uow.session.get(Department, department_id)
    if dept is None:
        raise NotFound(f"department {department_id} not found")
    if not actor.is_admin and department_id not in {d.id for d in departments_of(uow, user)}:
        raise PermissionDenied(f"{actor.username} is not a member of {dept.name}")
    if dept.status is not ReviewState.APPROVED and not actor.is_admin:
        raise PermissionDenied(f"{dept.name} has not been approved yet")
    user.current_department_id = department_id
    user.current_tenant_id = dept.tenant_id
    new_actor = actor_for(uow, user, policy, actor.ip, department_id)
    audit.record(uow.session, new_actor, "user.switch_department", "department", department_id)
    return new_actor


def tenants_of(uow: UnitOfWork, actor: Actor) -> list[Tenant]:
    """Admins reach every tenant; others the tenants of the departments they belong to."""
    stmt = select(Tenant).order_by(Tenant.code)
    if not actor.is_admin:
        user = get_user(uow, actor, actor.user_id)
        stmt = stmt.where(Tenant.id.in_({d.tenant_id for d in departments_of(uow, user)} or {user.tenant_id}))
    return list(uow.session.execute(stmt).scalars())


def switch_tenant(uow: UnitOfWork, actor: Actor, policy: Policy, tenant_id: int) -> Actor:
    """Work in another tenant: members move to their first department there; admins need none."""
    if tenant_id not in {t.id for t in tenants_of(uow, actor)}:
        raise PermissionDenied(f"{actor.username} has no access to tenant {tenant_id}")
    user = get_user(uow, actor, actor.user_id)
    in_tenant = [d for d in departments_of(uow, user) if d.tenant_id == tenant_id and d.status is ReviewState.APPROVED]
    user.current_tenant_id = tenant_id
    user.current_department_id = in_tenant[0].id if in_tenant else None
    if not in_tenant and not actor.is_admin:
        raise PermissionDenied(f"{actor.username} has no approved department in tenant {tenant_id}")
    new_actor = actor_for(uow, user, policy, actor.ip)
    audit.record(uow.session, new_actor, "user.switch_tenant", "tenant", tenant_id)
    return new_actor


# --- user management (用户管理): a department admin's staff, an admin's every user --------------
#
# A department admin manages the users who hold a role in their department: they see them, grant
# and revoke roles there, create new ones. What changes the account itself (deactivate, reset the
# password, unlock) reaches every department the user works in, so a department admin may do it
# only to users who belong to their department alone and are not platform admins; anything wider is
# the platform admin's. Users of other departments are "not found", never "forbidden": a department
# admin does not learn which user ids exist elsewhere.

DEPARTMENT_ROLES = (RoleCode.CLERK.value, RoleCode.REVIEWER.value, RoleCode.DEPT_ADMIN.value, RoleCode.AUDITOR.value)
USER_SORTS = {"username": User.username, "created_at": User.created_at, "display_name": User.display_name}


def _manager(actor: Actor) -> None:
    """Only admins and department admins (acting for their department) manage users."""
    if actor.is_admin:
        return
    actor.require(RoleCode.DEPT_ADMIN)
    actor.require_department()


def _tenant_users(actor: Actor):
    """Users of the actor's tenant: its own accounts and members of its departments."""
    in_tenant_depts = (select(UserRole.user_id).join(Department, Department.id == UserRole.department_id)
                       .where(Department.tenant_id == actor.tenant_id))
    return (User.tenant_id == actor.tenant_id) | User.id.in_(in_tenant_depts)


def _links(uow: UnitOfWork, user_id: int) -> list[UserRole]:
    return list(uow.session.execute(select(UserRole).where(UserRole.user_id == user_id)).scalars())


def managed_user(uow: UnitOfWork, actor: Actor, user_id: int) -> User:
    """A user the actor may manage: for a department admin, one holding a role in their department."""
    _manager(actor)
    user = uow.session.get(User, user_id)
    if user is None:
        raise NotFound(f"user {user_id} not found")
    if actor.is_admin:
        visible = uow.session.execute(select(func.count()).select_from(User).where(
            User.id == user_id, _tenant_users(actor))).scalar()
    else:
        visible = any(l.department_id == actor.department_id for l in _links(uow, user_id))
    if not visible:
        raise NotFound(f"user {user_id} not found")
    return user


def may_manage_account(uow: UnitOfWork, actor: Actor, user: User) -> bool:
    """Whether the actor may change the account itself (deactivate, reset password, unlock)."""
    if actor.is_admin:
        return True
    return all(l.department_id == actor.department_id for l in _links(uow, user.id))


def _account(uow: UnitOfWork, actor: Actor, user_id: int) -> User:
    user = managed_user(uow, actor, user_id)
    if not may_manage_account(uow, actor, user):
        raise PermissionDenied("this user also works for other departments or the platform; ask the platform admin")
    return user


def search_users(uow: UnitOfWork, actor: Actor, text: str = "", role: str = "", locked: str = "",
                 active: str = "", department_id: int | None = None, page: int = 1, size: int = 20,
                 sort: str = "username") -> Page[User]:
    """The actor's users: a department admin's department, an admin's tenant (or one department).

    ``role`` filters on a role held in the listed department (anywhere, for an admin's whole
    tenant); ``locked`` and ``active`` are "1" or "0".
    """
    _manager(actor)
    dept = department_id if actor.is_admin else actor.department_id
    stmt = select(User).where(_tenant_users(actor))
    if dept is not None:
        stmt = stmt.where(User.id.in_(select(UserRole.user_id).where(UserRole.department_id == dept)))
    if text:
        pattern = like(text)
        stmt = stmt.where(User.username.like(pattern, escape="\\") | User.display_name.like(pattern, escape="\\"))
    if role:
        holders = select(UserRole.user_id).join(Role, Role.id == UserRole.role_id).where(Role.code == role)
        if dept is not None:
            holders = holders.where(UserRole.department_id == dept)
        stmt = stmt.where(User.id.in_(holders))
    for name, value, column in (("locked", locked, User.locked), ("active", active, User.active)):
        if value not in ("", "0", "1"):
            raise ValidationError({name: "1 or 0"})
        if value:
            stmt = stmt.where(column == (value == "1"))
    return paginate(uow.session, stmt.order_by(User.username), page, size, sort or "username", USER_SORTS)


def roles_of(uow: UnitOfWork, user_ids: Iterable[int], department_id: int | None = None
             ) -> dict[int, list[tuple[str, int | None]]]:
    """(role code, department id) of each user, in one department when ``department_id`` is given."""
    ids = set(user_ids)
    if not ids:
        return {}
    stmt = (select(UserRole.user_id, Role.code, UserRole.department_id).join(Role, Role.id == UserRole.role_id)
            .where(UserRole.user_id.in_(ids)).order_by(UserRole.department_id, Role.id))
    if department_id is not None:
        stmt = stmt.where(UserRole.department_id == department_id)
    out: dict[int, list[tuple[str, int | None]]] = {i: [] for i in ids}
    for uid, code, dept in uow.session.execute(stmt).all():
        out[uid].append((code, dept))
    return out


def _department_of_tenant(uow: UnitOfWork, actor: Actor, department_id: int | None, field: str) -> int:
    """The department a role is granted in: the department admin's own; for an admin, an approved
    department of the tenant."""
    if not actor.is_admin:
        return actor.require_department()
    dept = uow.session.get(Department, department_id) if department_id is not None else None
    if dept is None or dept.tenant_id != actor.tenant_id or dept.status is not ReviewState.APPROVED:
        raise ValidationError({field: "choose an approved department of the tenant"})
    return dept.id


def _check_new_password(policy: Policy, password: str, confirm: str, errors: dict[str, str]) -> None:
    try:
        check_policy(password, policy.min_length, policy.min_classes)
    except ValidationError as e:
        errors.update(e.errors)
    if "password" not in errors and password != confirm:
        errors["confirm_password"] = "the two passwords differ"


def create_department_user(uow: UnitOfWork, actor: Actor, policy: Policy, username: str, password: str,
                           confirm: str, display_name: str = "", email: str = "", phone: str = "",
                           roles: Iterable[str] = (), department_id: int | None = None) -> User:
    """A new user with roles in one department (a department admin's own); every field is checked
    before anything is written, so a refusal names all the wrong fields at once."""
    _manager(actor)
    roles = list(dict.fromkeys(roles))
    errors: dict[str, str] = {}
    if not USERNAME.match(username or ""):
        errors["username"] = "3-64 letters, digits or _ . @ -"
    elif uow.session.execute(select(func.count()).select_from(User).where(User.username == username)).scalar():
        errors["username"] = "taken"
    if len(display_name) > 64:
        errors["display_name"] = "1-64 characters"
    if email and not EMAIL.match(email):
        errors["email"] = "not an e-mail address"
    if phone and not PHONE.match(phone):
        errors["phone"] = "not a phone number"
    _check_new_password(policy, password, confirm, errors)
    if not roles:
        errors["roles"] = "choose at least one role"
    elif any(r not in DEPARTMENT_ROLES for r in roles):
        errors["roles"] = "unknown role"
    dept = None
    try:
        dept = _department_of_tenant(uow, actor, department_id, "department_id")
    except ValidationError as e:
        errors.update(e.errors)
    if errors:
        raise ValidationError(errors)
    return create_user(uow, actor, policy, username, password, display_name, email, phone,
                       [(r, dept) for r in roles])


def grant_department_role(uow: UnitOfWork, actor: Actor, user_id: int, role_code: str,
                          department_id: int | None = None) -> None:
    """Grant a department role to a user the actor manages (admin: in any approved department)."""
    managed_user(uow, actor, user_id)
    if role_code not in DEPARTMENT_ROLES:
        raise ValidationError({"role": "unknown role"})
    grant_role(uow, actor, user_id, role_code, _department_of_tenant(uow, actor, department_id, "department_id"))


def revoke_role(uow: UnitOfWork, actor: Actor, user_id: int, role_code: str, department_id: int | None) -> None:
    """Take a role back, under the rules of ``grant_role``. Refused: a department admin removing
    their own department admin role, an admin removing their own admin role (either would leave
    nobody to undo it), and a user's last role (deactivate the account instead)."""
    if not actor.is_admin:
        actor.require(RoleCode.DEPT_ADMIN)
        if department_id != actor.department_id:
            raise PermissionDenied("a department admin revokes roles in their own department only")
    user = get_user(uow, actor, user_id)
    [(role_id, dept)] = _role_ids(uow, [(role_code, department_id)])
    own_admin = RoleCode.PLATFORM_ADMIN.value if actor.is_admin else RoleCode.DEPT_ADMIN.value
    if user.id == actor.user_id and role_code in (own_admin, RoleCode.PLATFORM_ADMIN.value):
        raise ValidationError({"role": "you cannot remove your own administrator role"})
    links = _links(uow, user.id)
    link = next((l for l in links if l.role_id == role_id and l.department_id == dept), None)
    if link is None:
        raise NotFound(f"user {user_id} does not hold {role_code} there")
    if len(links) == 1:
        raise ValidationError({"role": "this is the user's last role; deactivate the account instead"})
    uow.session.delete(link)
    uow.session.flush()
    if user.current_department_id == dept and not any(l.department_id == dept for l in links if l is not link):
        user.current_department_id = next((l.department_id for l in links
                                           if l is not link and l.department_id is not None), None)
    audit.record(uow.session, actor, "user.revoke_role", "user", user.id, role=role_code, department_id=dept)


def revoke_department_role(uow: UnitOfWork, actor: Actor, user_id: int, role_code: str,
                           department_id: int | None = None) -> None:
    """``revoke_role`` for a user the actor manages; a department admin's own department."""
    managed_user(uow, actor, user_id)
    if role_code not in DEPARTMENT_ROLES:
        raise ValidationError({"role": "unknown role"})
    revoke_role(uow, actor, user_id, role_code, department_id if actor.is_admin else actor.department_id)


def unlock_user(uow: UnitOfWork, actor: Actor, user_id: int) -> None:
    """Unlock after the failed logins: the admin, or the department admin of a user of their
    department alone (the seed's "联系管理员解锁" reaches the nearest administrator)."""
    user = _account(uow, actor, user_id)
    user.locked, user.locked_at, user.failed_logins = False, None, 0
    audit.record(uow.session, actor, "user.unlock", "user", user.id)


def set_active(uow: UnitOfWork, actor: Actor, user_id: int, active: bool) -> User:
    """Deactivate (an inactive user cannot log in, their session ends) or activate again; nobody
    deactivates themselves."""
    user = _account(uow, actor, user_id)
    if user.id == actor.user_id and not active:
        raise ValidationError({"active": "you cannot deactivate yourself"})
    if user.active != active:
        user.active = active
        audit.record(uow.session, actor, "user.activate" if active else "user.deactivate", "user", user.id)
    return user


def reset_password(uow: UnitOfWork, actor: Actor, policy: Policy, user_id: int, password: str, confirm: str) -> None:
    """Set a new initial password for another user (the own one is changed with the old one,
    ``change_password``); audited without the password."""
    user = _account(uow, actor, user_id)
    if user.id == actor.user_id:
        raise ValidationError({"password": "change your own password on the account page"})
    errors: dict[str, str] = {}
    _check_new_password(policy, password, confirm, errors)
    if errors:
        raise ValidationError(errors)
    user.password_hash, user.password_changed_at = hash_password(password, policy.hasher), utcnow()
    audit.record(uow.session, actor, "user.reset_password", "user", user.id)
