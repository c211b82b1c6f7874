"""用户管理: a department admin's staff (create, roles, unlock), an admin's every user.

Thin views over ``issuance.accounts``: the domain decides who sees whom (a department admin the
users holding a role in their department, the platform admin everyone of the tenant) and what
may change; a user of another department is "not found" (404). Account-wide changes (deactivate,
reset password, unlock) are offered only where the domain allows them (``may_manage_account``).
"""

from __future__ import annotations

from flask import g, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from issuance import accounts, departments
from issuance.errors import ValidationError
from issuance.models import RoleCode

from . import kit
from .app import current_platform
from .shell import account_message
from .auth import current_actor
from .kit import blueprint

bp = blueprint("users", __name__, url_prefix="/users")

GUARD = dict(department=True)
ROLE_LABELS = {
    RoleCode.PLATFORM_ADMIN.value: _l("平台管理员"),
    RoleCode.DEPT_ADMIN.value: _l("部门管理员"),
    RoleCode.CLERK.value: _l("录入员"),
    RoleCode.REVIEWER.value: _l("审核员"),
    RoleCode.AUDITOR.value: _l("审计员"),
}
# the roles a department grants, in the order the form offers them
DEPARTMENT_ROLE_OPTIONS = [(code, ROLE_LABELS[code]) for code in
                           (RoleCode.CLERK.value, RoleCode.REVIEWER.value, RoleCode.DEPT_ADMIN.value,
                            RoleCode.AUDITOR.value)]
LOCKED_OPTIONS = [("1", _l("已锁定")), ("0", _l("未锁定"))]
ACTIVE_OPTIONS = [("1", _l("启用")), ("0", _l("停用"))]
FIELDS = ("username", "display_name", "email", "phone", "department_id")


def errors_of(e: ValidationError) -> dict[str, str]:
    """The domain's field errors in the reader's language (the passwords as the account page words them)."""
    out: dict[str, str] = {}
    for name, text in kit.field_errors(e).items():
        if name == "username":
            out[name] = _("用户名已存在") if text == "taken" else _("用户名为 3 到 64 个字母、数字或 _ . @ -")
        elif name == "password" and "own password" in text:
            out[name] = _("请在“修改密码”页面修改自己的密码")
        elif name == "roles":
            out[name] = _("请至少选择一个角色")
        elif name == "department_id":
            out[name] = _("请选择已进驻的部门")
        elif name == "role" and "last role" in text:
            out[name] = _("这是该用户的最后一个角色，不能撤销；如需停用该用户，请使用“停用”")
        elif name == "role" and "own" in text:
            out[name] = _("不能撤销您自己的管理员角色，否则将无人管理本部门")
        elif name == "role":
            out[name] = _("请选择角色")
        elif name == "active":
            out[name] = _("不能停用您自己的账号")
        elif name in ("locked", "sort", "page"):
            out[name] = _("请求参数有误")
        else:
            out[name] = account_message(name, text) or text
    return out


def _policy_hint() -> str:
    policy = current_platform().policy
    return _("密码长度不少于 %(n)d 位，且包含小写字母、大写字母、数字、符号中的至少 %(k)d 类",
             n=policy.min_length, k=policy.min_classes)


def _int(value: str) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        return None


# --- list ----------------------------------------------------------------------------------------

@bp.route("")
@kit.guard(RoleCode.DEPT_ADMIN, **GUARD)
def index():
    actor = current_actor()
    args = kit.list_args("text", "role", "locked", "active", "department", sort="username")
    dept_filter = args.int_filter("department") if actor.is_admin else None
    with kit.reading() as uow:
        page = accounts.search_users(uow, actor, args.filters["text"], args.filters["role"], args.filters["locked"],
                                     args.filters["active"], dept_filter, page=args.page, size=args.size,
                                     sort=args.sort)
        scope = dept_filter if actor.is_admin else actor.department_id
        roles = accounts.roles_of(uow, [u.id for u in page.items], scope)
        dept_choices = departments.choices(uow, actor) if actor.is_admin else []
        names = departments.names(uow, actor, {d for rs in roles.values() for _c, d in rs})
    return render_template("users/index.html", page=page, args=args, roles=roles, dept_names=names,
                           scoped=scope is not None, role_labels=ROLE_LABELS,
                           role_options=list(ROLE_LABELS.items()) if actor.is_admin else DEPARTMENT_ROLE_OPTIONS,
                           locked_options=LOCKED_OPTIONS, active_options=ACTIVE_OPTIONS,
                           dept_options=[(str(i), n) for i, n in dept_choices])


# --- new user ------------------------------------------------------------------------------------

@bp.route("/new", methods=["GET", "POST"])
@kit.guard(RoleCode.DEPT_ADMIN, **GUARD)
def new():
    g.nav = "users.index"
    actor = current_actor()
    values = kit.form_values(*FIELDS)
    chosen = request.form.getlist("roles") if request.method == "POST" else [RoleCode.CLERK.value]
    errors: dict[str, str] = {}
    if request.method == "POST":
        platform = current_platform()
        try:
            with kit.uow() as uow:
                user = accounts.create_department_user(
                    uow, actor, platform.policy, values["username"], request.form.get("password") or "",
                    request.form.get("confirm_password") or "", values["display_name"], values["email"],
                    values["phone"], chosen, _int(values["department_id"]))
                uow.commit()
                user_id = user.id
        except ValidationError as e:
            errors = errors_of(e)
        else:
            return kit.done(_("已新增用户"), "users.view", user_id=user_id)
    with kit.reading() as uow:
        dept_options = departments.choices(uow, actor) if actor.is_admin else []
        own = departments.names(uow, actor, [actor.department_id]).get(actor.department_id, "")
    return kit.form_page("users/form.html", errors, values=values, chosen=chosen, role_options=DEPARTMENT_ROLE_OPTIONS,
                         dept_options=dept_options, own_department=own, hint=_policy_hint())


# --- one user: roles, unlock, (de)activate, reset password ---------------------------------------

def _view_page(user_id: int, errors: dict[str, str] | None = None):
    """The user's page; with ``errors`` (a refused action) it says why, next to the action, as a 400."""
    g.nav = "users.index"
    actor = current_actor()
    with kit.reading() as uow:
        user = accounts.managed_user(uow, actor, user_id)
        scope = None if actor.is_admin else actor.department_id
        links = accounts.roles_of(uow, [user.id], scope)[user.id]
        names = departments.names(uow, actor, {d for _c, d in links})
        account = accounts.may_manage_account(uow, actor, user)
        dept_options = departments.choices(uow, actor) if actor.is_admin else []
    errors = errors or {}
    return kit.form_page("users/view.html", errors, user=user, links=links, dept_names=names, account=account,
                         is_self=user.id == actor.user_id, role_labels=ROLE_LABELS,
                         role_options=DEPARTMENT_ROLE_OPTIONS, dept_options=dept_options, hint=_policy_hint())


@bp.route("/<int:user_id>")
@kit.guard(RoleCode.DEPT_ADMIN, **GUARD)
def view(user_id: int):
    return _view_page(user_id)


def _act(user_id: int, change, message: str):
    """Run ``change(uow, actor)`` and come back to the user's page; a refusal is shown there."""
    try:
        with kit.uow() as uow:
            change(uow, current_actor())
            uow.commit()
    except ValidationError as e:
        return _view_page(user_id, errors_of(e))
    return kit.done(message, "users.view", user_id=user_id)


@bp.route("/<int:user_id>/roles", methods=["POST"])
@kit.guard(RoleCode.DEPT_ADMIN, **GUARD)
def grant(user_id: int):
    role = (request.form.get("role") or "").strip()
    dept = _int((request.form.get("department_id") or "").strip())
    return _act(user_id, lambda uow, actor: accounts.grant_department_role(uow, actor, user_id, role, dept),
                _("已授予角色"))


@bp.route("/<int:user_id>/roles/revoke", methods=["POST"])
@kit.guard(RoleCode.DEPT_ADMIN, **GUARD)
def revoke(user_id: int):
    role = (request.form.get("role") or "").strip()
    dept = _int((request.form.get("department_id") or "").strip())
    return _act(user_id, lambda uow, actor: accounts.revoke_department_role(uow, actor, user_id, role, dept),
                _("已撤销角色"))


@bp.route("/<int:user_id>/unlock", methods=["POST"])
@kit.guard(RoleCode.DEPT_ADMIN, **GUARD)
def unlock(user_id: int):
    return _act(user_id, lambda uow, actor: accounts.unlock_user(uow, actor, user_id), _("已解锁"))


@bp.route("/<int:user_id>/deactivate", methods=["POST"])
@kit.guard(RoleCode.DEPT_ADMIN, **GUARD)
def deactivate(user_id: int):
    return _act(user_id, lambda uow, actor: accounts.set_active(uow, actor, user_id, False), _("已停用"))


@bp.route("/<int:user_id>/activate", methods=["POST"])
@kit.guard(RoleCode.DEPT_ADMIN, **GUARD)
def activate(user_id: int):
    return _act(user_id, lambda uow, actor: accounts.set_active(uow, actor, user_id, True), _("已启用"))


@bp.route("/<int:user_id>/password", methods=["POST"])
@kit.guard(RoleCode.DEPT_ADMIN, **GUARD)
def reset_password(user_id: int):
    password = request.form.get("password") or ""
    confirm = request.form.get("confirm_password") or ""
    policy = current_platform().policy
    return _act(user_id, lambda uow, actor: accounts.reset_password(uow, actor, policy, user_id, password, confirm),
                _("已重置密码"))
