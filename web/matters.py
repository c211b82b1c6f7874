"""事项 (matter list, Excel import, uses-types and issues-types links).

事项清单: an admin sees every department's matters, anyone else their own department's; a new
matter belongs to its creator's department (an admin acting for no department picks one). 批量导入
imports an Excel file all rows or none (``issuance.matter_import``); the problems of the last
failed import are kept per user so that 下载错误报告 is a plain GET. 事项用证 / 事项发证 list and
make the links between matters and certificate types.
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

from flask import current_app, g, render_template, request, send_file
from flask_babel import gettext as _

from issuance import cert_types, matter_import, matters
from issuance.departments import choices as department_choices, names as department_names
from issuance.errors import Conflict, NotFound, ValidationError
from issuance.models import RoleCode

from . import kit
from .app import current_platform
from .auth import current_actor
from .kit import blueprint

bp = blueprint("matters", __name__, url_prefix="/matters")

MAKER_ROLES = (RoleCode.DEPT_ADMIN, RoleCode.CLERK)
FORM = ("code", "name", "category", "basis", "description")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
KINDS = {"uses": "matters.uses", "issues": "matters.issues"}


@bp.context_processor
def _views() -> dict:
    return {"view_functions": current_app.view_functions}


def matter_errors(e: ValidationError) -> dict[str, str]:
    """The domain's messages in the reader's language, by field."""
    fixed = {
        "code": _("事项编码为1-64位字母、数字或 _ . -"),
        "name": _("请输入事项名称（1-256个字符）"),
        "category": _("事项类别最多64个字符"),
        "department_id": _("请选择所属部门"),
        "matter_id": _("请选择事项"),
        "type_id": _("请选择证照类型"),
    }
    out: dict[str, str] = {}
    for key, text in e.errors.items():
        key = key or "form"
        if key == "type_id" and "own department" in text:
            out[key] = _("事项只能发本部门的证照类型")
        else:
            out[key] = fixed.get(key, text)
    return out


# --- 事项清单 ---------------------------------------------------------------------------------------

@bp.route("")
@kit.guard(*MAKER_ROLES, department=True)
def index():
    args = kit.list_args("text", "department", sort="code")
    actor = current_actor()
    with kit.uow() as uow:
        page = matters.search(uow, actor, text=args.filters["text"], department_id=args.int_filter("department"),
                              page=args.page, size=args.size, sort=args.sort)
        names = department_names(uow, actor, (m.department_id for m in page.items))
        departments = department_choices(uow, actor, approved_only=False) if actor.is_admin else []
        ctx = kit.later(uow, render_template, "matters/index.html", page=page, args=args, names=names, departments=departments,
                               import_errors=None, max_mb=matter_import.MAX_BYTES // (1024 * 1024))
    return ctx()


def _form(values: dict, errors: dict, matter_id: int | None = None):
    actor = current_actor()
    with kit.uow() as uow:
        departments = (department_choices(uow, actor) if actor.is_admin and not actor.department_id
                       else [])  # where a new matter may go: onboarded departments
    return kit.form_page("matters/form.html", errors, values=values, matter_id=matter_id, departments=departments)


@bp.route("/new", methods=["GET", "POST"])
@kit.guard(*MAKER_ROLES, department=True)
def new():
    g.nav = "matters.index"
    if request.method == "GET":
        return _form({}, {})
    values = kit.form_values(*FORM, "department_id")
    actor = current_actor()
    department_id = None
    if actor.is_admin and not actor.department_id:
        try:
            department_id = int(values["department_id"])
        except ValueError:
            return _form(values, {"department_id": _("请选择所属部门")})
    data = {k: values[k] for k in FORM}
    try:
        with kit.uow() as uow:
            m = matters.create(uow, actor, department_id=department_id, **data)
            uow.commit()
            code = m.code
    except ValidationError as e:
        return _form(values, matter_errors(e))
    except Conflict:
        return _form(values, {"code": _("事项编码已存在")})
    except NotFound:
        return _form(values, {"department_id": _("请选择所属部门")})
    return kit.done(_("事项已保存"), "matters.index", text=code)


@bp.route("/<int:matter_id>/edit", methods=["GET", "POST"])
@kit.guard(*MAKER_ROLES, department=True)
def edit(matter_id: int):
    g.nav = "matters.index"
    actor = current_actor()
    if request.method == "GET":
        with kit.uow() as uow:
            m = matters.get(uow, actor, matter_id)
            values = {k: getattr(m, k) for k in FORM}
        return kit.form_page("matters/form.html", {}, values=values, matter_id=matter_id, departments=[])
    values = kit.form_values(*FORM)
    try:
        with kit.uow() as uow:
            matters.update(uow, actor, matter_id, **values)
            uow.commit()
    except ValidationError as e:
        errors = matter_errors(e)
    except Conflict:
        errors = {"code": _("事项编码已存在")}
    else:
        return kit.done(_("事项已保存"), "matters.index")
    return kit.form_page("matters/form.html", errors, values=values, matter_id=matter_id, departments=[])


@bp.route("/<int:matter_id>/delete", methods=["POST"])
@kit.guard(*MAKER_ROLES, department=True)
def delete(matter_id: int):
    return kit.act(matters.delete, matter_id, message=_("已删除"), endpoint="matters.index")


# --- 批量导入 ---------------------------------------------------------------------------------------

def _report_path(user_id: int) -> Path:
    """Where the problems of a user's last failed import wait for 下载错误报告."""
    return current_platform().settings.data_dir / "files" / "matter_import" / f"{int(user_id)}.json"


@bp.route("/import/template.xlsx")
@kit.guard(*MAKER_ROLES, department=True)
def template():
    return send_file(io.BytesIO(matter_import.build_template()), mimetype=XLSX, as_attachment=True,
                     download_name="事项导入模板.xlsx")


@bp.route("/import", methods=["POST"])
@kit.guard(*MAKER_ROLES, department=True)
def import_file():
    """All rows or none; on problems the list shows them and offers the error report."""
    g.nav = "matters.index"
    actor = current_actor()
    upload = request.files.get("file")
    # read one byte more than allowed so an oversized file is refused, never truncated silently
    data = upload.read(matter_import.MAX_BYTES + 1) if upload else b""
    if not data:
        return _import_failed({"file": _("请选择要导入的Excel文件")}, keep=False)
    try:
        with kit.uow() as uow:
            report = matter_import.import_matters(uow, actor, data)
            uow.commit()
    except ValidationError as e:
        return _import_failed(e.errors, keep=True, message=e.message)
    path = _report_path(actor.user_id)
    path.unlink(missing_ok=True)
    return kit.done(_("已导入 %(n)d 个事项", n=report.created), "matters.index")


def _import_failed(errors: dict[str, str], keep: bool, message: str = ""):
    actor = current_actor()
    if keep:
        path = _report_path(actor.user_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(errors, ensure_ascii=False), encoding="utf-8")
        os.replace(tmp, path)
    args = kit.ListArgs(sort="code")
    with kit.uow() as uow:
        page = matters.search(uow, actor, page=1, size=args.size, sort=args.sort)
        names = department_names(uow, actor, (m.department_id for m in page.items))
        departments = department_choices(uow, actor, approved_only=False) if actor.is_admin else []
        ctx = kit.later(uow, render_template, "matters/index.html", page=page, args=args, names=names, departments=departments,
                               import_errors=errors, import_message=message, report=keep,
                               max_mb=matter_import.MAX_BYTES // (1024 * 1024))
    html = ctx()
    return html, 400


@bp.route("/import/report.xlsx")
@kit.guard(*MAKER_ROLES, department=True)
def import_report():
    path = _report_path(current_actor().user_id)
    if not path.is_file():
        raise NotFound(_("没有可下载的错误报告"))
    errors = json.loads(path.read_text(encoding="utf-8"))
    return send_file(io.BytesIO(matter_import.error_report(errors)), mimetype=XLSX, as_attachment=True,
                     download_name="事项导入错误报告.xlsx")


# --- 事项用证 / 事项发证 ----------------------------------------------------------------------------------

def _links_page(kind: str, errors: dict | None = None, values: dict | None = None):
    args = kit.list_args("text", "department", sort="matter_code")
    actor = current_actor()
    with kit.uow() as uow:
        page = matters.search_links(uow, actor, kind, text=args.filters["text"],
                                    department_id=args.int_filter("department"),
                                    page=args.page, size=args.size, sort=args.sort)
        ctx = kit.later(uow, render_template, "matters/links.html", kind=kind, page=page, args=args,
                               departments=department_choices(uow, actor, approved_only=False) if actor.is_admin else [],
                               matter_choices=[(m.id, f"{m.code} {m.name}") for m in matters.choices(uow, actor)],
                               type_choices=[(t.id, f"{t.name}（{t.code}）") for t in cert_types.choices(
                                   uow, actor, own_only=(kind == "issues"))],
                               errors=errors or {}, values=values or {})
    html = ctx()
    return html, (400 if errors else 200)


@bp.route("/uses")
@kit.guard(*MAKER_ROLES, department=True)
def uses():
    return _links_page("uses")


@bp.route("/issues")
@kit.guard(*MAKER_ROLES, department=True)
def issues():
    return _links_page("issues")


@bp.route("/links/<kind>", methods=["POST"])
@kit.guard(*MAKER_ROLES, department=True)
def link(kind: str):
    """关联: link a matter to a type; problems come back next to the form's fields."""
    if kind not in KINDS:
        raise NotFound(_("页面不存在"))
    g.nav = KINDS[kind]
    values = kit.form_values("matter_id", "type_id")
    errors: dict[str, str] = {}
    ids: dict[str, int] = {}
    for name in ("matter_id", "type_id"):
        try:
            ids[name] = int(values[name])
        except ValueError:
            errors[name] = _("请选择事项") if name == "matter_id" else _("请选择证照类型")
    if not errors:
        try:
            with kit.uow() as uow:
                matters.link(uow, current_actor(), ids["matter_id"], ids["type_id"], kind)
                uow.commit()
        except ValidationError as e:
            errors = matter_errors(e)
        except Conflict:
            errors = {"type_id": _("该事项已关联此证照类型")}
    if errors:
        return _links_page(kind, errors, values)
    return kit.done(_("已关联"), KINDS[kind])


@bp.route("/links/<int:link_id>/delete", methods=["POST"])
@kit.guard(*MAKER_ROLES, department=True)
def unlink(link_id: int):
    kind = request.form.get("kind", "uses")
    return kit.act(matters.unlink, link_id, message=_("已删除"), endpoint=KINDS.get(kind, "matters.uses"))
