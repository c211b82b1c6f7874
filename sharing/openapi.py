"""The OpenAPI 3 description of the sharing interface, built from the definitions the routes parse with.

Served at GET /sharing/openapi.json. Request bodies come from ``params.METHODS`` (names, required
flags, patterns, lengths, ranges), the return codes from ``codes.Code``, so neither can drift from
the code. The answers are described per method (appendix C shapes); every refusal is the same
envelope with its own ``head.status``.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from .codes import Code
from .params import METHODS, Method, Param

ENVELOPE_REF = {"$ref": "#/components/schemas/Envelope"}


def _param_schema(p: Param, form: bool) -> dict[str, Any]:
    s: dict[str, Any]
    if p.kind == "object":
        text = {"type": "string", "description": "JSON 文本", "maxLength": p.max_length}
        s = text if form else {"oneOf": [{"$ref": "#/components/schemas/CertificateData"}, text]}
    elif p.kind == "integer":
        s = {"type": "integer", "minimum": p.minimum, "maximum": p.maximum}
    else:
        s = {"type": "string", "maxLength": p.max_length}
        if p.enum:
            s["enum"] = list(p.enum)
        elif p.pattern:
            s["pattern"] = f"^{p.pattern}$"
    s["description"] = p.description
    if p.example is not None:
        s["example"] = p.example
    return s


def _body(m: Method) -> dict[str, Any]:
    required = [p.name for p in m.params if p.required]

    def schema(form: bool) -> dict[str, Any]:
        s: dict[str, Any] = {"type": "object", "properties": {p.name: _param_schema(p, form) for p in m.params}}
        if required:
            s["required"] = required
        return s

    return {"required": True, "content": {"application/x-www-form-urlencoded": {"schema": schema(True)},
                                          "application/json": {"schema": schema(False)}}}


def _ok(data_ref: str) -> dict[str, Any]:
    return {"allOf": [ENVELOPE_REF, {"type": "object", "properties": {
        "head": {"type": "object", "properties": {"status": {"type": "string", "enum": ["0"]}}},
        "data": {"$ref": f"#/components/schemas/{data_ref}"}}}]}


ANSWERS = {"token": "TokenData", "files": "FilesData", "data": "CertificateDataList", "verify": "VerifyData",
           "types": "TypesData", "retrieval": "RetrievalData"}


def _refusals(codes: tuple[Code, ...]) -> dict[str, Any]:
    by_http: dict[int, list[Code]] = {}
    for c in (*codes, Code.METHOD_NOT_ALLOWED):
        by_http.setdefault(c.http, []).append(c)
    out: dict[str, Any] = {}
    for http, cs in sorted(by_http.items()):
        desc = "；".join(f"{c.value} {c.message}" for c in cs)
        out[str(http)] = {"description": desc, "content": {"application/json": {"schema": ENVELOPE_REF}}}
    out["500"] = {"description": f"{Code.INTERNAL_ERROR.value} {Code.INTERNAL_ERROR.message}（不应出现）",
                  "content": {"application/json": {"schema": ENVELOPE_REF}}}
    return out


def _operation(m: Method) -> dict[str, Any]:
    responses = {"200": {"description": f"{Code.SUCCESS.value} {Code.SUCCESS.message}",
                         "content": {"application/json": {"schema": _ok(ANSWERS[m.answer])}}}}
    responses.update(_refusals(m.refusals))
    return {"operationId": m.name, "summary": f"{m.section} {m.summary}", "description": m.description,
            "tags": ["DB23/T 2836-2021 共享服务接口"], "requestBody": _body(m), "responses": responses}


def _codes_table() -> str:
    rows = "\n".join(f"| `{c.value}` | {c.http} | {c.message} |" for c in Code)
    return "| head.status | HTTP | 含义 |\n|---|---|---|\n" + rows


STR = {"type": "string"}


def _components() -> dict[str, Any]:
    surface = {"type": "object", "properties": {"name": STR, "columnName": STR, "valueType": STR, "value": STR}}
    summary_props = {k: STR for k in (
        "certificateID", "certificateType", "certificateTypeCode", "certificateName", "certificateHolder",
        "certificateHolderCode", "certificateHolderType", "issueDept", "issueDeptCode", "certificateNumber",
        "certificateIssuedDate", "certificateValidateStart", "certificateValidateEnd", "certificateAreaCode",
        "certificateStatus")}
    data_item = {"type": "object", "properties": {**summary_props, "surface": {"type": "array", "items": surface},
                                                   "detail": {"type": "array", "items": {}}}}
    file_item = {"type": "object", "properties": {k: STR for k in (
        "certificateID", "certificateType", "issueDept", "certificateNumber", "fileUrl", "fileFormat", "expiresAt")}}
    type_item = {"type": "object", "properties": {
        **{k: STR for k in ("certificateType", "certificateTypeCode", "certificateDefineAuthority",
                            "certificateDefineAuthorityCode", "certificateHolderCategory",
                            "certificateHolderCategoryName", "issueDept", "issueDeptCode")},
        "annualReview": {"type": "boolean"}, "hasLayoutFile": {"type": "boolean"},
        "surface": {"type": "array", "items": {"type": "object", "properties": {
            "name": STR, "columnName": STR, "valueType": STR, "required": {"type": "boolean"}}}}}}
    check = {"type": "object", "properties": {"name": STR, "label": STR,
                                              "result": {"type": "string", "enum": ["true", "false"]}, "detail": STR}}
    listing = lambda item: {"type": "object", "required": ["total", "dataList"], "properties": {  # noqa: E731
        "total": {"type": "integer"}, "dataList": {"type": "array", "items": item}}}
    cert_data = {"type": "object", "description": "表 11 CertificateData（重构）：证照基本信息项与照面信息项",
                 "required": ["certificateID", "certificateName", "certificateHolder", "certificateHolderCode",
                              "certificateHolderType", "certificateNumber", "certificateIssuedDate"],
                 "properties": {**{k: {"type": "string", "maxLength": 4096} for k in (
                     "certificateID", "certificateName", "certificateHolder", "certificateHolderCode",
                     "certificateHolderType", "certificateNumber", "certificateIssuedDate", "certificateTypeCode",
                     "issueDeptCode", "certificateValidateStart", "certificateValidateEnd")},
                     "surface": {"description": "照面信息项：[{columnName, value}] 或 {columnName: value}",
                                 "oneOf": [{"type": "array", "maxItems": 500, "items": {
                                     "type": "object", "required": ["columnName"],
                                     "properties": {"columnName": {"type": "string", "maxLength": 4096},
                                                    "value": {"type": "string", "maxLength": 4096}}}},
                                           {"type": "object", "maxProperties": 500,
                                            "additionalProperties": {"type": "string", "maxLength": 4096}}]}}}
    return {"schemas": {
        "Envelope": {"type": "object", "required": ["head", "data"], "properties": {
            "head": {"type": "object", "required": ["status", "message"], "properties": {
                "status": {"type": "string", "enum": [c.value for c in Code], "description": "返回码，\"0\" 为成功"},
                "message": STR}},
            "data": {"description": "成功时为各接口的数据；拒绝时为 null 或说明出错参数的对象"}}},
        "TokenData": {"type": "object", "required": ["dataList"], "properties": {
            "total": STR, "dataList": {"type": "string", "description": "AccessToken"},
            "expiresAt": {"type": "string", "description": "失效时间（当天 23:59:59，北京时间）"}}},
        "SurfaceItem": surface,
        "CertificateDataItem": data_item,
        "CertificateDataList": listing({"$ref": "#/components/schemas/CertificateDataItem"}),
        "FileItem": file_item,
        "FilesData": listing({"$ref": "#/components/schemas/FileItem"}),
        "Check": check,
        "VerifyData": {"type": "object", "required": ["verifyResult", "checks"], "properties": {
            "verifyResult": {"type": "string", "enum": ["true", "false"]}, "certificateID": STR,
            "ledgerBlock": {"type": "integer", "nullable": True},
            "checks": {"type": "array", "items": {"$ref": "#/components/schemas/Check"}}}},
        "TypeItem": type_item,
        "TypesData": listing({"$ref": "#/components/schemas/TypeItem"}),
        "RetrievalData": {"allOf": [listing({"type": "object", "properties": summary_props}), {
            "type": "object", "properties": {"pageNo": {"type": "integer"}, "pageSize": {"type": "integer"}}}]},
        "CertificateData": cert_data,
    }}


@lru_cache(maxsize=1)
def document() -> dict[str, Any]:
    """The whole OpenAPI 3.0 document (built once per process: it depends on code only)."""
    paths: dict[str, Any] = {f"/sharing/{m.name}": {"post": _operation(m)} for m in METHODS.values()}
    envelope_4xx = {"content": {"application/json": {"schema": ENVELOPE_REF}}}
    paths["/sharing/file/{name}"] = {"get": {
        "operationId": "DownloadFile", "summary": "下载签名链接所指的版式文件或图片",
        "description": "fileUrl 所指的短时有效签名链接（默认 5 分钟），绑定 AccountId：须从该账号绑定的 IP 下载，"
                       "且其用证范围仍包含该证照类型。",
        "tags": ["文件下载"],
        "parameters": [{"name": "name", "in": "path", "required": True,
                        "schema": {"type": "string", "maxLength": 1024}, "description": "签名令牌加扩展名"}],
        "responses": {
            "200": {"description": "文件", "content": {
                "application/ofd": {"schema": {"type": "string", "format": "binary"}},
                "application/pdf": {"schema": {"type": "string", "format": "binary"}},
                "image/png": {"schema": {"type": "string", "format": "binary"}}}},
            "401": {"description": f"{Code.UNKNOWN_ACCOUNT.value} {Code.UNKNOWN_ACCOUNT.message}", **envelope_4xx},
            "403": {"description": "；".join(f"{c.value} {c.message}" for c in (
                Code.LINK_INVALID, Code.ACCOUNT_NOT_APPROVED, Code.IP_NOT_ALLOWED)), **envelope_4xx},
            "404": {"description": "；".join(f"{c.value} {c.message}" for c in (
                Code.CERTIFICATE_NOT_FOUND, Code.NO_LAYOUT_FILE)), **envelope_4xx},
            "410": {"description": "；".join(f"{c.value} {c.message}" for c in (
                Code.LINK_EXPIRED, Code.CERTIFICATE_NOT_EFFECTIVE)), **envelope_4xx},
            "429": {"description": f"{Code.RATE_LIMITED.value} {Code.RATE_LIMITED.message}", **envelope_4xx},
        }}}
    paths["/sharing/openapi.json"] = {"get": {
        "operationId": "OpenAPI", "summary": "本描述文档", "tags": ["文档"],
        "responses": {"200": {"description": "OpenAPI 3.0 文档", "content": {"application/json": {"schema": {
            "type": "object"}}}}}}}
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "CertLedger 电子证照共享服务接口（DB23/T 2836-2021）",
            "version": "1.0",
            "description": (
                "DB23/T 2836-2021 第 7.3 节的共享服务接口。所有方法均为 POST，请求体为 "
                "application/x-www-form-urlencoded（附录 C 写作 x-www-form-urlencoded，两种写法均接受）或 "
                "application/json；参数名不区分大小写。应答为附录 C 的信封 "
                "`{\"head\": {\"status\", \"message\"}, \"data\"}`，`head.status` 为 \"0\" 表示成功。\n\n"
                "调用流程（7.2.2）：以 AccountId 调用 Token 获取 AccessToken（当天有效，绑定账号与访问IP），"
                "再以 AccountId、AccessToken 及业务参数调用各接口。调用方只能访问其用证申请获批的证照类型；"
                "其他证照一律答复“证照不存在或无权访问”。每次调用（成功或拒绝）均写入用证记录。请求体不超过 1 MB。\n\n"
                "附录 D 的返回码表在标准文本中未能保留，以下为本平台定义的返回码：\n\n" + _codes_table()),
        },
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": _components(),
        "x-return-codes": [{"status": c.value, "http": c.http, "message": c.message} for c in Code],
    }
