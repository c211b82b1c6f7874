"""The JSON envelope of DB23/T 2836 appendix C: ``{"head": {"status", "message"}, "data": ...}``.

Appendix C shows every answer of the sharing interface as ``{"head": {"message": "接口调用成功",
"status": "0"}, "data": {"total": ..., "dataList": ...}}``; our API answers in the same shape so a
client of the province's interface reads ours without a second parser. Appendix D (the return
codes) did not survive in our copy of the standard, so a refusal carries the HTTP status as its
``head.status`` string ("400", "401", ...): never "0", and self-explaining until the codes of
appendix D are known. ``message`` is for people and in Chinese, like the standard's; the
per-field problems in ``data`` come from the domain's validation, keyed by field.
"""

from __future__ import annotations

from typing import Any

import orjson
from flask import Response

SUCCESS = "0"
SUCCESS_MESSAGE = "接口调用成功"


def respond(http_status: int, status: str, message: str, data: Any = None,
            headers: dict[str, str] | None = None) -> Response:
    """Serialise with orjson: a 10,000-row answer is written in milliseconds, Chinese left readable."""
    body = orjson.dumps({"head": {"status": status, "message": message}, "data": data})
    resp = Response(body, status=http_status, mimetype="application/json")
    for k, v in (headers or {}).items():
        resp.headers[k] = v
    return resp


def ok(data: Any, http_status: int = 200) -> Response:
    return respond(http_status, SUCCESS, SUCCESS_MESSAGE, data)


def fail(http_status: int, message: str, data: Any = None, headers: dict[str, str] | None = None) -> Response:
    return respond(http_status, str(http_status), message, data, headers)
