"""Client systems (系统清单): the business systems through which a department calls the sharing API.

DB23/T 2836 7.2.2: a business system applies with the IP addresses it calls from; once the
platform admin approves, it gets a unique AccountId bound to those addresses, and every call is
checked against both. Here a department's clerk or admin registers the system, the admin decides
through the approval engine, and the AccountId is issued at the first approval.

Public functions:

- ``register(uow, actor, name, ips, description="", department_id=None) -> ClientSystem``
- ``update(uow, actor, system_id, name=None, ips=None, description=None) -> ClientSystem``
- ``review(uow, actor, system_id, approve, reason="") -> ClientSystem``
- ``resubmit(uow, actor, system_id) -> ClientSystem``  (a rejected or disabled one, unchanged)
- ``disable(uow, actor, system_id, reason="") -> ClientSystem``
- ``delete(uow, actor, system_id) -> None``  (only a system that never had an AccountId)
- ``get(uow, actor, system_id) -> ClientSystem``
- ``search(uow, actor, text="", status="", department_id=None, page=1, size=20, sort="-created_at") -> Page``
- ``authenticate(session, account_id, ip) -> ClientSystem``, raising ``AccessRefused`` whose
  ``reason`` (``AccessReason``) the interface maps to its return code
- ``normalise_ip(text) -> str``, ``parse_ips(value) -> list[str]``
"""

from __future__ import annotations

import enum
import ipaddress
import re
import secrets
from typing import Iterable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from . import approval, audit, states
from .context import Actor
from .errors import AuthenticationFailed, Conflict, IllegalTransition, NotFound, PermissionDenied, ValidationError
from .listing import Page, like, paginate
from .models import ClientSystem, Department, RoleCode, UsageApplication
from .models.org import ReviewState as R
from .unit_of_work import UnitOfWork

MAX_IPS = 20
ACCOUNT_ID = re.compile(r"^[0-9A-F]{32}$")

class AccessReason(str, enum.Enum):
    """Why ``authenticate`` refused; the interface maps each to its own return code."""

    UNKNOWN_ACCOUNT = "unknown_account"   # no system has this AccountId (or it is malformed)
    NOT_APPROVED = "not_approved"         # waiting for review, rejected, or its department is not active
    DISABLED = "disabled"                 # the admin or the department switched it off
    IP_NOT_BOUND = "ip_not_bound"         # the caller's IP is not one the AccountId is bound to


class AccessRefused(AuthenticationFailed):
    code = "access_refused"

    def __init__(self, reason: AccessReason, message: str) -> None:
        super().__init__(message)
        self.reason = reason


# --- IP addresses -------------------------------------------------------------------------------

def normalise_ip(text: str) -> str:
    """One address in its canonical text, so that stored and presented addresses compare as strings.

    An IPv4-mapped IPv6 address (``::ffff:10.0.0.1``, what a dual-stack socket reports for an
    IPv4 client) is the IPv4 address. Networks, zone ids and addresses no host calls from
    (unspecified, multicast) are refused: an AccountId is bound to hosts.
    """
    raw = str(text).strip()
    if "%" in raw or "/" in raw:
        raise ValueError(f"{raw}: a single host address without zone or prefix")
    addr = ipaddress.ip_address(raw)  # ValueError on anything else
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    if addr.is_unspecified or addr.is_multicast:
        raise ValueError(f"{raw}: not the address of a calling host")
    return str(addr)


def parse_ips(value: str | Iterable[str]) -> list[str]:
    """Normalised, de-duplicated addresses, in the order given; ``value`` may be one text with
    addresses separated by commas, semicolons or white space (what a form sends)."""
    items = re.split(r"[\s,;，；]+", value) if isinstance(value, str) else list(value)
    out: list[str] = []
    bad: list[str] = []
    for item in items:
        if not str(item).strip():
            continue
        try:
            ip = normalise_ip(item)
        except ValueError:
            bad.append(str(item).strip())
            continue
        if ip not in out:
            out.append(ip)
    if bad:
        raise ValidationError({"ips": "not an IPv4 or IPv6 host address: " + ", ".join(bad[:5])})
    if not out:
        raise ValidationError({"ips": "at least one IP address the system calls from"})
    if len(out) > MAX_IPS:
        raise ValidationError({"ips": f"at most {MAX_IPS} IP addresses"})
    return out


def _name(value: str) -> str:
    name = str(value or "").strip()
    if not name or len(name) > 128:
        raise ValidationError({"name": "1-128 characters"})
    return name


def _description(value: str) -> str:
    text = str(value or "").strip()
    if len(text) > 2000:
        raise ValidationError({"description": "at most 2000 characters"})
    return text


def _name_taken(uow: UnitOfWork, department_id: int, name: str, exclude_id: int | None = None) -> bool:
    stmt = select(func.count()).select_from(ClientSystem).where(
        ClientSystem.department_id == department_id, ClientSystem.name == name)
    if exclude_id is not None:
        stmt = stmt.where(ClientSystem.id != exclude_id)
    return bool(uow.session.execute(stmt).scalar())


# --- the department's side ----------------------------------------------------------------------

def register(uow: UnitOfWork, actor: Actor, name: str, ips: str | Iterable[str], description: str = "",
             department_id: int | None = None) -> ClientSystem:
    """A new system belongs to the registering user's department (as the seed says) and goes
    straight to the admin's review; admins may register one for a named department."""
    actor.require(RoleCode.DEPT_ADMIN, RoleCode.CLERK)
    clean_name, clean_ips, clean_desc = _name(name), parse_ips(ips), _description(description)
    if department_id is None or not actor.is_admin:
        if department_id is not None and department_id != actor.department_id:
            raise PermissionDenied("systems can be registered for your own department only")
        department_id = actor.require_department()
    dept = uow.session.get(Department, department_id)
    if dept is None or dept.tenant_id != actor.tenant_id:
        raise NotFound(f"department {department_id} not found")
    if dept.status is not R.APPROVED:
        raise ValidationError({"department_id": f"{dept.name} has not been onboarded"})
    if _name_taken(uow, dept.id, clean_name):
        raise Conflict(f"{dept.name} already has a system named {clean_name}")
    cs = ClientSystem(tenant_id=dept.tenant_id, department_id=dept.id, name=clean_name, ips=clean_ips,
                      description=clean_desc, status=R.DRAFT, created_by_id=actor.user_id)
    uow.session.add(cs)
    uow.session.flush()
    audit.record(uow.session, actor, "client_system.register", "client_system", cs.id, name=clean_name, ips=clean_ips)
    approval.submit(uow.session, actor, approval.CLIENT_SYSTEM, cs)
    return cs


def update(uow: UnitOfWork, actor: Actor, system_id: int, name: str | None = None,
           ips: str | Iterable[str] | None = None, description: str | None = None) -> ClientSystem:
    """Edit a system. The admin vouched for an approved system as it was, so changing one that
    is approved (or disabled, or rejected) sends it back to review, and its AccountId stops
    working until the admin approves again; a system waiting for review is edited in place.
    """
    actor.require(RoleCode.DEPT_ADMIN, RoleCode.CLERK)
    cs = _own(uow, actor, system_id)
    new_name = cs.name if name is None else _name(name)
    new_ips = list(cs.ips) if ips is None else parse_ips(ips)
    new_desc = cs.description if description is None else _description(description)
    if new_name != cs.name and _name_taken(uow, cs.department_id, new_name, exclude_id=cs.id):
        raise Conflict(f"the department already has a system named {new_name}")
    changed = {k: v for k, v in (("name", new_name), ("ips", new_ips), ("description", new_desc))
               if v != getattr(cs, k)}
    if not changed:
        return cs
    if cs.status is not R.SUBMITTED:
        states.check(approval.CLIENT_SYSTEM.kind, cs.id, cs.status, R.SUBMITTED)
    cs.name, cs.ips, cs.description = new_name, new_ips, new_desc
    audit.record(uow.session, actor, "client_system.update", "client_system", cs.id, **changed)
    if cs.status is not R.SUBMITTED:
        approval.submit(uow.session, actor, approval.CLIENT_SYSTEM, cs)
    return cs


def resubmit(uow: UnitOfWork, actor: Actor, system_id: int) -> ClientSystem:
    """Ask again, unchanged, for a rejected or disabled system (e.g. once a dispute is settled)."""
    actor.require(RoleCode.DEPT_ADMIN, RoleCode.CLERK)
    cs = _own(uow, actor, system_id)
    approval.submit(uow.session, actor, approval.CLIENT_SYSTEM, cs)
    return cs


def disable(uow: UnitOfWork, actor: Actor, system_id: int, reason: str = "") -> ClientSystem:
    """Stop the AccountId at once (the interface authenticates every call, not only Token).

    The platform admin or the system's own department admin may do it; if the system is sent
    back to review and approved again, it gets a new AccountId, so a leaked one stays dead.
    """
    cs = get(uow, actor, system_id)
    if not actor.is_admin:
        actor.require(RoleCode.DEPT_ADMIN)
        if cs.department_id != actor.department_id:
            raise PermissionDenied("only systems of your own department can be disabled")
    before = cs.status.value
    if cs.status is R.DISABLED:
        raise IllegalTransition(approval.CLIENT_SYSTEM.kind, cs.id, before, R.DISABLED.value, "it is already disabled")
    states.advance(approval.CLIENT_SYSTEM.kind, cs, R.DISABLED)
    cs.rotate_account = cs.account_id is not None
    uow.session.flush()
    approval._log(uow.session, actor, approval.CLIENT_SYSTEM, [(cs, before, cs.status.value)],
                  approval.CLIENT_SYSTEM.steps[0].name, "disable", reason.strip())
    return cs


def delete(uow: UnitOfWork, actor: Actor, system_id: int) -> None:
    """Delete a system that never had an AccountId; one that had must be disabled instead, so
    that its usage records keep naming it."""
    actor.require(RoleCode.DEPT_ADMIN, RoleCode.CLERK)
    cs = _own(uow, actor, system_id)
    if cs.account_id is not None:
        raise Conflict(f"{cs.name} has had an AccountId; disable it instead")
    s = uow.session
    if s.execute(select(func.count()).select_from(UsageApplication).where(
            UsageApplication.client_system_id == cs.id)).scalar():
        raise Conflict(f"{cs.name} has usage applications; disable it instead")
    audit.record(s, actor, "client_system.delete", "client_system", cs.id, name=cs.name, ips=list(cs.ips))
    s.delete(cs)
    s.flush()


# --- the admin's side ---------------------------------------------------------------------------

def new_account_id() -> str:
    """128 random bits as 32 upper-case hex digits, the form of the standard's example (C.1)."""
    return secrets.token_hex(16).upper()


def review(uow: UnitOfWork, actor: Actor, system_id: int, approve: bool, reason: str = "") -> ClientSystem:
    """The admin's decision; the first approval (and the first after a disable) issues the AccountId."""
    cs = get(uow, actor, system_id)
    approval.decide(uow.session, actor, approval.CLIENT_SYSTEM, cs, approve, reason)
    if approve and (cs.account_id is None or cs.rotate_account):
        old = cs.account_id
        cs.account_id, cs.rotate_account = new_account_id(), False
        uow.session.flush()
        audit.record(uow.session, actor, "client_system.account_issued", "client_system", cs.id,
                     replaced=bool(old), ips=list(cs.ips))
    return cs


# --- reading ------------------------------------------------------------------------------------

def get(uow: UnitOfWork, actor: Actor, system_id: int) -> ClientSystem:
    """A system of another department is 'not found' to non-admins: its AccountId is a credential."""
    cs = uow.session.get(ClientSystem, system_id)
    if cs is None or cs.tenant_id != actor.tenant_id or not actor.can_see_department(cs.department_id):
        raise NotFound(f"client system {system_id} not found")
    return cs


def _own(uow: UnitOfWork, actor: Actor, system_id: int) -> ClientSystem:
    cs = get(uow, actor, system_id)
    if not actor.is_admin and cs.department_id != actor.department_id:
        raise PermissionDenied("only systems of your own department can be changed")
    return cs


def search(uow: UnitOfWork, actor: Actor, text: str = "", status: str = "", department_id: int | None = None,
           page: int = 1, size: int = 20, sort: str = "-created_at") -> Page[ClientSystem]:
    """The system list: a department sees its own systems, an admin every department's."""
    stmt = select(ClientSystem).where(ClientSystem.tenant_id == actor.tenant_id)
    if not actor.is_admin:
        stmt = stmt.where(ClientSystem.department_id == actor.require_department())
    elif department_id:
        stmt = stmt.where(ClientSystem.department_id == department_id)
    if text:
        pattern = like(text)
        stmt = stmt.where(ClientSystem.name.like(pattern, escape="\\")
                          | ClientSystem.account_id.like(pattern.upper(), escape="\\"))
    if status:
        try:
            stmt = stmt.where(ClientSystem.status == R(status))
        except ValueError:
            raise ValidationError({"status": ", ".join(s.value for s in R)}) from None
    return paginate(uow.session, stmt, page, size, sort,
                    {"created_at": ClientSystem.created_at, "name": ClientSystem.name, "status": ClientSystem.status})


# --- the interface's check ----------------------------------------------------------------------

def authenticate(session: Session, account_id: str, ip: str) -> ClientSystem:
    """The client system of ``account_id`` if it may call from ``ip`` now; else ``AccessRefused``.

    Called on every interface call, not only for Token, so that a disable or a pending change
    takes effect at once. The order of checks decides what a caller learns: an unknown account
    learns nothing about systems, a known one learns its state before its IP binding.
    """
    acc = str(account_id or "").strip().upper()
    if not ACCOUNT_ID.match(acc):
        raise AccessRefused(AccessReason.UNKNOWN_ACCOUNT, "unknown AccountId")
    cs = session.execute(select(ClientSystem).where(ClientSystem.account_id == acc)).scalar_one_or_none()
    if cs is None:
        raise AccessRefused(AccessReason.UNKNOWN_ACCOUNT, "unknown AccountId")
    if cs.status is R.DISABLED:
        raise AccessRefused(AccessReason.DISABLED, f"client system {cs.name} is disabled")
    if cs.status is not R.APPROVED:
        raise AccessRefused(AccessReason.NOT_APPROVED, f"client system {cs.name} is {cs.status.value}, not approved")
    dept = session.get(Department, cs.department_id)
    if dept is None or dept.status is not R.APPROVED:
        raise AccessRefused(AccessReason.NOT_APPROVED, f"the department of client system {cs.name} is not active")
    try:
        caller = normalise_ip(ip)
    except ValueError:
        caller = None
    if caller is None or caller not in cs.ips:
        raise AccessRefused(AccessReason.IP_NOT_BOUND, f"{ip} is not bound to this AccountId")
    return cs


def choices(uow: UnitOfWork, actor: Actor, approved_only: bool = True) -> list[tuple[int, str]]:
    """(id, name) of the systems the actor's department may use (an admin: every department's),
    by name: the options of the usage application form and of the record filter."""
    stmt = select(ClientSystem.id, ClientSystem.name).where(ClientSystem.tenant_id == actor.tenant_id)
    if not actor.is_admin:
        stmt = stmt.where(ClientSystem.department_id == actor.require_department())
    if approved_only:
        stmt = stmt.where(ClientSystem.status == R.APPROVED)
    return [(i, n) for i, n in uow.session.execute(stmt.order_by(ClientSystem.name, ClientSystem.id)).all()]
