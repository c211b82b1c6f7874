"""证照类型管理 and 证照类型审核 (certificate types and their review).

A department's makers define a type (its information and its fields, 信息项), send it to the
admin's review, then register it as a catalog (目录注册). The admin reviews types of every
department. Department isolation is the domain's: ``cert_types.get_for_department`` makes another
department's type "not found", ``_own`` refuses changes to it.
"""

from __future__ import annotations

import re
from typing import Any, Mapping

from flask import current_app, g, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from issuance import approval, catalogs, cert_types
from issuance.codes import HOLDER_TYPES
from issuance.departments import names as department_names
from issuance.errors import Conflict, ValidationError
from issuance.models import RoleCode, ValueType

from . import kit
from .auth import current_actor
from .kit import blueprint

bp = blueprint("types", __name__, url_prefix="/types")

MAKER_ROLES = (RoleCode.DEPT_ADMIN, RoleCode.CLERK)
MAX_FIELDS = 200
MIN_ROWS = 5  # without JavaScript a form still offers this many rows (filled or empty)
SCALAR_FORM = ("name", "code", "define_authority", "define_authority_code", "holder_type", "description",
               "review_interval_months", "copy_default_purpose", "copy_validity_days")
CHECKBOXES = ("annual_review", "copy_enabled")
FIELD_KEYS = ("name", "column_name", "value_type", "required", "options", "max_length")
ROW = re.compile(r"^fields-(\d{1,4})-(" + "|".join(FIELD_KEYS) + r")$")

VALUE_TYPES = [
    (ValueType.STRING.value, _l("字符串")), (ValueType.TEXT.value, _l("长文本")),
    (ValueType.NUMBER.value, _l("数字")), (ValueType.DATE.value, _l("日期")),
    (ValueType.ENUM.value, _l("枚举")), (ValueType.IMAGE.value, _l("图片")),
    (ValueType.ID_NUMBER.value, _l("居民身份证号码")), (ValueType.USCC.value, _l("统一社会信用代码")),
]
SHARE_TYPES = [
    ("none", _l("不共享"), _l("注册后的目录不能进行用证申请。")),
    ("on_demand", _l("依职能按需共享"), _l("用证申请后需经发证部门审核才可进行用证。")),
    ("public", _l("社会公示"), _l("用证申请后自动通过审核无需发证部门手工审核。")),
]
TYPE_STATES = ("draft", "submitted", "approved", "disabled")


@bp.context_processor
def _views() -> dict:
    """Templates show links to other modules' pages only once those pages exist."""
    return {"view_functions": current_app.view_functions}




def holder_types() -> list[tuple[str, str]]:
    return list(HOLDER_TYPES.items())


def type_errors(e: ValidationError) -> dict[str, str]:
    """The domain's (English) messages as the reader's, by field; unknown ones pass through."""
    fixed = {
        "name": _("请输入名称（1-128个字符）"),
        "code": _("证照类型代码只能由大写字母和数字组成（最多64位）"),
        "holder_type": _("请选择持证主体类型"),
        "review_interval_months": _("请输入1到120之间的整数"),
        "copy_validity_days": _("请输入1到3650之间的整数"),
        "share_type": _("请选择共享类型"),
        "reason": _("驳回时请填写驳回理由"),
    }
    out: dict[str, str] = {}
    for key, text in e.errors.items():
        key = key or "form"
        m = re.match(r"^fields\[(\d+)\]\.(\w+)$", key)
        if key in fixed and not (key == "code" and "cannot change" in text):
            out[key] = fixed[key]
        elif key == "code":
            out[key] = _("已有证照的类型不能修改证照类型代码")
        elif key == "fields":
            out[key] = (_("已有证照的类型不能修改信息项") if "cannot change" in text
                        else _("证照类型至少需要一个信息项"))
        elif key == "type_id":
            out["form"] = _("证照类型审核通过后才能注册目录")
        elif m:
            part = m.group(2)
            dup = "duplicate" in text
            out[key] = {
                "name": _("信息项名称重复") if dup else _("请输入信息项名称（1-128个字符）"),
                "column_name": _("字段名重复") if dup else _("字段名以字母开头，只能包含字母、数字和下划线"),
                "value_type": _("请选择值类型"),
                "options": _("枚举类型请填写可选值，用逗号分隔"),
                "max_length": _("请输入1到4000之间的整数"),
            }.get(part, text)
        else:
            out[key] = text
    return out


# --- the form ---------------------------------------------------------------------------------------

def posted_type() -> dict[str, Any]:
    """The type's own information from the posted form (checkboxes absent mean "no")."""
    data: dict[str, Any] = kit.form_values(*SCALAR_FORM)
    for name in CHECKBOXES:
        data[name] = request.form.get(name) == "1"
    return data


def posted_fields() -> list[dict[str, str]]:
    """The rows of the fields table in their order; an all-empty row is a spare row, not a field.

    Rows are named ``fields-<n>-<key>``; ``n`` only orders them (JavaScript adds and removes rows,
    so the numbers may have gaps)."""
    rows: dict[int, dict[str, str]] = {}
    for key in request.form:
        m = ROW.match(key)
        if m:
            rows.setdefault(int(m.group(1)), {})[m.group(2)] = (request.form.get(key) or "").strip()
    out = [r for _n, r in sorted(rows.items())
           if r.get("name") or r.get("column_name") or r.get("options")]
    if len(out) > MAX_FIELDS:
        raise ValidationError({"fields": _("信息项最多 %(n)d 个", n=MAX_FIELDS)})
    for r in out:
        r["required"] = "1" if r.get("required") == "1" else ""
    return out


def field_rows(fields) -> list[dict[str, Any]]:
    """Stored fields as form rows."""
    return [{"name": f.name, "column_name": f.column_name, "value_type": f.value_type.value,
             "required": "1" if f.required else "", "options": ", ".join(f.options or []),
             "max_length": f.max_length} for f in fields]


def type_values(t) -> dict[str, Any]:
    return {k: getattr(t, k) for k in (*SCALAR_FORM, *CHECKBOXES)}


def render_form(values: Mapping[str, Any], rows: list[dict], errors: Mapping[str, str], t=None,
                fields_locked: bool = False):
    blank = max(MIN_ROWS - len(rows), 2)
    return kit.form_page("types/form.html", errors, values=values, rows=rows, blank=blank, t=t,
                         holder_types=holder_types(), value_types=VALUE_TYPES, fields_locked=fields_locked)


# --- 证照类型管理 --------------------------------------------------------------------------------------

@bp.route("")
@kit.guard(*MAKER_ROLES, department=True)
def index():
    args = kit.list_args("text", "status", sort="-created_at")
    actor = current_actor()
    with kit.uow() as uow:
        page = cert_types.search(uow, actor, text=args.filters["text"], status=_state(args.filters["status"]),
                                 page=args.page, size=args.size, sort=args.sort)
        names = department_names(uow, actor, (t.department_id for t in page.items))
        returned = approval.returned(uow.session, approval.TYPE_REVIEW.kind, (t.id for t in page.items))
        ctx = kit.later(uow, render_template, "types/index.html", page=page, args=args, names=names,
                               states=_state_options(), returned=returned)
    return ctx()


def _state(value: str) -> str:
    if value and value not in TYPE_STATES:
        raise ValidationError({"status": _("未知的状态")})
    return value


def _state_options() -> list[tuple[str, str]]:
    return [(s, kit.STATE_LABELS[s]) for s in TYPE_STATES]


@bp.route("/new", methods=["GET", "POST"])
@kit.guard(*MAKER_ROLES, department=True)
def new():
    g.nav = "types.index"
    if request.method == "GET":
        return render_form({"holder_type": "01", "review_interval_months": 12, "copy_validity_days": 30}, [], {})
    values = posted_type()
    try:
        rows = posted_fields()
    except ValidationError as e:
        return render_form(values, [], type_errors(e))
    try:
        with kit.uow() as uow:
            t = cert_types.create(uow, current_actor(), rows, **values)
            uow.commit()
            type_id = t.id
    except ValidationError as e:
        return render_form(values, rows, type_errors(e))
    except Conflict:
        return render_form(values, rows, {"code": _("证照类型代码已被使用")})
    return kit.done(_("证照类型已保存"), "types.view", type_id=type_id)


@bp.route("/<int:type_id>")
@kit.guard(*MAKER_ROLES, department=True)
def view(type_id: int):
    g.nav = "types.index"
    actor = current_actor()
    with kit.uow() as uow:
        t = cert_types.get_for_department(uow, actor, type_id)
        list(t.fields)  # loaded now: the page is rendered after the unit of work is closed
        history = cert_types.review_history(uow, actor, type_id)
        ctx = kit.later(uow, render_template, "types/view.html", t=t, catalog=catalogs.of_type(uow, actor, t.id),
                               history=history, has_certificates=cert_types.has_certificates(uow, t.id),
                               department=department_names(uow, actor, [t.department_id]).get(t.department_id, ""),
                               value_types=dict(VALUE_TYPES), holder_types=HOLDER_TYPES,
                               designer=designer_links(t), reviewing=False,
                               returned=approval.returned(uow.session, approval.TYPE_REVIEW.kind, [t.id]))
    return ctx()


def designer_links(t) -> dict[str, bool]:
    """Which surface-design pages exist (the designer is another module, possibly absent)."""
    views = current_app.view_functions
    return {"edit": "designer.edit" in views, "view": "designer.view" in views and bool(t.surface_design)}


@bp.route("/<int:type_id>/edit", methods=["GET", "POST"])
@kit.guard(*MAKER_ROLES, department=True)
def edit(type_id: int):
    g.nav = "types.index"
    actor = current_actor()
    with kit.uow() as uow:
        t = cert_types.get_for_department(uow, actor, type_id)
        locked = cert_types.has_certificates(uow, t.id)
        current_values, current_rows = type_values(t), field_rows(t.fields)
        kit.detach(uow)
    if request.method == "GET":
        return render_form(current_values, current_rows, {}, t=t, fields_locked=locked)
    values = posted_type()
    try:
        rows = None if locked else posted_fields()
    except ValidationError as e:
        return _edit_again(type_id, values, [], type_errors(e), locked)
    try:
        with kit.uow() as uow:
            cert_types.update(uow, actor, type_id, rows, **values)
            uow.commit()
    except ValidationError as e:
        return _edit_again(type_id, values, current_rows if rows is None else rows, type_errors(e), locked)
    return kit.done(_("证照类型已保存"), "types.view", type_id=type_id)


def _edit_again(type_id: int, values, rows, errors, locked):
    with kit.uow() as uow:
        t = cert_types.get_for_department(uow, current_actor(), type_id)
        ctx = kit.later(uow, render_form, values, rows, errors, t=t, fields_locked=locked)
    return ctx()


@bp.route("/<int:type_id>/submit", methods=["POST"])
@kit.guard(*MAKER_ROLES, department=True)
def submit(type_id: int):
    return kit.act(cert_types.submit, type_id, message=_("已提交审核"), endpoint="types.view", type_id=type_id)


@bp.route("/<int:type_id>/delete", methods=["POST"])
@kit.guard(*MAKER_ROLES, department=True)
def delete(type_id: int):
    return kit.act(cert_types.delete, type_id, message=_("已删除"), endpoint="types.index")


@bp.route("/<int:type_id>/register", methods=["GET", "POST"])
@kit.guard(*MAKER_ROLES, department=True)
def register(type_id: int):
    """目录注册: first registration from the type, re-registration (重注册) from 目录管理."""
    g.nav = "catalogs.manage" if request.args.get("from") == "catalogs" else "types.index"
    actor = current_actor()
    errors: dict[str, str] = {}
    values = kit.form_values("share_type", "description", "usage_restriction")
    if request.method == "POST":
        try:
            with kit.uow() as uow:
                cat = catalogs.register(uow, actor, type_id, values["share_type"], values["description"],
                                        values["usage_restriction"])
                uow.commit()
                cat_id = cat.id
        except ValidationError as e:
            errors = type_errors(e)
        else:
            return kit.done(_("目录已提交注册，等待审核"), "catalogs.view", catalog_id=cat_id)
    with kit.uow() as uow:
        t = cert_types.get_for_department(uow, actor, type_id)
        cat = catalogs.of_type(uow, actor, t.id)
        if request.method == "GET" and cat is not None:
            values = {"share_type": cat.share_type.value, "description": cat.description,
                      "usage_restriction": cat.usage_restriction}
        ctx = kit.later(uow, kit.form_page, "types/register.html", errors, t=t, catalog=cat, values=values,
                             share_types=SHARE_TYPES)
    return ctx()


# --- 证照类型审核 (admin) --------------------------------------------------------------------------------

@bp.route("/review")
@kit.guard(admin_only=True)
def review_list():
    """Waiting types first: without a status filter in the query the list shows 待审核."""
    args = kit.list_args("text", "status", sort="-created_at")
    if "status" not in request.args:
        args.filters["status"] = "submitted"
    actor = current_actor()
    with kit.uow() as uow:
        page = cert_types.search(uow, actor, text=args.filters["text"], status=_state(args.filters["status"]),
                                 own_only=False, page=args.page, size=args.size, sort=args.sort)
        names = department_names(uow, actor, (t.department_id for t in page.items))
        ctx = kit.later(uow, render_template, "types/review_list.html", page=page, args=args, names=names,
                               states=_state_options())
    return ctx()


@bp.route("/<int:type_id>/review", methods=["GET", "POST"])
@kit.guard(admin_only=True)
def review(type_id: int):
    g.nav = "types.review_list"
    actor = current_actor()
    errors: dict[str, str] = {}
    reason = ""
    if request.method == "POST":
        done, errors, reason = kit.review_post(
            lambda uow, ok, why: cert_types.review(uow, actor, type_id, ok, why), "types.review_list",
            errors_of=type_errors)
        if done:
            return done
    with kit.uow() as uow:
        t = cert_types.get_for_department(uow, actor, type_id)
        list(t.fields)
        history = approval.history(uow.session, approval.TYPE_REVIEW.kind, t.id)
        ctx = kit.later(uow, render_template, "types/view.html", t=t, catalog=None, history=history, has_certificates=False,
                               department=department_names(uow, actor, [t.department_id]).get(t.department_id, ""),
                               value_types=dict(VALUE_TYPES), holder_types=HOLDER_TYPES,
                               designer={"edit": False, "view": False}, reviewing=True, errors=errors,
                               reason=reason)
    page = ctx()
    return page, (400 if errors else 200)
