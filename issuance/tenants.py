"""Tenants: isolated deployment units (regions). Created by a platform admin."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from . import audit
from .codes import is_region_code
from .context import Actor
from .errors import Conflict, ValidationError
from .models import Tenant
from .unit_of_work import UnitOfWork

CODE = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


def create(uow: UnitOfWork, actor: Actor, code: str, name: str, region_code: str = "") -> Tenant:
    actor.require_admin()
    errors = {}
    if not CODE.match(code or ""):
        errors["code"] = "1-32 letters, digits, _ or -"
    if not (name or "").strip() or len(name) > 128:
        errors["name"] = "1-128 characters"
    if region_code and not is_region_code(region_code):
        errors["region_code"] = "a six-digit region code"
    if errors:
        raise ValidationError(errors)
    if uow.session.execute(select(func.count()).select_from(Tenant).where(Tenant.code == code)).scalar():
        raise Conflict(f"tenant {code} exists")
    tenant = Tenant(code=code, name=name.strip(), region_code=region_code)
    uow.session.add(tenant)
    uow.session.flush()
    audit.record(uow.session, actor, "tenant.create", "tenant", tenant.id, code=code, name=name)
    return tenant
