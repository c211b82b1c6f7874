"""部门 (department module): onboarding, usage list, client systems, usage approval, usage records.

The five pages of the seed's 部门 section. Each view reads the request, calls one service of
``issuance/`` (departments, client_systems, usage) and renders; the services decide who may see
and change what (a department's systems and applications are "not found" to other departments).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone

from flask import g, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from issuance import approval, client_systems, departments, matters, usage
from issuance.errors import Conflict, PermissionDenied, ValidationError
from issuance.models import RoleCode, UsageStatus
from issuance.models.org import ReviewState
from sharing.codes import Code
from sharing.params import METHODS

from . import kit
from .auth import current_actor

bp = kit.blueprint("departments", __name__, url_prefix="/departments")

MAKERS = (RoleCode.DEPT_ADMIN, RoleCode.CLERK)
REVIEWERS = (RoleCode.DEPT_ADMIN, RoleCode.REVIEWER)
BEIJING = kit.BEIJING

DEPARTMENT_FIELDS = ("name", "code", "region_code", "contact_name", "contact_phone", "address")
DEPARTMENT_MESSAGES = {
    "name": _l("部门名称为 1 到 128 个字符"),
    "code": _l("发证机构代码由字母和数字组成，最多 32 位"),
    "region_code": _l("请输入六位行政区划代码，如 230100"),
    "contact_name": _l("联系人最多 64 个字符"),
    "contact_phone": _l("联系电话最多 32 个字符"),
    "address": _l("地址最多 256 个字符"),
}
SYSTEM_MESSAGES = {
    "name": _l("系统名称为 1 到 128 个字符"),
    "description": _l("系统描述最多 2000 个字符"),
    "department_id": _l("所属部门尚未完成进驻审核"),
}
USAGE_MESSAGES = {
    "client_system_id": _l("请选择已审核通过的系统"),
    "catalog_id": _l("该目录不能申请：只有已发布的社会公示、依职能按需共享目录可以申请"),
    "reason": _l("请填写用证事由（1 到 1000 个字符）"),
    "matter_id": _l("请选择本部门的事项"),
}
REVIEW_STATES = [(s.value, kit.STATE_LABELS[s.value]) for s in ReviewState]
USAGE_STATES = [(s.value, kit.STATE_LABELS[s.value]) for s in UsageStatus if s is not UsageStatus.DRAFT]
INTERFACE_OPTIONS = [("Token", "Token")] + [(i, i) for i in usage.INTERFACES]



def _errors(e: ValidationError, messages) -> dict[str, str]:
    """The domain's field errors in the reader's language (the domain's own words as detail)."""
    out = {}
    for name, text in kit.field_errors(e).items():
        label = messages.get(name)
        if name == "ips":
            out[name] = _("IP 地址格式不正确：%(detail)s", detail=text)
        elif name == "reason" and "rejection" in text:
            out[name] = _("驳回时请填写原因")
        else:
            out[name] = str(label) if label else text
    return out


def _domain_errors(e: ValidationError) -> dict[str, str]:
    return _errors(e, {})


def _int(name: str, value: str | None, required: bool = True) -> int | None:
    """A posted id; a missing or non-numeric one is a field error (the form shows it)."""
    value = (value or "").strip()
    if not value:
        if required:
            raise ValidationError({name: _("请选择")})
        return None
    try:
        return int(value)
    except ValueError:
        raise ValidationError({name: _("请选择")}) from None


def _history(uow, kind: str, subject_id: int) -> list:
    return approval.history(uow.session, kind, subject_id)




# --- 部门进驻 -------------------------------------------------------------------------------------

@bp.route("")
@kit.guard()
def onboarding():
    args = kit.list_args("text", "status", "region_code", sort="-created_at")
    actor = current_actor()
    with kit.reading() as uow:
        page = departments.search(uow, actor, text=args.filters["text"], status=args.filters["status"],
                                  region_code=args.filters["region_code"], page=args.page, size=args.size,
                                  sort=args.sort)
    return render_template("departments/onboarding.html", page=page, args=args, states=REVIEW_STATES,
                           can_apply=actor.is_admin or actor.department_id is None)


def _may_apply() -> None:
    """The seed: the first user of a department onboards it; who already acts for one does not."""
    actor = current_actor()
    if not actor.is_admin and actor.department_id is not None:
        raise PermissionDenied(_("您已属于一个部门，部门进驻由部门的第一个用户办理"))


@bp.route("/new", methods=["GET", "POST"])
@kit.guard()
def new():
    _may_apply()
    values = kit.form_values(*DEPARTMENT_FIELDS)
    errors: dict[str, str] = {}
    if request.method == "POST":
        try:
            with kit.uow() as uow:
                dept = departments.apply(uow, current_actor(), **values)
                uow.commit()
                dept_id = dept.id
        except ValidationError as e:
            errors = _errors(e, DEPARTMENT_MESSAGES)
        except Conflict:
            errors = {"code": _("该发证机构代码已有部门登记")}
        else:
            return kit.done(_("已提交部门进驻申请，等待管理员审核"), "departments.view", id=dept_id)
    g.nav = "departments.onboarding"
    return kit.form_page("departments/department_form.html", errors, values=values, dept=None,
                         action=url_for("departments.new"))


@bp.route("/<int:id>")
@kit.guard()
def view(id: int):
    actor = current_actor()
    with kit.reading() as uow:
        dept = departments.get(uow, actor, id)
        history = _history(uow, "department", id)
    return _department_page(dept, history, {}, 200)


def _department_page(dept, history, errors: dict, status: int):
    actor = current_actor()
    can_edit = departments.may_change(actor, dept)
    g.nav = "departments.onboarding"
    return render_template("departments/department_view.html", dept=dept, history=history, errors=errors,
                           can_edit=can_edit, can_review=actor.is_admin and dept.status is ReviewState.SUBMITTED,
                           can_resubmit=can_edit and dept.status is ReviewState.REJECTED,
                           can_delete=actor.is_admin), status


@bp.route("/<int:id>/edit", methods=["GET", "POST"])
@kit.guard()  # departments.may_change: its admin, or its applicant before approval
def edit(id: int):
    actor = current_actor()
    errors: dict[str, str] = {}
    with kit.uow() as uow:
        dept = departments.own(uow, actor, id)
        values = {k: getattr(dept, k) or "" for k in DEPARTMENT_FIELDS}
        status = dept.status
    if request.method == "POST":
        values = kit.form_values(*DEPARTMENT_FIELDS)
        resubmitting = request.form.get("resubmit") == "1"
        try:
            with kit.uow() as uow:
                if resubmitting:
                    departments.resubmit(uow, actor, id, **values)
                else:
                    departments.update(uow, actor, id, **values)
                uow.commit()
        except ValidationError as e:
            errors = _errors(e, DEPARTMENT_MESSAGES)
        except Conflict:
            errors = {"code": _("该发证机构代码已有部门登记")}
        else:
            return kit.done(_("已重新提交，等待管理员审核") if resubmitting else _("已保存"), "departments.view", id=id)
    g.nav = "departments.onboarding"
    return kit.form_page("departments/department_form.html", errors, values=values, dept_id=id, status=status,
                         action=url_for("departments.edit", id=id))


@bp.route("/<int:id>/review", methods=["POST"])
@kit.guard(admin_only=True)
def review(id: int):
    actor = current_actor()
    done, errors, _reason = kit.review_post(lambda uow, ok, why: departments.review(uow, actor, id, ok, why),
                                            "departments.view", errors_of=_domain_errors, id=id)
    if done:
        return done
    with kit.reading() as uow:
        dept = departments.get(uow, actor, id)
        history = _history(uow, "department", id)
    return _department_page(dept, history, errors, 400)


@bp.route("/<int:id>/delete", methods=["POST"])
@kit.guard(admin_only=True)
def delete(id: int):
    return kit.act(departments.delete, id, message=_("已删除"), endpoint="departments.onboarding")


# --- 用证清单 -------------------------------------------------------------------------------------


@bp.route("/usage", endpoint="usage")
@kit.guard(*MAKERS, department=True)
def usage_list():
    actor = current_actor()
    args = kit.list_args("text", "status", "client_system_id", "department_id", sort="-created_at")
    with kit.reading() as uow:
        page = usage.usage_list(uow, actor, status=args.filters["status"], text=args.filters["text"],
                                client_system_id=args.int_filter("client_system_id"),
                                department_id=args.int_filter("department_id"),
                                page=args.page, size=args.size, sort=args.sort)
        systems = client_systems.choices(uow, actor, approved_only=False)
        depts = departments.choices(uow, actor) if actor.is_admin else []
    return render_template("departments/usage.html", page=page, args=args, states=USAGE_STATES,
                           systems=systems, depts=depts)


@bp.route("/usage/apply", methods=["GET", "POST"])
@kit.guard(*MAKERS, department=True)
def usage_apply():
    """发起申请: a catalog of the shared list, one of the department's approved systems, the reason."""
    actor = current_actor()
    errors: dict[str, str] = {}
    if request.method == "POST":
        values = kit.form_values("catalog_id", "client_system_id", "reason", "matter_id")
        try:
            ids = {}
            field_errors = {}
            for name, required in (("catalog_id", True), ("client_system_id", True), ("matter_id", False)):
                try:
                    ids[name] = _int(name, values[name], required)
                except ValidationError as e:
                    field_errors.update(e.errors)
            if field_errors:
                if not values["reason"]:
                    field_errors["reason"] = "missing"
                raise ValidationError(field_errors)
            with kit.uow() as uow:
                app = usage.apply(uow, actor, ids["client_system_id"], ids["catalog_id"], values["reason"],
                                  matter_id=ids["matter_id"])
                uow.commit()
                app_id, approved = app.id, app.status is UsageStatus.APPROVED
        except ValidationError as e:
            errors = _errors(e, USAGE_MESSAGES)
            for name in ("catalog_id", "client_system_id", "matter_id"):
                if e.errors.get(name) == _("请选择"):
                    errors[name] = _("请选择")
        except Conflict:
            errors = {"client_system_id": _("该系统已申请过此证照目录，请勿重复申请")}
        else:
            message = _("用证申请已自动通过（社会公示）") if approved else _("用证申请已提交，等待发证部门审批")
            return kit.done(message, "departments.usage_view", id=app_id)
    else:
        values = {"catalog_id": request.args.get("catalog_id", ""), "client_system_id": "", "reason": "",
                  "matter_id": ""}
    with kit.uow() as uow:
        catalogs = usage.applicable_catalogs(uow, actor)
        systems = client_systems.choices(uow, actor, approved_only=True)
        own_matters = [(m.id, f"{m.code} {m.name}") for m in
                       matters.search(uow, actor, size=200).items] if actor.department_id else []
    g.nav = "departments.usage"
    labels = kit.STATE_LABELS
    catalog_options = [(c.id, f"{c.type_name}（{c.department_name}，{labels[c.share_type.value]}）") for c in catalogs]
    return kit.form_page("departments/usage_apply.html", errors, values=values, catalogs=catalogs,
                         catalog_options=catalog_options, systems=systems, matters=own_matters, share_labels=labels)


def _usage_page(row, history, errors: dict, status: int):
    actor = current_actor()
    app = row.application
    reviewer = actor.is_admin or (bool(actor.roles & {r.value for r in REVIEWERS})
                                  and actor.department_id == app.issuer_department_id)
    applicant = actor.is_admin or (bool(actor.roles & {r.value for r in MAKERS})
                                   and actor.department_id == app.department_id)
    g.nav = "departments.usage" if actor.department_id == app.department_id else "departments.usage_review"
    return render_template("departments/usage_view.html", row=row, app=app, history=history, errors=errors,
                           can_review=reviewer and app.status is UsageStatus.SUBMITTED,
                           can_withdraw=applicant and app.status in (UsageStatus.SUBMITTED, UsageStatus.APPROVED),
                           openapi=url_for("sharing.openapi")), status


@bp.route("/usage/<int:id>")
@kit.guard(*kit.DEPT_STAFF, department=True)
def usage_view(id: int):
    with kit.reading() as uow:
        row = usage.entry(uow, current_actor(), id)
        history = _history(uow, "usage", id)
    return _usage_page(row, history, {}, 200)


@bp.route("/usage/<int:id>/call")
@kit.guard(*MAKERS, department=True)
def usage_call(id: int):
    """调用服务信息: what the client system sends, with the link to the interface description."""
    actor = current_actor()
    with kit.reading() as uow:
        row = usage.entry(uow, actor, id)
        try:
            call = usage.call_parameters(uow, actor, id)
        except ValidationError:
            call = None
    g.nav = "departments.usage"
    openapi = url_for("sharing.openapi")
    methods = [METHODS["Token"]] + [METHODS[name] for name in (call.interfaces if call else ()) if name in METHODS]
    return render_template("departments/usage_call.html", row=row, call=call, openapi=openapi, methods=methods,
                           base_url=request.host_url.rstrip("/") + openapi.rsplit("/", 1)[0])


@bp.route("/usage/<int:id>/delete", methods=["POST"])
@kit.guard(*MAKERS, department=True)
def usage_delete(id: int):
    return kit.act(usage.delete, id, message=_("已删除"), endpoint="departments.usage")


@bp.route("/usage/<int:id>/review", methods=["POST"])
@kit.guard(*REVIEWERS, department=True)
def usage_decide(id: int):
    actor = current_actor()
    done, errors, _reason = kit.review_post(lambda uow, ok, why: usage.review(uow, actor, id, ok, why),
                                            "departments.usage_view", approved=_("审批通过"),
                                            errors_of=_domain_errors, id=id)
    if done:
        return done
    with kit.reading() as uow:
        row = usage.entry(uow, actor, id)
        history = _history(uow, "usage", id)
    return _usage_page(row, history, errors, 400)


# --- 用证申请审批 ---------------------------------------------------------------------------------

@bp.route("/usage-review")
@kit.guard(*REVIEWERS, department=True)
def usage_review():
    actor = current_actor()
    args = kit.list_args("text", "status", "department_id", sort="-created_at")
    with kit.reading() as uow:
        page = usage.review_list(uow, actor, status=args.filters["status"], text=args.filters["text"],
                                 department_id=args.int_filter("department_id"),
                                 page=args.page, size=args.size, sort=args.sort)
        depts = departments.choices(uow, actor) if actor.is_admin else []
    return render_template("departments/usage_review.html", page=page, args=args, states=USAGE_STATES,
                           depts=depts)


# --- 系统清单 -------------------------------------------------------------------------------------

SYSTEM_FIELDS = ("name", "ips", "description")


@bp.route("/systems")
@kit.guard(*MAKERS, department=True)
def systems():
    actor = current_actor()
    args = kit.list_args("text", "status", "department_id", sort="-created_at")
    with kit.reading() as uow:
        page = client_systems.search(uow, actor, text=args.filters["text"], status=args.filters["status"],
                                     department_id=args.int_filter("department_id"),
                                     page=args.page, size=args.size, sort=args.sort)
        depts = departments.choices(uow, actor) if actor.is_admin else []
        names = departments.names(uow, actor, {cs.department_id for cs in page.items})
    return render_template("departments/systems.html", page=page, args=args, states=REVIEW_STATES,
                           depts=depts, dept_names=names)


def _system_errors(e: ValidationError | Conflict) -> dict[str, str]:
    if isinstance(e, Conflict):
        return {"name": _("本部门已有同名系统")}
    return _errors(e, SYSTEM_MESSAGES)


@bp.route("/systems/new", methods=["GET", "POST"])
@kit.guard(*MAKERS, department=True)
def system_new():
    """新增系统: it belongs to the creator's department and goes to the admin's review."""
    values = kit.form_values(*SYSTEM_FIELDS)
    errors: dict[str, str] = {}
    if request.method == "POST":
        try:
            with kit.uow() as uow:
                cs = client_systems.register(uow, current_actor(), values["name"], values["ips"],
                                             values["description"])
                uow.commit()
                cs_id = cs.id
        except (ValidationError, Conflict) as e:
            errors = _system_errors(e)
        else:
            return kit.done(_("系统已提交，等待管理员审核"), "departments.system_view", id=cs_id)
    g.nav = "departments.systems"
    return kit.form_page("departments/system_form.html", errors, values=values, cs_id=None,
                         action=url_for("departments.system_new"))


def _system_page(id: int, errors: dict, status: int):
    actor = current_actor()
    with kit.reading() as uow:
        cs = client_systems.get(uow, actor, id)
        dept_name = departments.names(uow, actor, [cs.department_id]).get(cs.department_id, "")
        history = _history(uow, "client_system", cs.id)
    own = actor.is_admin or actor.department_id == cs.department_id
    g.nav = "departments.systems"
    return render_template(
        "departments/system_view.html", cs=cs, history=history, errors=errors, dept_name=dept_name,
        can_review=actor.is_admin and cs.status is ReviewState.SUBMITTED,
        can_edit=own, can_delete=own and cs.account_id is None,
        can_resubmit=own and cs.status in (ReviewState.REJECTED, ReviewState.DISABLED),
        can_disable=(actor.is_admin or RoleCode.DEPT_ADMIN.value in actor.roles) and own
        and cs.status is not ReviewState.DISABLED), status


@bp.route("/systems/<int:id>")
@kit.guard(*MAKERS, department=True)
def system_view(id: int):
    return _system_page(id, {}, 200)


@bp.route("/systems/<int:id>/edit", methods=["GET", "POST"])
@kit.guard(*MAKERS, department=True)
def system_edit(id: int):
    actor = current_actor()
    errors: dict[str, str] = {}
    with kit.uow() as uow:
        cs = client_systems.get(uow, actor, id)
        if not actor.is_admin and cs.department_id != actor.department_id:
            raise PermissionDenied(_("只能编辑本部门的系统"))
        values = {"name": cs.name, "ips": "\n".join(cs.ips), "description": cs.description or ""}
        status = cs.status
    if request.method == "POST":
        values = kit.form_values(*SYSTEM_FIELDS)
        try:
            with kit.uow() as uow:
                client_systems.update(uow, actor, id, values["name"], values["ips"], values["description"])
                uow.commit()
        except (ValidationError, Conflict) as e:
            errors = _system_errors(e)
        else:
            return kit.done(_("已保存"), "departments.system_view", id=id)
    g.nav = "departments.systems"
    return kit.form_page("departments/system_form.html", errors, values=values, cs_id=id, status=status,
                         action=url_for("departments.system_edit", id=id))


@bp.route("/systems/<int:id>/delete", methods=["POST"])
@kit.guard(*MAKERS, department=True)
def system_delete(id: int):
    return kit.act(client_systems.delete, id, message=_("已删除"), endpoint="departments.systems")


@bp.route("/systems/<int:id>/resubmit", methods=["POST"])
@kit.guard(*MAKERS, department=True)
def system_resubmit(id: int):
    return kit.act(client_systems.resubmit, id, message=_("已重新提交，等待管理员审核"),
                   endpoint="departments.system_view", id=id)


@bp.route("/systems/<int:id>/disable", methods=["POST"])
@kit.guard(RoleCode.DEPT_ADMIN, department=True)
def system_disable(id: int):
    return kit.act(client_systems.disable, id, request.form.get("reason", ""),
                   message=_("系统已禁用，其 AccountId 立即停止使用"), endpoint="departments.system_view", id=id)


@bp.route("/systems/<int:id>/review", methods=["POST"])
@kit.guard(admin_only=True)
def system_review(id: int):
    actor = current_actor()
    done, errors, _reason = kit.review_post(lambda uow, ok, why: client_systems.review(uow, actor, id, ok, why),
                                            "departments.system_view", errors_of=_domain_errors, id=id)
    return done or _system_page(id, errors, 400)


# --- 用证记录 -------------------------------------------------------------------------------------

def _day(args: kit.ListArgs, name: str, shift: int = 0) -> datetime | None:
    """A filter date (Beijing) as the UTC instant its day starts (``shift`` days later)."""
    raw = args.filters.get(name, "")
    if not raw:
        return None
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        raise ValidationError({name: _("日期格式应为 YYYY-MM-DD")}) from None
    return datetime.combine(day + timedelta(days=shift), time(0), BEIJING).astimezone(timezone.utc)


RESULT_OPTIONS = [(c.value, f"{c.value} {c.message}") for c in Code]


@bp.route("/records")
@kit.guard(*kit.DEPT_STAFF, department=True)
def records():
    actor = current_actor()
    args = kit.list_args("interface", "result_code", "client_system_id", "type_code", "since", "until", sort="-at")
    since, until = _day(args, "since"), _day(args, "until", shift=1)
    with kit.reading() as uow:
        page = usage.records(uow, actor, client_system_id=args.int_filter("client_system_id"),
                             interface=args.filters["interface"], result_code=args.filters["result_code"],
                             type_code=args.filters["type_code"], since=since, until=until,
                             page=args.page, size=args.size, sort=args.sort)
        system_names, dept_names = usage.record_names(uow, page.items)
        systems = client_systems.choices(uow, actor, approved_only=False)
    return render_template("departments/records.html", page=page, args=args, system_names=system_names,
                           dept_names=dept_names, systems=systems, interfaces=INTERFACE_OPTIONS,
                           results=RESULT_OPTIONS)


@bp.route("/records/<int:id>")
@kit.guard(*kit.DEPT_STAFF, department=True)
def record_view(id: int):
    actor = current_actor()
    with kit.reading() as uow:
        rec = usage.record(uow, actor, id)
        system_names, dept_names = usage.record_names(uow, [rec])
    messages = {c.value: c.message for c in Code}
    g.nav = "departments.records"
    return render_template("departments/record_view.html", rec=rec, system_names=system_names,
                           dept_names=dept_names, result_message=messages.get(rec.result_code, ""))
