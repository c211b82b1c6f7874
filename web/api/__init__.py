"""The JSON API (/api/v1): authentication, the DB23/T 2836 envelope on every answer, and its routes.

Who may call: a signed-in user (session cookie, with the CSRF token in the ``X-CSRFToken``
header, as for every form of the web app) or a program with an API token (``Authorization:
Bearer``, see ``tokens``), which is exempt from CSRF. An ``Authorization`` header is never
combined with the cookie: a bad token is a 401 even when a session exists, so a program's mistake
cannot be papered over by whoever happens to be signed in in the same client.

Every answer of this blueprint, refusals included, is the JSON envelope: blueprint error handlers
cover the HTTP errors and domain refusals, and a catch-all route turns unknown /api/v1 paths and
wrong methods into enveloped 404 / 405 instead of the HTML error pages of the web app.
"""

from __future__ import annotations

from flask import Blueprint, Flask, Response, current_app, g, request
from flask.blueprints import BlueprintSetupState
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError

from issuance import accounts
from issuance.context import Actor
from issuance.errors import (AccountLocked, AuthenticationFailed, Conflict, DomainError, IllegalTransition, NotFound,
                             PermissionDenied, ValidationError)
from issuance.models import User

from ..app import current_platform
from ..auth import client_ip, current_actor
from . import tokens
from .envelope import fail, ok

bp = Blueprint("api", __name__, url_prefix="/api/v1")

PUBLIC_ENDPOINTS = frozenset({"api.issue_token"})
# path -> allowed methods, so the catch-all can answer 405 (with Allow) instead of 404
KNOWN_PATHS: dict[str, tuple[str, ...]] = {"/api/v1/certificates": ("POST",), "/api/v1/auth/token": ("POST",)}
BEARER = {"WWW-Authenticate": 'Bearer realm="certledger"'}
MESSAGES = {
    400: "请求有误", 401: "未登录或令牌无效", 403: "无权执行此操作", 404: "接口或资源不存在",
    405: "不支持的请求方法", 409: "与已有数据冲突", 413: "请求体过大", 415: "请以 application/json 提交",
    500: "服务器内部错误",
}


@bp.record_once
def _exempt_from_global_csrf(state: BlueprintSetupState) -> None:
    """The app-wide CSRF hook skips this blueprint; ``_authenticate`` applies it to cookie requests."""
    app: Flask = state.app
    app.extensions["csrf"].exempt(bp)


def api_actor() -> Actor:
    """The actor established by ``_authenticate`` for this request."""
    return g.api_actor


@bp.before_request
def _authenticate() -> Response | None:
    """Token or session, decided by the presence of an Authorization header; CSRF for the session.

    Authentication comes before the CSRF check so that a caller without credentials learns
    "401, sign in" rather than "400, bad CSRF token".
    """
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    header = request.headers.get("Authorization")
    if header is not None:
        scheme, _, token = header.strip().partition(" ")
        actor = tokens.actor_for_token(token.strip(), client_ip()) if scheme.lower() == "bearer" and token else None
        if actor is None:
            return fail(401, "令牌无效或已过期，请重新获取", headers=BEARER)
        g.api_actor = actor
        return None
    actor = current_actor()
    if actor is None:
        return fail(401, MESSAGES[401], headers=BEARER)
    current_app.extensions["csrf"].protect()  # raises CSRFError (400) for a cookie request without the token
    g.api_actor = actor
    return None


# --- errors as envelopes -------------------------------------------------------------------------

def _http_error(e: HTTPException) -> Response:
    if isinstance(e, CSRFError):
        return fail(400, "CSRF 令牌缺失或无效：使用登录会话调用接口时须在 X-CSRFToken 头中提交 CSRF 令牌，"
                         "程序调用请改用 API 令牌")
    code = e.code or 500
    headers = {"Allow": ", ".join(e.valid_methods)} if getattr(e, "valid_methods", None) else None
    return fail(code, MESSAGES.get(code, e.name), headers=headers)


def _domain_error(e: DomainError) -> Response:
    if isinstance(e, ValidationError):
        return fail(400, MESSAGES[400], {"errors": e.errors})
    if isinstance(e, NotFound):
        return fail(404, MESSAGES[404], {"errors": {"": e.message}})
    if isinstance(e, PermissionDenied):
        return fail(403, MESSAGES[403], {"errors": {"": e.message}})
    if isinstance(e, (Conflict, IllegalTransition)):
        return fail(409, MESSAGES[409], {"errors": {"": e.message}})
    return fail(400, MESSAGES[400], {"errors": {"": e.message}})


def _unexpected(e: Exception) -> Response:
    current_app.logger.exception("API request failed", exc_info=getattr(e, "original_exception", e))
    return fail(500, MESSAGES[500])


for _code in (400, 401, 403, 404, 405, 409, 413, 415):
    bp.register_error_handler(_code, _http_error)
bp.register_error_handler(InternalServerError, _unexpected)
bp.register_error_handler(DomainError, _domain_error)


@bp.route("/<path:_rest>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
def _unknown(_rest: str) -> Response:
    allowed = KNOWN_PATHS.get(request.path)
    if allowed:
        return fail(405, MESSAGES[405], headers={"Allow": ", ".join(allowed)})
    return fail(404, MESSAGES[404])


# --- tokens ----------------------------------------------------------------------------------------

@bp.route("/auth/token", methods=["POST"])
def issue_token() -> Response:
    """Exchange user name and password (JSON or form) for an API token; lockout as on the login page."""
    body = request.get_json(silent=True) if request.is_json else request.form
    if not hasattr(body, "get"):
        body = {}
    username, password = body.get("username"), body.get("password")
    if not isinstance(username, str) or not isinstance(password, str) or not username.strip() or not password:
        return fail(400, "请输入用户名和密码", {"errors": {"username": "required", "password": "required"}})
    platform = current_platform()
    try:
        with platform.uow() as uow:
            actor = accounts.authenticate(uow, username.strip(), password, platform.policy, client_ip())
            token = tokens.issue(uow.session.get(User, actor.user_id), client_ip())
    except AccountLocked:
        return fail(401, "连续三次密码输入错误，账号已被禁用，请联系管理员解锁", headers=BEARER)
    except AuthenticationFailed:
        return fail(401, "用户名或密码错误", headers=BEARER)
    return ok({"total": "", "dataList": token, "expiresIn": tokens.lifetime_seconds()})


from . import entry  # noqa: E402,F401  (registers its routes on bp)
