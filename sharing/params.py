"""The interface's methods and their request parameters: one definition for parsing and for OpenAPI.

The tables of DB23/T 2836-2021 section 7.3 lost their column names in our copy; what survived is
each method's name, its description, the required flags of every row (是/否) and the JSON answers
of appendix C. The parameter names below are reconstructed from those and from the standard's
flow text (AccountId, AccessToken) in the standard's spelling (UpperCamelCase); the OpenAPI
description (``sharing.openapi``) is built from these same objects, so what is documented is what
is parsed. Names are matched case-insensitively (``accountId`` is AccountId), because clients of
other provinces' interfaces spell them either way.

Every value is checked against a pattern before it reaches a query, so an injection string,
a path (``../``), markup or a control character is a ``1002`` refusal, not a lookup.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Callable, Mapping

from issuance import identifiers
from issuance.field_values import parse_date

from .codes import Code


class ParamError(Exception):
    """A parameter is missing or malformed: answered with ``code`` and the parameter named."""

    def __init__(self, code: Code, name: str, detail: str) -> None:
        super().__init__(f"{name}: {detail}")
        self.code, self.name, self.detail = code, name, detail


@dataclass(frozen=True)
class Param:
    """One request parameter: its name as the standard spells it, its check, its documentation."""

    name: str
    description: str
    required: bool = True
    pattern: str | None = None
    max_length: int = 64
    kind: str = "string"            # string | integer | date | object
    minimum: int | None = None
    maximum: int | None = None
    enum: tuple[str, ...] | None = None
    example: Any = None
    check: Callable[[str], Any] | None = None   # a further check; raises ValueError with a reason

    def parse(self, raw: Any) -> Any:
        """The checked value of ``raw`` (a form string or a JSON value); ParamError when unusable."""
        if self.kind == "object":
            return raw  # CertificateData: parsed by its own reader (``verify_data_of``)
        if isinstance(raw, bool) or not isinstance(raw, (str, int)):
            raise ParamError(Code.BAD_PARAMETER, self.name, "应为字符串")
        text = str(raw).strip()
        if len(text) > self.max_length:
            raise ParamError(Code.BAD_PARAMETER, self.name, f"长度不能超过 {self.max_length}")
        if self.kind == "integer":
            if not re.fullmatch(r"[0-9]{1,9}", text):
                raise ParamError(Code.BAD_PARAMETER, self.name, "应为正整数")
            value = int(text)
            if (self.minimum is not None and value < self.minimum) or (self.maximum is not None and value > self.maximum):
                raise ParamError(Code.BAD_PARAMETER, self.name, f"取值范围 {self.minimum}-{self.maximum}")
            return value
        if self.enum is not None and text not in self.enum:
            raise ParamError(Code.BAD_PARAMETER, self.name, f"取值为 {'、'.join(self.enum)} 之一")
        if self.pattern is not None and not re.fullmatch(self.pattern, text):
            raise ParamError(Code.BAD_PARAMETER, self.name, "格式不正确")
        if self.kind == "date":
            try:
                return parse_date(text)
            except ValueError:
                raise ParamError(Code.BAD_PARAMETER, self.name, "应为日期，如 2024-03-01 或 2024年3月1日") from None
        if self.check is not None:
            try:
                return self.check(text)
            except ValueError as exc:
                raise ParamError(Code.BAD_PARAMETER, self.name, str(exc)) from None
        return text


def _identifier(text: str) -> str:
    try:
        return str(identifiers.parse(text))
    except identifiers.IdentifierError:
        raise ValueError("不是有效的电子证照标识（GB/T 36904）") from None


# --- the parameters -------------------------------------------------------------------------------

CN_DATE = r"[0-9]{4}(-[0-9]{2}-[0-9]{2}|年[0-9]{1,2}月[0-9]{1,2}日)"

ACCOUNT_ID = Param("AccountId", "账号：电子证照管理部门审核通过业务系统后分配的唯一账号（绑定访问IP地址）",
                   pattern=r"[0-9A-Za-z_\-]{1,64}", check=lambda s: s.upper(), example="B76945CD70DE62848CF777C879C2CBCA")
ACCESS_TOKEN = Param("AccessToken", "访问令牌：Token 接口返回，当天有效，绑定账号与访问IP地址",
                     pattern=r"[0-9A-Za-z_\-.]{1,512}", max_length=512)
CERTIFICATE_ID = Param("CertificateID", "电子证照标识（GB/T 36904，如 1.2.156.3005.2.<类型代码>.<颁发机构代码>.<序号>.<版本>.<校验位>）",
                       pattern=r"[0-9A-Za-z.]{1,160}", max_length=160, check=_identifier,
                       example="1.2.156.3005.2.11100000000013338W032.11230100MB0000001X.0000001.001.T")
HOLDER_CODE = Param("CertificateHolderCode", "持证主体代码（统一社会信用代码、公民身份号码等）",
                    pattern=r"[0-9A-Za-z\-()]{1,64}", check=lambda s: s.upper(), example="91230199MA1BXXXX0E")
HOLDER_TYPE = Param("CertificateHolderType", "持证主体代码类型（附录 A.2，如 01 统一社会信用代码、10 公民身份号码）",
                    required=False, pattern=r"[0-9]{2}", max_length=2, example="01")
TYPE_CODE = Param("CertificateType", "证照类型代码（见 GetCertificateType）", pattern=r"[0-9A-Za-z_\-.]{1,64}",
                  check=lambda s: s.upper(), example="11100000000013338W032")
TYPE_CODE_OPTIONAL = Param(TYPE_CODE.name, "证照类型代码；给出时须与证照标识所属类型一致", required=False,
                           pattern=TYPE_CODE.pattern, check=TYPE_CODE.check, example=TYPE_CODE.example)
NUMBER = Param("CertificateNumber", "证照编号：给出时只返回该编号的证照", required=False,
               pattern=r"[^\x00-\x1f\x7f<>'\";\\]{1,128}", max_length=128)
FILE_FORMAT = Param("FileFormat", "版式文件格式：ofd（默认，带电子签章）或 pdf（带 PAdES 签名）", required=False,
                    enum=("ofd", "pdf"), max_length=3)
CERTIFICATE_DATA = Param("CertificateData", "待验证的证照数据（表 11）：JSON 对象，表单提交时为 JSON 字符串",
                         kind="object", max_length=256 * 1024)
ISSUE_DEPT_CODE = Param("IssueDeptCode", "颁发机构代码", required=False, pattern=r"[0-9A-Za-z]{1,32}", max_length=32,
                        check=lambda s: s.upper())
HOLDER_CODE_OPTIONAL = Param(HOLDER_CODE.name, "持证主体代码", required=False, pattern=HOLDER_CODE.pattern,
                             check=HOLDER_CODE.check)
ISSUE_DATE_START = Param("IssueDateStart", "颁发日期起（含），如 2024-03-01 或 2024年3月1日", required=False, kind="date",
                         pattern=CN_DATE, max_length=12)
ISSUE_DATE_END = Param("IssueDateEnd", "颁发日期止（含）", required=False, kind="date", pattern=CN_DATE, max_length=12)
PAGE_NO = Param("PageNo", "页码，从 1 开始（默认 1）", required=False, kind="integer", minimum=1, maximum=100_000,
                max_length=9, example=1)
PAGE_SIZE = Param("PageSize", "每页条数（默认 20，最多 100）", required=False, kind="integer", minimum=1, maximum=100,
                  max_length=3, example=20)

AUTH = (ACCOUNT_ID, ACCESS_TOKEN)
BY_HOLDER = (*AUTH, HOLDER_CODE, HOLDER_TYPE, TYPE_CODE, NUMBER)
BY_ID = (*AUTH, CERTIFICATE_ID, TYPE_CODE_OPTIONAL)


@dataclass(frozen=True)
class Method:
    """One method of section 7.3: its URL name, what it answers, which parameters it takes."""

    name: str
    section: str
    summary: str
    params: tuple[Param, ...]
    answer: str                       # which answer schema of ``sharing.openapi`` it returns
    description: str = ""
    needs_token: bool = True
    refusals: tuple[Code, ...] = field(default=())


_COMMON = (Code.MISSING_PARAMETER, Code.BAD_PARAMETER, Code.MALFORMED_BODY, Code.BODY_TOO_LARGE,
           Code.UNSUPPORTED_MEDIA_TYPE, Code.RATE_LIMITED, Code.UNKNOWN_ACCOUNT, Code.ACCOUNT_NOT_APPROVED,
           Code.IP_NOT_ALLOWED)
_TOKEN = (Code.TOKEN_MISSING, Code.TOKEN_INVALID, Code.TOKEN_EXPIRED, Code.TOKEN_OTHER_IP)
_CERT = (Code.NO_USAGE_RIGHT, Code.CERTIFICATE_NOT_FOUND, Code.CERTIFICATE_NOT_EFFECTIVE)

METHODS: dict[str, Method] = {m.name: m for m in (
    Method("Token", "7.3.1", "Token 获取服务", (ACCOUNT_ID,), "token", needs_token=False, refusals=_COMMON,
           description="以账号 AccountId 和访问IP地址换取访问令牌 AccessToken；令牌当天（北京时间）有效，绑定账号与访问IP。"),
    Method("GetCertificateFileByHolder", "7.3.2", "基于证照持有主体代码下载服务", (*BY_HOLDER, FILE_FORMAT), "files",
           refusals=_COMMON + _TOKEN + _CERT + (Code.NO_LAYOUT_FILE,),
           description="持证主体在该证照类型下的有效证照的版式文件下载地址（短时有效的签名链接）。"),
    Method("GetCertificateFileByCertificateID", "7.3.3", "基于证照标识下载服务", (*BY_ID, FILE_FORMAT), "files",
           refusals=_COMMON + _TOKEN + _CERT + (Code.NO_LAYOUT_FILE,),
           description="一份有效证照的版式文件下载地址（短时有效的签名链接）。"),
    Method("GetCertificateDataByHolder", "7.3.4", "基于证照持有主体代码信息获取服务", BY_HOLDER, "data",
           refusals=_COMMON + _TOKEN + _CERT,
           description="持证主体在该证照类型下的有效证照的数据（基本信息与照面信息项 surface）。"),
    Method("GetCertificateDataByCertificateID", "7.3.5", "基于证照标识信息获取服务", BY_ID, "data",
           refusals=_COMMON + _TOKEN + _CERT,
           description="一份有效证照的数据（基本信息与照面信息项 surface）。"),
    Method("VerifyCertificate", "7.3.6", "电子证照信息验证服务", (*AUTH, TYPE_CODE_OPTIONAL, CERTIFICATE_DATA), "verify",
           refusals=_COMMON + _TOKEN + (Code.NO_USAGE_RIGHT,),
           description="以所示证照数据（表 11）重新计算摘要，核对账本上的锚定记录、签发机构授权、证照状态、有效期与年审；"
                       "verifyResult 为 \"true\" 当且仅当每项检查都通过，checks 列出每项检查。"),
    Method("GetCertificatePictureByCertificateID", "7.3.7", "基于证照标识下载已转为图片的证照文件服务", BY_ID, "files",
           refusals=_COMMON + _TOKEN + _CERT + (Code.NO_LAYOUT_FILE,),
           description="一份有效证照的照面图片（PNG，加盖印章图样与防伪二维码）下载地址。"),
    Method("GetCertificatePictureByHolder", "7.3.8", "基于证照持有主体代码下载已转为图片的证照文件服务", BY_HOLDER, "files",
           refusals=_COMMON + _TOKEN + _CERT + (Code.NO_LAYOUT_FILE,),
           description="持证主体在该证照类型下的有效证照的照面图片（PNG）下载地址。"),
    Method("GetCertificateType", "7.3.9", "证照类型获取服务", AUTH, "types", refusals=_COMMON + _TOKEN,
           description="调用方已获批用证的证照类型及其信息项。"),
    Method("Retrieval", "7.3.10", "证照检索服务",
           (*AUTH, TYPE_CODE, HOLDER_CODE_OPTIONAL, ISSUE_DEPT_CODE, ISSUE_DATE_START, ISSUE_DATE_END, PAGE_NO, PAGE_SIZE),
           "retrieval", refusals=_COMMON + _TOKEN + (Code.NO_USAGE_RIGHT,),
           description="按证照类型检索已签发的证照（可按持证主体代码、颁发机构代码、颁发日期筛选），分页返回，含证照状态。"),
)}


def parse_params(params: tuple[Param, ...], body: Mapping[str, Any]) -> dict[str, Any]:
    """``params`` from a parsed body: checked, by name; absent optional ones are None.

    Unknown parameters are ignored (a client may send more than we read, as with other
    provinces' interfaces); the first missing or malformed one is reported.
    """
    lowered = {str(k).lower(): v for k, v in body.items()}
    out: dict[str, Any] = {}
    for p in params:
        raw = lowered.get(p.name.lower())
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            if p.required:
                raise ParamError(Code.MISSING_PARAMETER, p.name, "必填")
            out[p.name] = None
            continue
        out[p.name] = p.parse(raw)
    return out


def day_range_ok(start: date | None, end: date | None) -> None:
    if start and end and end < start:
        raise ParamError(Code.BAD_PARAMETER, ISSUE_DATE_END.name, "早于 IssueDateStart")
