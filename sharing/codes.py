"""Return codes of the sharing interface (``head.status``), with their zh-CN messages and HTTP status.

DB23/T 2836-2021 appendix D lists the interface's return codes, but its table did not survive in
our copy of the standard; appendix C shows only success, ``"0"`` with ``接口调用成功``. The codes
below are therefore our own, documented in the OpenAPI description (GET /sharing/openapi.json)
and in docs/sharing-api.md. They are four-digit strings grouped by what went wrong, so a client
can branch on the first digit pair without knowing every code:

- ``10xx`` the request itself (parameters, body, content type, size, method, path)
- ``11xx`` the account (AccountId) and the caller's IP
- ``12xx`` the access token
- ``13xx`` rights and certificates (usage, not found, not effective, no layout file)
- ``14xx`` signed download links
- ``19xx`` the server (never expected: every answer of this kind is logged with its traceback)

The HTTP status goes with the code, so a client that only looks at HTTP still sees a refusal
as a 4xx; ``head.status`` is always a string, as in appendix C.
"""

from __future__ import annotations

import enum


class Code(enum.Enum):
    """One return code: ``value`` is the ``head.status`` string; ``http`` and ``message`` go with it."""

    def __new__(cls, status: str, http: int, message: str) -> "Code":
        obj = object.__new__(cls)
        obj._value_ = status
        obj.http = http
        obj.message = message
        return obj

    http: int
    message: str

    SUCCESS = ("0", 200, "接口调用成功")

    # the request
    MISSING_PARAMETER = ("1001", 400, "缺少必填参数")
    BAD_PARAMETER = ("1002", 400, "参数格式错误")
    MALFORMED_BODY = ("1003", 400, "请求体无法解析")
    NOT_FOUND_PATH = ("1004", 404, "接口不存在")
    METHOD_NOT_ALLOWED = ("1005", 405, "不支持的请求方法，请使用 POST")
    BODY_TOO_LARGE = ("1006", 413, "请求体过大")
    UNSUPPORTED_MEDIA_TYPE = ("1007", 415, "不支持的内容类型，请以 application/x-www-form-urlencoded 或 application/json 提交")
    RATE_LIMITED = ("1008", 429, "调用过于频繁，请稍后再试")

    # the account and the caller's IP
    UNKNOWN_ACCOUNT = ("1101", 401, "账号不存在")
    ACCOUNT_NOT_APPROVED = ("1102", 403, "账号未审核通过或已停用")
    IP_NOT_ALLOWED = ("1103", 403, "访问IP地址未与该账号绑定")

    # the access token
    TOKEN_MISSING = ("1201", 401, "缺少访问令牌 AccessToken")
    TOKEN_INVALID = ("1202", 401, "访问令牌无效")
    TOKEN_EXPIRED = ("1203", 401, "访问令牌已过期，请重新获取")
    TOKEN_OTHER_IP = ("1204", 401, "访问令牌与访问IP地址不符")

    # rights and certificates
    NO_USAGE_RIGHT = ("1301", 403, "无该证照类型的用证权限")
    CERTIFICATE_NOT_FOUND = ("1302", 404, "证照不存在或无权访问")
    CERTIFICATE_NOT_EFFECTIVE = ("1303", 410, "证照已停止使用（挂失、注销、变更或年审逾期）")
    NO_LAYOUT_FILE = ("1304", 404, "该证照没有版式文件")

    # signed download links
    LINK_INVALID = ("1401", 403, "下载链接无效")
    LINK_EXPIRED = ("1402", 410, "下载链接已过期，请重新调用接口获取")

    # the server
    INTERNAL_ERROR = ("1901", 500, "服务器内部错误")


def describe() -> list[dict[str, object]]:
    """Every code as ``{status, http, message}``: the table of the docs and the OpenAPI description."""
    return [{"status": c.value, "http": c.http, "message": c.message} for c in Code]
