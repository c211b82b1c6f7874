"""The signed-in user's own pages: change password, profile and avatar, switch department or tenant.

Also the shell every page shares: the user menu (name, department, the switches shown only when
there is something to switch to) and the left navigation, whose entries depend on the role and
appear only once their route exists (later features add their endpoints to ``NAV``).
"""

from __future__ import annotations

import io
import os
from pathlib import Path

from flask import Blueprint, abort, current_app, flash, g, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from PIL import Image, ImageOps, UnidentifiedImageError

from issuance import accounts
from issuance.errors import NotFound, PermissionDenied, ValidationError
from issuance.models import Department, RoleCode, Tenant, User

from .app import current_platform
from .auth import current_actor, login_required

bp = Blueprint("shell", __name__, url_prefix="/account")

AVATAR_MAX_BYTES = 1024 * 1024
AVATAR_SIZE = 128
AVATAR_MAX_PIXELS = 40_000_000  # refuse decompression bombs before decoding

ALL = None  # every signed-in user
ADMINS = {RoleCode.PLATFORM_ADMIN.value}
DEPT_ADMINS = {RoleCode.PLATFORM_ADMIN.value, RoleCode.DEPT_ADMIN.value}
MAKERS = {RoleCode.DEPT_ADMIN.value, RoleCode.CLERK.value}        # define types, catalogs, matters; enter
REVIEWERS = {RoleCode.DEPT_ADMIN.value, RoleCode.REVIEWER.value}  # review entries, issuance, usage
STAFF = MAKERS | REVIEWERS

# The two systems of the seed and their modules: (section, endpoint, label, roles that see it or
# ALL; admins see everything). An entry shows only once its endpoint is registered, so a module
# appears in the navigation with its blueprint and nothing here needs to change.
MANAGEMENT, ISSUING, TOOLS = _l("电子证照综合管理系统"), _l("电子证照签发管理系统"), _l("平台")
NAV: list[tuple[object, object, str, object, set[str] | None]] = [
    # (system, module, endpoint, label, roles)
    (MANAGEMENT, _l("首页"), "home.index", _l("首页"), ALL),
    (MANAGEMENT, _l("部门"), "departments.onboarding", _l("部门进驻"), ALL),
    (MANAGEMENT, _l("部门"), "departments.usage", _l("用证清单"), MAKERS),
    (MANAGEMENT, _l("部门"), "departments.systems", _l("系统清单"), MAKERS),
    (MANAGEMENT, _l("部门"), "departments.usage_review", _l("用证申请审批"), REVIEWERS),
    (MANAGEMENT, _l("部门"), "departments.records", _l("用证记录"), STAFF),
    (MANAGEMENT, _l("部门"), "users.index", _l("用户管理"), DEPT_ADMINS),
    (MANAGEMENT, _l("证照"), "types.index", _l("证照类型管理"), MAKERS),
    (MANAGEMENT, _l("证照"), "certs.index", _l("证照管理"), STAFF),
    (MANAGEMENT, _l("证照"), "certs.annual", _l("证照年审"), STAFF),
    (MANAGEMENT, _l("证照"), "certs.maintenance", _l("证照维护"), ADMINS),
    (MANAGEMENT, _l("证照"), "types.review_list", _l("证照类型审核"), ADMINS),
    (MANAGEMENT, _l("目录"), "catalogs.home", _l("目录首页"), ALL),
    (MANAGEMENT, _l("目录"), "catalogs.maintenance", _l("目录维护"), ADMINS),
    (MANAGEMENT, _l("目录"), "catalogs.manage", _l("目录管理"), MAKERS),
    (MANAGEMENT, _l("目录"), "catalogs.review_list", _l("目录审核"), ADMINS),
    (MANAGEMENT, _l("事项"), "matters.index", _l("事项清单"), MAKERS),
    (MANAGEMENT, _l("事项"), "matters.uses", _l("事项用证"), MAKERS),
    (MANAGEMENT, _l("事项"), "matters.issues", _l("事项发证"), MAKERS),
    (MANAGEMENT, _l("统计"), "stats.index", _l("统计"), ALL),
    (ISSUING, _l("审核"), "issuing.review_list", _l("签发审核"), REVIEWERS),
    (ISSUING, _l("录入"), "entry.index", _l("证照录入"), MAKERS),
    (ISSUING, _l("证书"), "digital_certs.index", _l("数字证书"), DEPT_ADMINS),
    (ISSUING, _l("印章"), "seals.index", _l("电子印章"), DEPT_ADMINS),
    (TOOLS, _l("证照核验"), "verify.index", _l("证照核验"), ALL),
    (TOOLS, _l("平台根证书"), "pki.root", _l("平台根证书"), DEPT_ADMINS),
    (TOOLS, _l("共享接口说明"), "sharing.openapi", _l("共享接口说明"), ADMINS),
    (TOOLS, _l("部署状态"), "status.index", _l("部署状态"), ADMINS),
]


def sees(actor, roles: set[str] | None) -> bool:
    return roles is ALL or actor.is_admin or bool(actor.roles & roles)


def nav_entries(actor) -> list[dict]:
    """The navigation as systems, each with its modules, each with its pages the actor may open."""
    views = current_app.view_functions
    systems: list[dict] = []
    for system, module, endpoint, label, roles in NAV:
        if endpoint not in views or not sees(actor, roles):
            continue
        if not systems or systems[-1]["label"] != system:
            systems.append({"label": system, "modules": []})
        modules = systems[-1]["modules"]
        if not modules or modules[-1]["label"] != module:
            modules.append({"label": module, "pages": []})
        # a page under a list (view, edit) names its list in ``g.nav`` to keep it highlighted
        active = request.endpoint == endpoint or g.get("nav") == endpoint
        modules[-1]["pages"].append({"endpoint": endpoint, "label": label, "url": url_for(endpoint),
                                     "active": active})
    return systems


def _avatar_dir() -> Path:
    return current_platform().settings.data_dir / "files" / "avatars"


def _avatar_path(user_id: int) -> Path:
    return _avatar_dir() / f"{int(user_id)}.png"


@bp.app_context_processor
def _shell_context() -> dict:
    """What the top bar and the navigation need; nothing when nobody is signed in. The facts were
    read with the signed-in user (``shell_facts``), so rendering a page opens no unit of work."""
    actor = g.get("actor")
    facts = g.get("shell_facts")
    if actor is None or facts is None:
        return {"shell": None}
    return {"shell": dict(facts, nav=nav_entries(actor))}


def shell_facts(uow, user: User, actor) -> dict:
    """The top bar's facts of ``user`` acting as ``actor``, read once per request by
    ``auth.current_actor`` in its own unit of work."""
    departments = accounts.departments_of(uow, user)
    tenants = accounts.tenants_of(uow, actor)
    dept = uow.session.get(Department, actor.department_id) if actor.department_id else None
    tenant = uow.session.get(Tenant, actor.tenant_id)
    return {
        "username": user.username,
        "display_name": user.display_name or user.username,
        "department": dept.name if dept else "",
        "tenant": tenant.name if tenant else "",
        "several_departments": len(departments) > 1,
        "several_tenants": len(tenants) > 1,
        "has_avatar": _avatar_path(user.id).is_file(),
    }


# --- field errors of the domain, in the reader's language ---------------------------------------

def account_message(field: str, text: str) -> str | None:
    """What the account forms say for the domain's refusal ``text`` of ``field`` (a new password,
    the confirmation, name, e-mail, phone), or None for a field they do not share."""
    policy = current_platform().policy
    if field in ("new_password", "password"):
        if "different" in text:
            return _("新密码不能与当前密码相同")
        if "characters" in text:
            return _("密码长度不少于 %(n)d 位", n=policy.min_length)
        return _("密码须包含小写字母、大写字母、数字、符号中的至少 %(n)d 类", n=policy.min_classes)
    return {"confirm_password": _("两次输入的密码不一致"), "display_name": _("姓名为 1 到 64 个字符"),
            "email": _("邮箱格式不正确"), "phone": _("手机号码格式不正确")}.get(field)


def _field_errors(e: ValidationError) -> dict[str, str]:
    out = {}
    for field, text in e.errors.items():
        if field == "old_password":
            out[field] = _("当前密码错误")
        elif field == "confirm_password":
            out[field] = _("两次输入的新密码不一致")
        else:
            out[field or "form"] = account_message(field, text) or text
    return out


def _policy_hint() -> str:
    policy = current_platform().policy
    return _("密码长度不少于 %(n)d 位，且包含小写字母、大写字母、数字、符号中的至少 %(k)d 类",
             n=policy.min_length, k=policy.min_classes)


# --- change password ------------------------------------------------------------------------------

@bp.route("/password", methods=["GET", "POST"])
@login_required
def password():
    errors: dict[str, str] = {}
    if request.method == "POST":
        platform = current_platform()
        try:
            with platform.uow() as uow:
                accounts.change_password(uow, current_actor(), platform.policy, request.form.get("old_password", ""),
                                         request.form.get("new_password", ""),
                                         request.form.get("confirm_password", ""))
                uow.commit()
        except ValidationError as e:
            errors = _field_errors(e)
        else:
            flash(_("密码已修改"))
            return redirect(url_for(".password"))
    return render_template("shell/password.html", errors=errors, hint=_policy_hint()), (400 if errors else 200)


# --- profile and avatar ---------------------------------------------------------------------------

@bp.route("/profile", methods=["GET", "POST"])
@login_required
def profile():
    platform = current_platform()
    actor = current_actor()
    errors: dict[str, str] = {}
    form = None
    if request.method == "POST":
        form = {k: (request.form.get(k) or "").strip() for k in ("display_name", "email", "phone")}
        try:
            with platform.uow() as uow:
                accounts.update_profile(uow, actor, form["display_name"], form["email"], form["phone"])
                uow.commit()
        except ValidationError as e:
            errors = _field_errors(e)
        else:
            flash(_("个人信息已保存"))
            return redirect(url_for(".profile"))
    with platform.uow() as uow:
        user = uow.session.get(User, actor.user_id)
        values = form or {"display_name": user.display_name, "email": user.email, "phone": user.phone}
        username = user.username
    return (render_template("shell/profile.html", values=values, username=username, errors=errors,
                            avatar_errors={}), (400 if errors else 200))


def normalise_avatar(data: bytes) -> bytes:
    """A PNG or JPEG of at most 1 MB, re-encoded as a 128x128 PNG; ValueError with the reason."""
    if len(data) > AVATAR_MAX_BYTES:
        raise ValueError(_("头像文件不能超过 1 MB"))
    try:
        with Image.open(io.BytesIO(data)) as img:
            if img.format not in ("PNG", "JPEG"):
                raise ValueError(_("头像只能是 PNG 或 JPEG 图片"))
            if img.width * img.height > AVATAR_MAX_PIXELS:
                raise ValueError(_("图片尺寸过大"))
            img.load()
            img = ImageOps.exif_transpose(img)
            img = img.convert("RGBA" if img.mode in ("RGBA", "LA", "P") else "RGB")
            img = ImageOps.fit(img, (AVATAR_SIZE, AVATAR_SIZE), Image.LANCZOS)
            out = io.BytesIO()
            img.save(out, "PNG", optimize=True)
            return out.getvalue()
    except (UnidentifiedImageError, OSError, SyntaxError, Image.DecompressionBombError):
        raise ValueError(_("头像只能是 PNG 或 JPEG 图片")) from None


@bp.route("/avatar", methods=["POST"])
@login_required
def upload_avatar():
    actor = current_actor()
    upload = request.files.get("avatar")
    data = upload.read(AVATAR_MAX_BYTES + 1) if upload else b""
    error = None
    if not data:
        error = _("请选择图片文件")
    else:
        try:
            png = normalise_avatar(data)
        except ValueError as e:
            error = str(e)
    if error:
        platform = current_platform()
        with platform.uow() as uow:
            user = uow.session.get(User, actor.user_id)
            values = {"display_name": user.display_name, "email": user.email, "phone": user.phone}
            username = user.username
        return render_template("shell/profile.html", values=values, username=username, errors={},
                               avatar_errors={"avatar": error}), 400
    target = _avatar_path(actor.user_id)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_bytes(png)
    os.replace(tmp, target)
    flash(_("头像已更新"))
    return redirect(url_for(".profile"))


@bp.route("/avatar.png")
@login_required
def avatar():
    path = _avatar_path(current_actor().user_id)
    if not path.is_file():
        abort(404)
    resp = send_file(io.BytesIO(path.read_bytes()), mimetype="image/png")
    resp.headers["Cache-Control"] = "private, no-cache"
    return resp


# --- switch department / tenant -------------------------------------------------------------------

def _switch(kind: str, field: str, current: int | None, switch, choices, refused: str, done: str):
    """GET: the choices; POST: switch the session's acting ``kind`` (department or tenant) to one of them."""
    platform = current_platform()
    actor = current_actor()
    if request.method == "POST":
        try:
            target = int(request.form.get(field, ""))
        except ValueError:
            abort(400)
        try:
            with platform.uow() as uow:
                new = switch(uow, actor, platform.policy, target)
                uow.commit()
        except (PermissionDenied, NotFound):
            return render_template("error.html", code=403, message=refused), 403
        g.actor = new
        flash(done)
        return redirect(url_for("home.index"))
    with platform.uow() as uow:
        options = choices(uow, actor)
    return render_template("shell/switch.html", kind=kind, choices=options, current=current, field=field,
                           action=url_for(f".{kind}"))


@bp.route("/department", methods=["GET", "POST"])
@login_required
def department():
    def choices(uow, actor):
        return [(d.id, d.name) for d in accounts.departments_of(uow, uow.session.get(User, actor.user_id))]

    return _switch("department", "department_id", current_actor().department_id, accounts.switch_department, choices,
                   _("您在该部门没有角色，不能切换到该部门"), _("已切换部门"))


@bp.route("/tenant", methods=["GET", "POST"])
@login_required
def tenant():
    def choices(uow, actor):
        return [(t.id, t.name) for t in accounts.tenants_of(uow, actor)]

    return _switch("tenant", "tenant_id", current_actor().tenant_id, accounts.switch_tenant, choices,
                   _("您不能切换到该租户"), _("已切换租户"))
