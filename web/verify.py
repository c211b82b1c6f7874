"""Public verification (公众验证): the page the certificate's QR code opens, uploads, batches, JSON.

Anyone may verify (DB23/T 2836 §8.1.5), so nothing here needs a login; what a visitor sees is
decided in ``issuance.public_verification`` (checks and a masked summary, never field values).
This module only parses requests, calls that service and renders:

- ``GET /verify/<identifier>``: the page behind the anti-forgery QR code (``ofd.qr.verification_url``);
- ``GET /verify``: the forms (identifier, file upload, batch), ``POST /verify/file`` and
  ``POST /verify/batch``: CSRF-protected like every form of the app (the global CSRFProtect);
- ``/verify/api/...``: the same answers in the DB23/T 2836 envelope for programs. They are
  exempt from CSRF because they use no session: nothing a cookie could lend them.

Every path is rate-limited per client IP with Flask-Limiter (in-memory counters; the rates come
from ``[public]`` in config.toml): one bucket for single verifications (pages and JSON), one for
files, one for batches, so a flood of uploads cannot starve QR scans. A limiter is made per app,
so each app (and each test) counts from zero. Over the limit: 429, the envelope for JSON, a
page for people.
"""

from __future__ import annotations

from functools import partial

from flask import (Blueprint, Flask, Response, current_app, redirect, render_template, request, url_for)
from flask.blueprints import BlueprintSetupState
from flask_babel import gettext as _, lazy_gettext as _l
from werkzeug.exceptions import HTTPException

from issuance.public_verification import (MB, BatchRefused, FileRefused, PublicVerdict, verify_file,
                                          verify_identifier, verify_identifiers)
from issuance.verification import Check

from .api.envelope import fail, ok
from .app import current_platform
from .auth import client_ip

bp = Blueprint("verify", __name__, url_prefix="/verify")

# what the QR page calls each check and status, in the visitor's language (the domain's labels are zh-CN only)
CHECK_LABELS = {
    "data": _l("证照数据"), "ledger": _l("链上记录"), "digest": _l("数据摘要"), "proof": _l("默克尔证明"),
    "issuer": _l("签发机构授权"), "status": _l("证照状态"), "validity": _l("有效期"), "annual_review": _l("年审"),
    "document": _l("版式文件签章"),
}
STATUS_LABELS = {
    "effective": _l("有效"), "lost": _l("已挂失"), "revoked": _l("已注销"), "superseded": _l("已变更"),
    "review_overdue": _l("年审逾期"), "not_on_ledger": _l("未上链"), "unknown": _l("未知"),
}


def _validity(p: dict) -> dict:
    return {**p, "start": p.get("start") or "…", "end": p.get("end") or _("长期")}


def _superseded(p: dict) -> str:
    return _("已变更，被新版本 %(by)s 替代", by=p["by"]) if p.get("by") else _("已变更，被新版本替代")


def _pdf_bad(p: dict) -> str:
    text = _("签名验证未通过：%(problems)s", problems=p["problems"])
    return text + "；" + _("文件在签名后被修改（存在后续修订）") if p.get("changed") else text


# what each check's detail says (``Check.code``), in the visitor's language; ``Check.params`` fills it in.
# The English ``Check.detail`` stays what the JSON API and the CLI carry; an unknown code shows it as is.
CHECK_SENTENCES = {
    "data.no_identifier": lambda p: _("未提供证照标识"),
    "data.too_long": lambda p: _("不是证照标识：长度超过 %(max)s 个字符", **p),
    "data.unknown": lambda p: _("本平台没有该标识的证照"),
    "data.unknown_malformed": lambda p: _("本平台没有该标识的证照（不符合 GB/T 36904 证照标识格式）"),
    "data.not_carried": lambda p: _("文件中没有证照数据"),
    "data.unreadable": lambda p: _("文件中的证照数据无法读取：%(error)s", **p),
    "ledger.unreadable": lambda p: _("无法读取账本：%(error)s", **p),
    "ledger.missing": lambda p: _("账本上没有该标识的证照"),
    "ledger.anchored": lambda p: _("已上链：区块 %(block)s，发证方 %(issuer)s", **p),
    "digest.match": lambda p: _("证照数据与链上存证的摘要一致"),
    "digest.mismatch": lambda p: _("证照数据与链上存证的摘要不一致（已被篡改或为其他版本）"),
    "proof.ok": lambda p: _("可推导出链上存证的批次根"),
    "proof.bad": lambda p: _("无法推导出链上存证的批次根"),
    "issuer.root_missing": lambda p: _("账本上没有该签发方的这个批次根"),
    "issuer.not_authorised": lambda p: _("%(issuer)s 未获授权签发类型 %(type_code)s 的证照", **p),
    "issuer.ok": lambda p: _("%(issuer)s，本批次共 %(count)s 个证照", **p),
    "status.effective": lambda p: _("有效"),
    "status.lost": lambda p: _("已挂失"),
    "status.revoked": lambda p: _("已注销"),
    "status.superseded": _superseded,
    "status.review_overdue": lambda p: _("年审逾期：应于 %(since)s 前完成年审", **p),
    "validity.ok": lambda p: _("有效期 %(start)s 至 %(end)s", **_validity(p)),
    "validity.outside": lambda p: _("有效期 %(start)s 至 %(end)s，%(today)s 不在有效期内", **_validity(p)),
    "annual_review.next_due": lambda p: _("下次年审日期 %(due)s", **p),
    "document.unreadable_ofd": lambda p: _("不是可读取的 OFD 文件：%(error)s", **p),
    "document.unreadable_pdf": lambda p: _("不是可读取的 PDF 文件：%(error)s", **p),
    "document.ofd_unsigned": lambda p: _("文件未签名，也未加盖电子印章"),
    "document.ofd_bad": lambda p: _("签章验证未通过：%(problems)s", **p),
    "document.ofd_ok": lambda p: _("%(count)s 个电子印章及签名完好，签名者可信", **p),
    "document.pdf_unsigned": lambda p: _("文件未签名"),
    "document.pdf_error": lambda p: _("无法验证文件的签名：%(error)s", **p),
    "document.pdf_bad": _pdf_bad,
    "document.pdf_changed": lambda p: _("文件在签名后被修改（存在后续修订）"),
    "document.pdf_ok": lambda p: _("%(count)s 个签名完好，签名者可信", **p),
    "document.stored_bad": lambda p: _("存档的版式文件未通过验证：%(problems)s", **p),
    "document.stored_ok": lambda p: _("存档的版式文件电子印章完好，所载数据与本记录一致"),
}


def check_sentence(check: Check) -> str:
    """What ``check`` found, said in the visitor's language; its English ``detail`` for an unknown code."""
    say = CHECK_SENTENCES.get(check.code)
    if say is None:
        return check.detail
    try:
        text = str(say(dict(check.params or {})))
    except (KeyError, TypeError, ValueError):  # params not matching the sentence: the detail still says it
        return check.detail
    return check.detail if "%(" in text else text  # gettext leaves the placeholders when given no values


# the limiter bucket of each endpoint; anything else of the blueprint counts as a single verification
KIND_OF = {"verify.file_form": "file", "verify.api_file": "file", "verify.batch_form": "batch", "verify.api_batch": "batch"}
RATE_SETTING = {"verify": "verify_rate", "file": "file_rate", "batch": "batch_rate"}
JSON_VIEWS = ("api_identifier", "api_batch", "api_file", "api_unknown")
API_PATHS = {"/verify/api/batch": ("POST",), "/verify/api/file": ("POST",)}  # other /verify/api/<x>: GET
RESERVED = frozenset({"file", "batch", "api"})  # path words, never identifiers (those start 1.2.156.)
MULTIPART_SLACK = 64 * 1024  # form boundaries and fields around an uploaded file
MESSAGES = {
    400: "请求有误", 404: "接口不存在", 405: "不支持的请求方法", 413: "上传的文件过大", 415: "仅支持 OFD 或 PDF 文件",
    429: "验证请求过于频繁，请稍后再试",
}


# --- set-up: CSRF exemptions and the rate limiter -------------------------------------------------

def _kind() -> str:
    return KIND_OF.get(request.endpoint or "", "verify")


def _rate(kind: str) -> str:
    """Read at each request, so the limits follow the platform's settings (tests lower them)."""
    return getattr(current_platform().settings.public, RATE_SETTING[kind])


@bp.record_once
def _setup(state: BlueprintSetupState) -> None:
    from flask_limiter import Limiter

    app: Flask = state.app
    for name in JSON_VIEWS:
        app.extensions["csrf"].exempt(f"{__name__}.{name}")
    limiter = Limiter(key_func=client_ip, storage_uri="memory://", headers_enabled=True, key_prefix="verify")
    limiter.init_app(app)
    # its hook runs on every request of the app: let it stop at once outside /verify (the sharing
    # interface has its own limits and is the path that must be fast)
    limiter.request_filter(lambda: request.blueprint != bp.name)
    for kind in RATE_SETTING:
        limiter.shared_limit(partial(_rate, kind), scope=f"public-{kind}",
                             exempt_when=lambda kind=kind: _kind() != kind)(bp)
    app.extensions["public_verify_limiter"] = limiter


def _is_api() -> bool:
    return request.path.startswith("/verify/api")


def _limit_body(max_bytes: int) -> None:
    """Refuse a body over the public limit before reading it (413), whatever the app-wide limit."""
    ceiling = max_bytes + MULTIPART_SLACK
    if request.content_length is not None and request.content_length > ceiling:
        from werkzeug.exceptions import RequestEntityTooLarge

        raise RequestEntityTooLarge()
    try:
        request.max_content_length = ceiling  # Flask >= 3.1: also bounds a body without Content-Length
    except AttributeError:
        pass


def _max_bytes() -> int:
    return current_platform().settings.public.max_file_mb * MB


# --- presenting a verdict ----------------------------------------------------------------------

def _view(v: PublicVerdict) -> dict:
    """The verdict with labels in the visitor's language; the template only lays it out."""
    status = v.summary.status if v.summary else "unknown"
    return {
        "identifier": v.identifier, "valid": v.valid, "found": v.found, "ledger_block": v.ledger_block,
        "summary": v.summary, "status_label": STATUS_LABELS.get(status, status),
        "checks": [{"name": c.name, "label": CHECK_LABELS.get(c.name, c.label), "ok": c.ok, "detail": check_sentence(c)}
                   for c in v.checks],
    }


def _index(status: int = 200, **errors) -> tuple[str, int]:
    fields = {"file_error": None, "batch_error": None, "identifiers": ""}
    fields.update(errors)
    return render_template("verify/index.html", max_file_mb=current_platform().settings.public.max_file_mb,
                           max_batch=current_platform().settings.public.max_batch, **fields), status


def _file_message(exc: FileRefused) -> tuple[str, int]:
    if exc.reason == "size":
        return _("文件超过 %(mb)d MB，无法验证", mb=current_platform().settings.public.max_file_mb), 413
    if exc.reason == "type":
        return _("仅支持 OFD 或 PDF 格式的电子证照文件"), 415
    return _("请选择要验证的文件"), 400


def _batch_message(exc: BatchRefused) -> str:
    if exc.reason == "too_many":
        return _("一次最多验证 %(n)d 个证照标识", n=exc.limit)
    return _("请输入至少一个证照标识，每行一个")


# --- pages ---------------------------------------------------------------------------------------

@bp.route("", methods=["GET"])
def index():
    """The forms; ``?identifier=`` (the lookup form) goes to that certificate's page."""
    identifier = (request.args.get("identifier") or "").strip()
    if identifier:
        return redirect(url_for(".page", identifier=identifier))
    return _index()


@bp.route("/<identifier>", methods=["GET"])
def page(identifier: str):
    """What the QR code opens: the verdict, each check, the masked summary, the ledger block."""
    if identifier in RESERVED:  # e.g. a reload of a form's result page
        return redirect(url_for(".index"))
    verdict = verify_identifier(current_platform(), identifier)
    return render_template("verify/result.html", v=_view(verdict), source="identifier"), (200 if verdict.found else 404)


@bp.route("/file", methods=["POST"])
def file_form():
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return _index(400, file_error=_("请选择要验证的文件"))
    limit = _max_bytes()
    data = upload.stream.read(limit + 1)  # one byte more tells "too large" without reading it all
    try:
        verdict = verify_file(current_platform(), data, upload.filename)
    except FileRefused as exc:
        message, status = _file_message(exc)
        return _index(status, file_error=message)
    return render_template("verify/result.html", v=_view(verdict), source="file", filename=upload.filename)


@bp.route("/batch", methods=["POST"])
def batch_form():
    text = request.form.get("identifiers") or ""
    try:
        verdicts = verify_identifiers(current_platform(), text.splitlines())
    except BatchRefused as exc:
        return _index(400, batch_error=_batch_message(exc), identifiers=text)
    views = [_view(v) for v in verdicts]
    return render_template("verify/batch.html", rows=views, valid=sum(v["valid"] for v in views))


# --- JSON (DB23/T 2836 envelope) ---------------------------------------------------------------------

@bp.route("/api/<identifier>", methods=["GET"])
def api_identifier(identifier: str) -> Response:
    """One certificate; an unknown identifier is a successful call whose verifyResult is "false" (C.6)."""
    if "/verify/api/" + identifier in API_PATHS:  # GET on a POST-only path lands here, not in api_unknown
        return fail(405, MESSAGES[405], headers={"Allow": "POST"})
    return ok(verify_identifier(current_platform(), identifier).as_dict())


@bp.route("/api/batch", methods=["POST"])
def api_batch() -> Response:
    """``{"identifiers": [...]}`` -> ``{"total": n, "dataList": [verdict, ...]}``, one per distinct identifier."""
    body = request.get_json(silent=True)
    items = body.get("identifiers") if isinstance(body, dict) else None
    if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
        return fail(400, "请以 JSON 提交 {\"identifiers\": [\"证照标识\", ...]}",
                    {"errors": {"identifiers": "a list of strings is required"}})
    try:
        verdicts = verify_identifiers(current_platform(), items)
    except BatchRefused as exc:
        message = f"一次最多验证 {exc.limit} 个证照标识" if exc.reason == "too_many" else "请提供至少一个证照标识"
        return fail(400, message, {"errors": {"identifiers": str(exc)}})
    return ok({"total": len(verdicts), "dataList": [v.as_dict() for v in verdicts]})


@bp.route("/api/file", methods=["POST"])
def api_file() -> Response:
    """An OFD or PDF as a multipart field ``file`` or as the raw body (name in ``?filename=``)."""
    limit = _max_bytes()
    _limit_body(limit)
    upload = request.files.get("file") if request.mimetype == "multipart/form-data" else None
    if upload is not None:
        data, name = upload.stream.read(limit + 1), upload.filename or ""
    else:
        data, name = request.get_data(cache=False), request.args.get("filename", "")
    try:
        verdict = verify_file(current_platform(), data, name)
    except FileRefused as exc:
        status = {"size": 413, "type": 415}.get(exc.reason, 400)
        message = {413: f"文件超过 {limit // MB} MB，无法验证", 415: "仅支持 OFD 或 PDF 格式的电子证照文件"}.get(
            status, "请提交要验证的文件")
        return fail(status, message, {"errors": {"file": str(exc)}})
    return ok(verdict.as_dict())


@bp.route("/api/<path:_rest>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
def api_unknown(_rest: str) -> Response:
    """Unknown paths and wrong methods under /verify/api answer in the envelope, not with an HTML page."""
    allowed = API_PATHS.get(request.path) or (("GET",) if "/" not in _rest else None)
    if allowed:
        return fail(405, MESSAGES[405], headers={"Allow": ", ".join(allowed)})
    return fail(404, MESSAGES[404])


# --- refusals --------------------------------------------------------------------------------------

@bp.errorhandler(429)
def _too_many(e: HTTPException):
    """Over the rate limit; Flask-Limiter adds Retry-After and the X-RateLimit headers afterwards."""
    if _is_api():
        return fail(429, MESSAGES[429])
    return render_template("verify/limited.html"), 429


@bp.errorhandler(413)
def _too_large(e: HTTPException):
    """A body over the limit, refused by werkzeug (or ``_limit_body``) before it was read."""
    if _is_api():
        return fail(413, f"文件超过 {_max_bytes() // MB} MB，无法验证")
    if request.endpoint == "verify.file_form":
        return _index(413, file_error=_("文件超过 %(mb)d MB，无法验证", mb=current_platform().settings.public.max_file_mb))
    return render_template("error.html", code=413, message=_("上传的文件过大")), 413


@bp.errorhandler(500)
def _failed(e: HTTPException):
    current_app.logger.exception("public verification failed", exc_info=getattr(e, "original_exception", e))
    if _is_api():
        return fail(500, "服务器内部错误")
    return render_template("error.html", code=500, message=_("服务器内部错误")), 500
