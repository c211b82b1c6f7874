"""Login, logout and the signed-in user of each request (session bound to the client IP)."""

from __future__ import annotations

from functools import wraps

from flask import Blueprint, abort, flash, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _

from issuance import accounts
from issuance.errors import AccountLocked, AuthenticationFailed
from issuance.models import User

from .app import current_platform

bp = Blueprint("auth", __name__)


def client_ip() -> str:
    return request.remote_addr or ""


def current_actor():
    """The Actor of the signed-in user, or None; a session used from another IP is dropped."""
    if "actor" in g:
        return g.actor
    g.actor = None
    uid = session.get("uid")
    if uid is None:
        return None
    if session.get("ip") != client_ip():
        session.clear()
        return None
    platform = current_platform()
    with platform.uow() as uow:
        user = uow.session.get(User, uid)
        if user is None or not user.active or user.locked:
            session.clear()
            return None
        g.actor = accounts.actor_for(uow, user, platform.policy, client_ip())
        from .shell import shell_facts  # the shell's view module imports this one

        g.shell_facts = shell_facts(uow, user, g.actor)
    return g.actor


def login_required(view):
    @wraps(view)
    def wrapper(*args, **kwargs):
        if current_actor() is None:
            return redirect(url_for("auth.login", next=request.path))
        return view(*args, **kwargs)
    return wrapper


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return url_for("home.index")


@bp.route("/login", methods=["GET", "POST"])
def login():
    """User name, password and the captcha; a wrong captcha is not a password failure."""
    from . import captcha

    error = captcha_error = None
    username = ""
    if request.method == "POST":
        username = (request.form.get("username") or "").strip()
        password = request.form.get("password") or ""
        given = (request.form.get("captcha") or "").strip()
        outcome = captcha.check(given)  # consumed whatever the outcome: each picture is good for one try
        if not username or not password:
            error = _("请输入用户名和密码")
        elif not given:
            captcha_error = _("请输入验证码")
        elif outcome == captcha.EXPIRED:
            captcha_error = _("验证码已过期，请点击图片刷新")
        elif outcome == captcha.MISSING:
            captcha_error = _("验证码已失效，请点击图片刷新")
        elif outcome == captcha.WRONG:
            captcha_error = _("验证码错误")
        else:
            platform = current_platform()
            try:
                with platform.uow() as uow:
                    actor = accounts.authenticate(uow, username, password, platform.policy, client_ip())
            except AccountLocked:
                error = _("连续三次密码输入错误，账号已被禁用，请联系管理员解锁")
            except AuthenticationFailed:
                error = _("用户名或密码错误")
            else:
                lang = session.get("lang")
                session.clear()
                session.permanent = True
                session["uid"], session["ip"] = actor.user_id, client_ip()
                if lang:
                    session["lang"] = lang
                return redirect(_safe_next(request.args.get("next")))
    failed = error or captcha_error
    return (render_template("login.html", error=error, captcha_error=captcha_error, username=username,
                            lockout_threshold=current_platform().policy.lockout_threshold),
            (401 if failed else 200))


@bp.route("/logout", methods=["POST"])
def logout():
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang
    flash(_("已退出登录"))
    return redirect(url_for("auth.login"))


@bp.route("/lang/<code>", methods=["POST"])
def set_language(code: str):
    from .app import LANGUAGES

    if code not in LANGUAGES:
        abort(400)
    session["lang"] = code
    return redirect(_safe_next(request.form.get("next")))
