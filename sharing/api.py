"""The DB23/T 2836-2021 sharing interface as a Flask blueprint: POST /sharing/<method name>.

Thin by design: each view parses and checks the request (``params``), authenticates the caller
(``tokens``, ``access``), calls the reads of ``service`` or the verification of ``issuance``, and
answers in the envelope of appendix C (``web.api.envelope``) with a return code of ``codes``.

The order of checks, the same for every method, so a client learns the most basic problem first:
rate (1008) and declared size (1006) before anything is read, content type (1007), the body's
size and syntax (1006, 1003), AccountId (1001, 1002), AccessToken (1201-1204; not for Token
itself), the account and IP in the client-system list (1101-1103), then the method's own
parameters and rights (10xx, 13xx).

Every request of the blueprint, refused or served, is queued for the usage record after its
answer is made (``recorder``: written in batches by a thread of the process); nothing of
the blueprint answers with an HTML page or a traceback: every error handler answers in the
envelope, and the catch-all turns the unexpected into 1901 (logged, never expected).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any, Callable
from urllib.parse import parse_qsl

import orjson
from flask import Blueprint, Flask, Response, current_app, g, request, send_file
from flask.blueprints import BlueprintSetupState
from werkzeug.exceptions import HTTPException
from werkzeug.routing import PathConverter

from issuance import identifiers, renditions, verification
from certledger.crypto.sm import DecryptionError
from issuance.errors import IllegalTransition, NotFound
from issuance.pipeline import documents as docs
from issuance.unit_of_work import UnitOfWork
from web.api.envelope import respond
from web.app import current_platform
from web.auth import client_ip

from . import files, params as P, service, tokens
from .access import DEFAULT_TTL, AccessCache
from .codes import Code
from .limits import DEFAULT_RATE, RateLimiter
from .recorder import Recorder
from .params import METHODS, Method, ParamError
from .service import Caller, DataProblem, Refusal

bp = Blueprint("sharing", __name__, url_prefix="/sharing")

MAX_BODY = 1024 * 1024  # 1 MB: the largest legitimate request (VerifyCertificate) is a few KB
FORM_TYPES = frozenset({"application/x-www-form-urlencoded", "x-www-form-urlencoded"})  # C.1 writes the latter
JSON_TYPES = frozenset({"application/json", "text/json"})
ALL_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]
FILE_INTERFACE = "file"
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")  # kept out of the usage record (PostgreSQL refuses NUL in text)
MAX_INTERFACE = 64


class _AnyPath(PathConverter):
    """A path that may hold any character, a newline too (Werkzeug's ``path`` stops at one): a
    hostile path under /sharing must reach the blueprint's catch-all and get the envelope."""

    regex = r"(?s:[^/].*)"


@bp.record_once
def _setup(state: BlueprintSetupState) -> None:
    """CSRF does not apply: callers are programs with tokens, never a browser session.

    Runs before the routes below are added, so their converter exists when they are compiled.
    """
    app: Flask = state.app
    app.extensions["csrf"].exempt(bp)
    app.url_map.converters.setdefault("sharing_any", _AnyPath)


def _per_app(name: str, setting: str, default: float, make: Callable[[float], Any], made_with: str) -> Any:
    """The app's ``name`` object, made again by ``make`` when the config ``setting`` it was made
    with changes (the setting is read per request, so tests and operators can change it live)."""
    value = float(current_app.config.get(setting, default))
    obj = current_app.extensions.get(name)
    if obj is None or getattr(obj, made_with) != value:
        obj = current_app.extensions[name] = make(value)
    return obj


def _limiter() -> RateLimiter:
    return _per_app("sharing.limiter", "SHARING_RATE_PER_SECOND", DEFAULT_RATE, RateLimiter, "rate")


# --- the state of one call ------------------------------------------------------------------------

@dataclass
class Call:
    """What the usage record needs of one request, filled in as the request is understood."""

    started: float
    interface: str
    account_id: str = ""
    client_system: Any = None
    identifier: str = ""
    holder_index: str = ""
    type_code: str = ""
    result: Code | None = None
    message: str = ""
    _uow: UnitOfWork | None = None
    _cipher: Any = None
    recorded: bool = False

    def uow(self) -> UnitOfWork:
        """The request's one unit of work for its reads, opened on first need (many calls need none)."""
        if self._uow is None:
            self._uow = current_platform().uow()
            self._uow.__enter__()
        return self._uow

    def cipher(self):
        """The deployment's cipher: kept per process for the access-cache time (it reads a file and
        two tables); ``data_items`` drops it and retries once if a newer data key appeared."""
        if self._cipher is None:
            self._cipher = _kept("sharing.cipher", lambda: self.uow().cipher)
        return self._cipher

    def reader(self) -> "_Reader":
        """The unit of work as the domain's read helpers take it, with the kept cipher."""
        return _Reader(self.uow().session, self.cipher())

    def release(self) -> None:
        """End the read transaction before calling out (ledger, renditions): on SQLite every
        transaction holds the one writer lock, and what is called may open its own."""
        if self._uow is not None:
            self._uow.commit()  # nothing was written; unlike rollback, commit keeps loaded rows readable

    def close(self) -> None:
        if self._uow is not None:
            uow, self._uow = self._uow, None
            uow.__exit__(None, None, None)


@dataclass
class _Reader:
    """A unit of work's session with an already-built cipher (``certificates.values_of`` and
    ``holder_code_of`` read ``.session`` and ``.cipher``; the real property rebuilds it each time)."""

    session: Any
    cipher: Any


def _kept(key: str, load: Callable[[], Any]) -> Any:
    """A per-app value kept for the access-cache time (0: never kept)."""
    ttl = float(current_app.config.get("SHARING_ACCESS_CACHE_SECONDS", DEFAULT_TTL))
    now = time.monotonic()
    hit = current_app.extensions.get(key)
    if hit is not None and hit[0] > now:
        return hit[1]
    value = load()
    if ttl > 0:
        current_app.extensions[key] = (now + ttl, value)
    return value


def _forget(key: str) -> None:
    current_app.extensions.pop(key, None)


def _type_view(type_id: int) -> service.TypeView | None:
    """A certificate type's name, design flag and fields, kept like the access answers."""
    views: dict[int, tuple[float, Any]] = current_app.extensions.setdefault("sharing.types", {})
    ttl = float(current_app.config.get("SHARING_ACCESS_CACHE_SECONDS", DEFAULT_TTL))
    now = time.monotonic()
    hit = views.get(type_id)
    if hit is not None and hit[0] > now:
        return hit[1]
    view = service.type_view(_call().uow(), type_id)
    if ttl > 0:
        if len(views) > 10_000:
            views.clear()
        views[type_id] = (now + ttl, view)
    return view



def _call() -> Call:
    return g.sharing_call


def answer(code: Code, data: Any = None, detail: str = "", headers: dict[str, str] | None = None) -> Response:
    """The envelope with ``code``; remembers the outcome for the usage record."""
    message = f"{code.message}：{detail}" if detail else code.message
    call = g.get("sharing_call")
    if call is not None:
        call.result, call.message = code, message
    return respond(code.http, code.value, message, data, headers)


# --- request checks before any view ---------------------------------------------------------------

@bp.before_request
def _begin() -> Response | None:
    name = request.path[len(bp.url_prefix):].lstrip("/") or "/"
    interface = FILE_INTERFACE if name.startswith("file/") else _CONTROL.sub("?", name)
    g.sharing_call = Call(time.perf_counter(), interface[:MAX_INTERFACE])
    request.max_content_length = MAX_BODY + 1  # bounds what the stream gives; ``_raw_body`` tells "over"
    if request.content_length is not None and request.content_length > MAX_BODY:
        return answer(Code.BODY_TOO_LARGE, detail=f"不能超过 {MAX_BODY // 1024} KB")
    if not _limiter().allow(client_ip()):
        return answer(Code.RATE_LIMITED, headers={"Retry-After": "1"})
    return None


def _recorder() -> Recorder:
    """The app's usage-record writer (one per app and process)."""
    rec: Recorder | None = current_app.extensions.get("sharing.recorder")
    if rec is None:
        rec = current_app.extensions["sharing.recorder"] = Recorder(current_platform().session_factory)
    return rec


def flush_records(app: Flask, timeout: float = 30.0) -> bool:
    """Wait until the usage records of the calls answered so far are in the database (tests, shutdown)."""
    rec: Recorder | None = app.extensions.get("sharing.recorder")
    return True if rec is None else rec.flush(timeout)


def _access() -> AccessCache:
    return _per_app("sharing.access", "SHARING_ACCESS_CACHE_SECONDS", DEFAULT_TTL, AccessCache, "ttl")


@bp.after_request
def _record(resp: Response) -> Response:
    """Queue the usage record of this call (every call, served or refused) for the writer thread."""
    call: Call | None = g.get("sharing_call")
    if call is None or call.recorded or request.endpoint == "sharing.openapi":
        return resp
    call.recorded = True
    code = call.result or (Code.SUCCESS if resp.status_code < 400 else Code.INTERNAL_ERROR)
    _recorder().add({
        "interface": call.interface, "result_code": code.value, "account_id": call.account_id, "ip": client_ip(),
        "client_system": call.client_system, "certificate_identifier": call.identifier or None,
        "holder_code_index": call.holder_index or None, "type_code": call.type_code or None,
        "message": call.message or code.message,
        "duration_ms": round((time.perf_counter() - call.started) * 1000),
    })
    return resp


@bp.teardown_request
def _close(_exc: BaseException | None) -> None:
    call: Call | None = g.get("sharing_call")
    if call is not None:
        call.close()


# --- errors, all as envelopes ---------------------------------------------------------------------

HTTP_CODES = {400: Code.MALFORMED_BODY, 404: Code.NOT_FOUND_PATH, 405: Code.METHOD_NOT_ALLOWED,
              413: Code.BODY_TOO_LARGE, 415: Code.UNSUPPORTED_MEDIA_TYPE, 429: Code.RATE_LIMITED}


@bp.errorhandler(Refusal)
def _refusal(e: Refusal) -> Response:
    return answer(e.code, e.data, e.detail)


@bp.errorhandler(ParamError)
def _param(e: ParamError) -> Response:
    return answer(e.code, {"parameter": e.name}, f"{e.name}（{e.detail}）")


@bp.errorhandler(DataProblem)
def _data_problem(e: DataProblem) -> Response:
    code = Code.MISSING_PARAMETER if e.missing else Code.BAD_PARAMETER
    name = f"{P.CERTIFICATE_DATA.name}.{e.item}"
    return answer(code, {"parameter": name}, f"{name}（{e.detail}）")


@bp.errorhandler(HTTPException)
def _http(e: HTTPException) -> Response:
    code = HTTP_CODES.get(e.code or 500)
    if code is None:
        code = Code.MALFORMED_BODY if e.code and 400 <= e.code < 500 else Code.INTERNAL_ERROR
    headers = {"Allow": ", ".join(e.valid_methods)} if getattr(e, "valid_methods", None) else None
    return answer(code, headers=headers)


@bp.errorhandler(Exception)
def _unexpected(e: Exception) -> Response:
    current_app.logger.exception("sharing: unexpected failure in %s", request.path, exc_info=e)
    return answer(Code.INTERNAL_ERROR)


# --- the body -------------------------------------------------------------------------------------

def _raw_body() -> bytes:
    """The body, at most MAX_BODY bytes; 1006 past that, also for a chunked body of no declared length."""
    data = request.stream.read(MAX_BODY + 1)
    if len(data) > MAX_BODY:
        raise Refusal(Code.BODY_TOO_LARGE, f"不能超过 {MAX_BODY // 1024} KB")
    return data


def _body() -> dict[str, Any]:
    """The request's parameters: a form (either spelling of appendix C.1) or a JSON object.

    Both are parsed here from the raw bytes (not by Werkzeug's form parser), so that one size
    limit and one set of refusals apply to every body; a key given twice counts once, the first.
    """
    mimetype = request.mimetype
    if mimetype in FORM_TYPES:
        try:
            text = _raw_body().decode("ascii")  # a urlencoded body is ASCII; its values are %-escaped UTF-8
            pairs = parse_qsl(text, keep_blank_values=True, max_num_fields=1000, errors="strict")
        except (UnicodeDecodeError, ValueError):
            raise Refusal(Code.MALFORMED_BODY, "表单编码有误") from None
        return dict(reversed(pairs))
    if mimetype in JSON_TYPES or mimetype.endswith("+json"):
        raw = _raw_body()
        if not raw.strip():
            return {}
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise Refusal(Code.MALFORMED_BODY, "不是有效的 JSON") from None
        if not isinstance(data, dict):
            raise Refusal(Code.MALFORMED_BODY, "JSON 请求体应为对象")
        return data
    if not mimetype and not _raw_body():
        return {}  # no body at all: the missing parameters are reported
    raise Refusal(Code.UNSUPPORTED_MEDIA_TYPE)


def _authenticate(method: Method, body: dict[str, Any]) -> tuple[Caller | None, dict[str, Any]]:
    """Account, token and client system; returns the caller (None for Token) and the AccountId."""
    call = _call()
    ident = P.parse_params((P.ACCOUNT_ID,), body)
    account_id = ident[P.ACCOUNT_ID.name]
    call.account_id = account_id
    ip = client_ip()
    if method.needs_token:
        lowered = {str(k).lower(): v for k, v in body.items()}
        raw = lowered.get(P.ACCESS_TOKEN.name.lower())
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            raise Refusal(Code.TOKEN_MISSING)
        if not isinstance(raw, str):
            raise Refusal(Code.TOKEN_INVALID)
        problem = tokens.check(raw.strip(), account_id, ip)
        if problem is not None:
            raise Refusal({tokens.TokenProblem.EXPIRED: Code.TOKEN_EXPIRED,
                           tokens.TokenProblem.OTHER_IP: Code.TOKEN_OTHER_IP}.get(problem, Code.TOKEN_INVALID))
    return _caller(account_id, ip), ident


def _caller(account_id: str, ip: str) -> Caller:
    """The authenticated caller (through the access cache); remembered for the usage record."""
    call = _call()
    cache = _access()

    def session():
        return call.uow().session

    system = cache.authenticate(session, account_id, ip)
    call.client_system = system
    return Caller(account_id, ip, system, system.tenant_id, lambda code: cache.allowed(session, system, code))


def _dispatch(method: Method) -> Response:
    body = _body()
    caller, _ = _authenticate(method, body)
    rest = tuple(p for p in method.params if p.name not in (P.ACCOUNT_ID.name, P.ACCESS_TOKEN.name))
    values = P.parse_params(rest, body)
    return HANDLERS[method.name](caller, values, body)


# --- the methods ----------------------------------------------------------------------------------

def _token(caller: Caller, _values: dict[str, Any], _body: dict[str, Any]) -> Response:
    issued = tokens.issue(caller.account_id, caller.ip)
    return answer(Code.SUCCESS, {"total": "", "dataList": issued.token, "expiresAt": issued.expires_at.isoformat()})


def _holder_index(code: str) -> str:
    call = _call()
    call.holder_index = call.cipher().blind_index(code)
    return call.holder_index


def _by_id(caller: Caller, values: dict[str, Any]):
    call = _call()
    call.identifier = values[P.CERTIFICATE_ID.name]
    call.type_code = values[P.TYPE_CODE_OPTIONAL.name] or identifiers.parse(call.identifier).type_code
    return [service.by_identifier(call.uow(), caller, call.identifier, values[P.TYPE_CODE_OPTIONAL.name])]


def _by_holder(caller: Caller, values: dict[str, Any]):
    call = _call()
    call.type_code = values[P.TYPE_CODE.name]
    return service.by_holder(call.uow(), caller, _holder_index(values[P.HOLDER_CODE.name]), values[P.TYPE_CODE.name],
                             values[P.HOLDER_TYPE.name], values[P.NUMBER.name])


def _data_items(certs) -> list[dict[str, Any]]:
    call = _call()
    try:
        return [service.data_item(call.reader(), c, _type_view(c.type_id)) for c in certs]
    except DecryptionError:  # a data key newer than the kept cipher: read the keys again, once
        _forget("sharing.cipher")
        call._cipher = None
        return [service.data_item(call.reader(), c, _type_view(c.type_id)) for c in certs]


def _data(find: Callable) -> Callable:
    def handler(caller: Caller, values: dict[str, Any], _body: dict[str, Any]) -> Response:
        certs = find(caller, values)
        items = _data_items(certs)
        if len(certs) == 1:
            _call().identifier = certs[0].identifier
        return answer(Code.SUCCESS, {"total": len(items), "dataList": items})
    return handler


def _files(find: Callable, picture: bool) -> Callable:
    def handler(caller: Caller, values: dict[str, Any], _body: dict[str, Any]) -> Response:
        certs = find(caller, values)
        kind = "png" if picture else (values.get(P.FILE_FORMAT.name) or "ofd")
        items = []
        root = request.url_root.rstrip("/")
        for c in certs:
            t = _type_view(c.type_id)
            if t is None or not t.has_design or (kind == "ofd" and not _ofd_path(c.identifier).is_file()):
                raise Refusal(Code.NO_LAYOUT_FILE, c.identifier if len(certs) > 1 else "")
            path, expires = files.make(c.identifier, kind, caller.account_id)
            stamp = _iso(expires)
            items.append(service.file_item(c, root + path, files.KINDS[kind][0], stamp))
        if len(certs) == 1:
            _call().identifier = certs[0].identifier
        return answer(Code.SUCCESS, {"total": len(items), "dataList": items})
    return handler


def _iso(epoch: int) -> str:
    from datetime import datetime

    return datetime.fromtimestamp(epoch, tokens.BEIJING).isoformat()


def _ofd_path(identifier: str):
    return docs.file_path(docs.documents_dir(current_platform().settings.data_dir), identifier)


def _verify(caller: Caller, values: dict[str, Any], body: dict[str, Any]) -> Response:
    raw = values[P.CERTIFICATE_DATA.name]
    if isinstance(raw, str):
        if len(raw) > P.CERTIFICATE_DATA.max_length:
            raise ParamError(Code.BAD_PARAMETER, P.CERTIFICATE_DATA.name, "过长")
        try:
            raw = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise ParamError(Code.BAD_PARAMETER, P.CERTIFICATE_DATA.name, "应为 JSON 对象") from None
    if not isinstance(raw, dict):
        raise ParamError(Code.BAD_PARAMETER, P.CERTIFICATE_DATA.name, "应为 JSON 对象")
    basic, surface = service.verify_input(raw)
    _call().identifier, _call().type_code = basic["identifier"], basic["type_code"]
    wanted = values[P.TYPE_CODE_OPTIONAL.name]
    if wanted is not None and wanted != basic["type_code"]:
        raise ParamError(Code.BAD_PARAMETER, P.TYPE_CODE_OPTIONAL.name, "与证照数据中的证照类型不一致")
    if not caller.may_use(basic["type_code"]):
        raise Refusal(Code.NO_USAGE_RIGHT, basic["type_code"])
    _call().release()
    verdict = verification.verify_data(current_platform().ledger, basic, surface, today=tokens.now().date())
    return answer(Code.SUCCESS, service.verdict_answer(verdict))


def _types(caller: Caller, _values: dict[str, Any], _body: dict[str, Any]) -> Response:
    from issuance.models import Department

    call = _call()
    uow = call.uow()
    codes = _access().catalogs_allowed(lambda: uow.session, caller.client_system)
    items = []
    for t in service.allowed_types(uow, caller, codes):
        dept = uow.session.get(Department, t.department_id)
        items.append(service.type_item(t, dept.name if dept else "", dept.code if dept else ""))
    return answer(Code.SUCCESS, {"total": len(items), "dataList": items})


def _retrieval(caller: Caller, values: dict[str, Any], _body: dict[str, Any]) -> Response:
    start, end = values[P.ISSUE_DATE_START.name], values[P.ISSUE_DATE_END.name]
    P.day_range_ok(start, end)
    page, size = values[P.PAGE_NO.name] or 1, values[P.PAGE_SIZE.name] or 20
    holder = values[P.HOLDER_CODE_OPTIONAL.name]
    call = _call()
    call.type_code = values[P.TYPE_CODE.name]
    uow = call.uow()
    found = service.retrieve(uow, caller, values[P.TYPE_CODE.name], _holder_index(holder) if holder else None,
                             values[P.ISSUE_DEPT_CODE.name], start, end, page, size)
    from issuance import certificates

    reader = call.reader()
    items = [service.summary_item(c, certificates.holder_code_of(reader, c)) for c in found.items]
    return answer(Code.SUCCESS, {"total": found.total, "pageNo": page, "pageSize": size, "dataList": items})


HANDLERS: dict[str, Callable[[Caller, dict[str, Any], dict[str, Any]], Response]] = {
    "Token": _token,
    "GetCertificateFileByHolder": _files(_by_holder, picture=False),
    "GetCertificateFileByCertificateID": _files(_by_id, picture=False),
    "GetCertificateDataByHolder": _data(_by_holder),
    "GetCertificateDataByCertificateID": _data(_by_id),
    "VerifyCertificate": _verify,
    "GetCertificatePictureByCertificateID": _files(_by_id, picture=True),
    "GetCertificatePictureByHolder": _files(_by_holder, picture=True),
    "GetCertificateType": _types,
    "Retrieval": _retrieval,
}
assert set(HANDLERS) == set(METHODS), "every method of params.METHODS has a handler"


def _view(method: Method) -> Callable[[], Response]:
    def view() -> Response:
        return _dispatch(method)
    view.__name__ = method.name
    view.__doc__ = f"{method.section} {method.summary}"
    return view


for _m in METHODS.values():
    bp.add_url_rule(f"/{_m.name}", endpoint=_m.name, view_func=_view(_m), methods=["POST"])


# --- files ----------------------------------------------------------------------------------------

@bp.route("/file/<sharing_any:name>", methods=["GET"])
def download(name: str) -> Response:
    """A signed link of a file method: checked again against the account, its IP and its usage."""
    link = files.read(name)
    if link is files.LinkProblem.EXPIRED:
        return answer(Code.LINK_EXPIRED)
    if not isinstance(link, files.Link):
        return answer(Code.LINK_INVALID)
    call = _call()
    call.account_id, call.identifier = link.account_id, link.identifier
    call.type_code = identifiers.parse(link.identifier).type_code
    caller = _caller(link.account_id, client_ip())
    cert = service.by_identifier(call.uow(), caller, link.identifier, None)
    platform = current_platform()
    if link.kind == "ofd":
        path = _ofd_path(cert.identifier)
        if not path.is_file():
            raise Refusal(Code.NO_LAYOUT_FILE)
    else:
        call.release()  # rendering opens its own transaction
        try:
            path = renditions.rendition(platform, cert.identifier, link.kind)
        except NotFound:
            raise Refusal(Code.NO_LAYOUT_FILE) from None
        except IllegalTransition:
            raise Refusal(Code.CERTIFICATE_NOT_EFFECTIVE) from None
    call.result, call.message = Code.SUCCESS, Code.SUCCESS.message
    resp = send_file(path, mimetype=files.KINDS[link.kind][1], as_attachment=True,
                     download_name=f"{cert.identifier}.{link.kind}", conditional=False, etag=False)
    return resp


# --- the description and the catch-all -------------------------------------------------------------

@bp.route("/openapi.json", methods=["GET"])
def openapi() -> Response:
    from .openapi import document

    return Response(orjson.dumps(document()), mimetype="application/json")


KNOWN_PATHS: dict[str, tuple[str, ...]] = {f"/sharing/{name}": ("POST",) for name in METHODS}
KNOWN_PATHS["/sharing/openapi.json"] = ("GET",)


@bp.route("/", methods=ALL_METHODS, defaults={"_rest": ""})
@bp.route("/<sharing_any:_rest>", methods=ALL_METHODS)
def _unknown(_rest: str) -> Response:
    allowed = KNOWN_PATHS.get(request.path)
    if allowed is None and request.path.startswith("/sharing/file/"):
        allowed = ("GET",)
    if allowed:
        return answer(Code.METHOD_NOT_ALLOWED, headers={"Allow": ", ".join(allowed)})
    return answer(Code.NOT_FOUND_PATH)

