"""Certificate types (证照类型): their custom fields, copy settings, and the type review."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Iterable, Mapping

from sqlalchemy import func, select

from . import approval, audit
from .codes import HOLDER_TYPES
from .context import Actor
from .errors import Conflict, IllegalTransition, NotFound, PermissionDenied, ValidationError
from .listing import Page, like, paginate
from .models import Certificate, CertificateType, RoleCode, TypeField, ValueType
from .models.org import ReviewState
from .unit_of_work import UnitOfWork

COLUMN = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
TYPE_CODE = re.compile(r"^[0-9A-Z]{1,64}$")
SCALARS = ("name", "code", "define_authority", "define_authority_code", "holder_type", "description",
           "annual_review", "review_interval_months", "copy_enabled", "copy_default_purpose", "copy_validity_days")

if TYPE_CHECKING:
    from ofd.design import SurfaceDesign


def _bool(v: Any) -> bool:
    if isinstance(v, str):
        return v.strip().lower() in ("1", "true", "yes", "on", "是")
    return bool(v)


def _validate_scalars(data: Mapping[str, Any]) -> dict:
    errors: dict[str, str] = {}
    out: dict[str, Any] = {}
    out["name"] = str(data.get("name") or "").strip()
    if not out["name"] or len(out["name"]) > 128:
        errors["name"] = "1-128 characters"
    out["code"] = str(data.get("code") or "").strip().upper()
    if not TYPE_CODE.match(out["code"]):
        errors["code"] = "the type code (证照类型代码): A-Z and digits only"
    out["define_authority"] = str(data.get("define_authority") or "").strip()[:128]
    out["define_authority_code"] = str(data.get("define_authority_code") or "").strip().upper()[:32]
    out["holder_type"] = str(data.get("holder_type") or "01").strip()
    if out["holder_type"] not in HOLDER_TYPES:
        errors["holder_type"] = f"one of {', '.join(HOLDER_TYPES)}"
    out["description"] = str(data.get("description") or "").strip()
    out["annual_review"] = _bool(data.get("annual_review", False))
    out["copy_enabled"] = _bool(data.get("copy_enabled", False))
    out["copy_default_purpose"] = str(data.get("copy_default_purpose") or "").strip()[:256]
    for key, default, lo, hi in (("review_interval_months", 12, 1, 120), ("copy_validity_days", 30, 1, 3650)):
        try:
            out[key] = int(data.get(key, default) if data.get(key, default) not in ("", None) else default)
            if not lo <= out[key] <= hi:
                raise ValueError
        except (TypeError, ValueError):
            errors[key] = f"a whole number from {lo} to {hi}"
    if errors:
        raise ValidationError(errors)
    return out


def validate_fields(fields: Iterable[Mapping[str, Any]]) -> list[dict]:
    """Field definitions: unique names and column names, known value types, enum options."""
    errors: dict[str, str] = {}
    out, names, columns = [], set(), set()
    for i, f in enumerate(fields, start=1):
        p = f"fields[{i}]"
        name = str(f.get("name") or "").strip()
        column = str(f.get("column_name") or f.get("columnName") or "").strip()
        vt_text = str(f.get("value_type") or f.get("valueType") or "string").strip()
        if not name or len(name) > 128:
            errors[f"{p}.name"] = "1-128 characters"
        elif name in names:
            errors[f"{p}.name"] = f"duplicate field name {name}"
        if not COLUMN.match(column):
            errors[f"{p}.column_name"] = "a letter, then letters, digits or _ (at most 64)"
        elif column.lower() in columns:
            errors[f"{p}.column_name"] = f"duplicate column name {column}"
        try:
            vt = ValueType(vt_text)
        except ValueError:
            errors[f"{p}.value_type"] = f"one of {', '.join(v.value for v in ValueType)}"
            vt = ValueType.STRING
        options = f.get("options")
        if vt is ValueType.ENUM:
            if isinstance(options, str):
                options = [o.strip() for o in re.split(r"[,，;；\n]", options) if o.strip()]
            if not options or not all(isinstance(o, str) and o for o in options):
                errors[f"{p}.options"] = "an enum field needs its list of values"
        else:
            options = None
        try:
            max_length = int(f.get("max_length") or 512)
            if not 1 <= max_length <= 4000:
                raise ValueError
        except (TypeError, ValueError):
            errors[f"{p}.max_length"] = "1-4000"
            max_length = 512
        names.add(name)
        columns.add(column.lower())
        out.append(dict(name=name, column_name=column, value_type=vt, required=_bool(f.get("required", False)),
                        display_order=int(f.get("display_order") or i), max_length=max_length, options=options))
    if not out:
        errors["fields"] = "a certificate type needs at least one field"
    if errors:
        raise ValidationError(errors)
    return out


def _validate_all(data: Mapping[str, Any], fields: Iterable[Mapping[str, Any]] | None) -> tuple[dict, list[dict] | None]:
    """Scalars and fields checked together, so a form shows every problem at once."""
    errors: dict[str, str] = {}
    scalars: dict = {}
    defs: list[dict] | None = None
    try:
        scalars = _validate_scalars(data)
    except ValidationError as e:
        errors.update(e.errors)
    if fields is not None:
        try:
            defs = validate_fields(fields)
        except ValidationError as e:
            errors.update(e.errors)
    if errors:
        raise ValidationError(errors)
    return scalars, defs


def create(uow: UnitOfWork, actor: Actor, fields: Iterable[Mapping[str, Any]], **data) -> CertificateType:
    actor.require(RoleCode.DEPT_ADMIN, RoleCode.CLERK)
    dept_id = actor.require_department()
    scalars, field_defs = _validate_all(data, fields)
    s = uow.session
    if s.execute(select(func.count()).select_from(CertificateType).where(
            CertificateType.tenant_id == actor.tenant_id, CertificateType.code == scalars["code"])).scalar():
        raise Conflict(f"type code {scalars['code']} is already used")
    t = CertificateType(tenant_id=actor.tenant_id, department_id=dept_id, created_by_id=actor.user_id,
                        status=ReviewState.DRAFT, **scalars)
    t.fields = [TypeField(**fd) for fd in field_defs]
    s.add(t)
    s.flush()
    audit.record(s, actor, "certificate_type.create", "certificate_type", t.id, name=t.name, code=t.code)
    return t


def get(uow: UnitOfWork, actor: Actor, type_id: int) -> CertificateType:
    """Types are readable across departments of the tenant (catalogs describe them to everyone)."""
    t = uow.session.get(CertificateType, type_id)
    if t is None or t.tenant_id != actor.tenant_id:
        raise NotFound(f"certificate type {type_id} not found")
    return t


def _own(uow: UnitOfWork, actor: Actor, type_id: int) -> CertificateType:
    t = get(uow, actor, type_id)
    if not actor.is_admin:
        actor.require(RoleCode.DEPT_ADMIN, RoleCode.CLERK)
        if t.department_id != actor.department_id:
            raise PermissionDenied("only types of your own department can be changed")
    return t


def has_certificates(uow: UnitOfWork, type_id: int) -> bool:
    return bool(uow.session.execute(select(func.count()).select_from(Certificate).where(Certificate.type_id == type_id)).scalar())


def update(uow: UnitOfWork, actor: Actor, type_id: int, fields: Iterable[Mapping[str, Any]] | None = None,
           **data) -> CertificateType:
    """Edits are allowed before review; an approved type with certificates keeps its fields."""
    t = _own(uow, actor, type_id)
    if t.status is ReviewState.SUBMITTED:
        raise IllegalTransition("certificate_type", t.id, t.status.value, "edited", "it is under review")
    current = {k: getattr(t, k) for k in SCALARS}
    scalars, defs = _validate_all({**current, **data}, fields)
    if scalars["code"] != t.code and has_certificates(uow, t.id):
        raise ValidationError({"code": "the type code cannot change once certificates exist"})
    if fields is not None and defs is not None:
        if has_certificates(uow, t.id):
            raise ValidationError({"fields": "fields cannot change once certificates of this type exist"})
        t.fields.clear()
        uow.session.flush()  # the old rows go first: a kept column name is unique per type
        t.fields.extend(TypeField(**fd) for fd in defs)
    for k, v in scalars.items():
        setattr(t, k, v)
    if t.status is ReviewState.APPROVED and fields is not None:
        t.status = ReviewState.DRAFT  # changed fields need a new review
    audit.record(uow.session, actor, "certificate_type.update", "certificate_type", t.id, **{
        k: v for k, v in scalars.items() if current.get(k) != v})
    return t


def submit(uow: UnitOfWork, actor: Actor, type_id: int) -> CertificateType:
    t = _own(uow, actor, type_id)
    approval.submit(uow.session, actor, approval.TYPE_REVIEW, t)
    return t


def review(uow: UnitOfWork, actor: Actor, type_id: int, approve: bool, reason: str = "") -> CertificateType:
    t = get(uow, actor, type_id)
    approval.decide(uow.session, actor, approval.TYPE_REVIEW, t, approve, reason)
    return t


def delete(uow: UnitOfWork, actor: Actor, type_id: int) -> None:
    t = _own(uow, actor, type_id)
    if has_certificates(uow, t.id):
        raise Conflict(f"{t.name} has certificates and cannot be deleted")
    from .models import Catalog

    if uow.session.execute(select(func.count()).select_from(Catalog).where(Catalog.type_id == t.id)).scalar():
        # the catalog row references the type: deleting it first is a visible decision (目录管理)
        raise Conflict(f"{t.name} is registered as a catalog; delete the catalog first")
    audit.record(uow.session, actor, "certificate_type.delete", "certificate_type", t.id, name=t.name, code=t.code)
    uow.session.delete(t)


def search(uow: UnitOfWork, actor: Actor, text: str = "", status: str = "", own_only: bool = True,
           page: int = 1, size: int = 20, sort: str = "-created_at") -> Page[CertificateType]:
    stmt = select(CertificateType).where(CertificateType.tenant_id == actor.tenant_id)
    if own_only and not actor.is_admin:
        stmt = stmt.where(CertificateType.department_id == actor.department_id)
    if text:
        stmt = stmt.where(CertificateType.name.like(like(text), escape="\\") | CertificateType.code.like(like(text), escape="\\"))
    if status:
        stmt = stmt.where(CertificateType.status == ReviewState(status))
    return paginate(uow.session, stmt, page, size, sort,
                    {"created_at": CertificateType.created_at, "name": CertificateType.name, "code": CertificateType.code})


def save_surface_design(uow: UnitOfWork, actor: Actor, type_id: int, data) -> "SurfaceDesign":
    """Validate and store a type's surface design. The design itself is not reviewed (as in the
    seed, every main step but the surface design has an approval)."""
    from ofd.design import DesignError, parse

    t = _own(uow, actor, type_id)
    try:
        design = parse(data)
        design.check_sources(f.column_name for f in t.fields)
    except DesignError as exc:
        raise ValidationError({f"design.{k}": v for k, v in exc.errors.items()}) from None
    t.surface_design = design.to_json()
    audit.record(uow.session, actor, "certificate_type.surface_design", "certificate_type", t.id,
                 elements=len(design.elements))
    return design


def surface_design_of(t: CertificateType) -> "SurfaceDesign | None":
    """The stored design, or None: a type without one skips layout, signature and seal."""
    from ofd.design import parse

    return parse(t.surface_design) if t.surface_design else None


def from_sample(sample: Mapping[str, Any], code: str) -> dict:
    """Arguments of ``create`` for a type described like ``samples/business_licence_type.json``."""
    return dict(name=sample["name"], code=code, holder_type="01",
                fields=[{"name": f["name"], "column_name": f["columnName"], "value_type": f["valueType"],
                         "required": f.get("required", False)} for f in sample["fields"]])


# --- reading for the management pages (web/types.py) ------------------------------------------------

def get_for_department(uow: UnitOfWork, actor: Actor, type_id: int) -> CertificateType:
    """A type as its own department (or an admin) sees it on the management pages.

    ``get`` lets every department read a type because catalogs describe it to everyone; the
    type management pages are a department's own workbench, so another department's type is
    "not found" there rather than readable.
    """
    t = get(uow, actor, type_id)
    if not actor.can_see_department(t.department_id):
        raise NotFound(f"certificate type {type_id} not found")
    return t


def choices(uow: UnitOfWork, actor: Actor, own_only: bool = False,
            approved_only: bool = True) -> list[CertificateType]:
    """Types to pick from in a form (matter links): approved ones of the tenant, or of the
    actor's department when ``own_only`` (admins always see the whole tenant)."""
    stmt = select(CertificateType).where(CertificateType.tenant_id == actor.tenant_id)
    if approved_only:
        stmt = stmt.where(CertificateType.status == ReviewState.APPROVED)
    if own_only and not actor.is_admin:
        stmt = stmt.where(CertificateType.department_id == actor.department_id)
    return list(uow.session.execute(stmt.order_by(CertificateType.name, CertificateType.id)).scalars())


def review_history(uow: UnitOfWork, actor: Actor, type_id: int) -> list:
    """The type's submissions and decisions (with rejection reasons), oldest first."""
    t = get_for_department(uow, actor, type_id)
    return approval.history(uow.session, approval.TYPE_REVIEW.kind, t.id)
