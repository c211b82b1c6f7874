"""Excel entry of certificates (证照批量导入): a template per certificate type, and its all-or-nothing import.

The template is built from the type itself: the basic data items of DB23/T 2836 B.1 first, then
the type's own fields (信息项) in display order, each headed ``名称（columnName）`` so that a field
named like a basic item, or two types with similar names, can never be confused when the file
comes back. Date columns are formatted as dates and code columns as text (so 01, long ID numbers
and leading zeros survive Excel); enum columns get a drop-down fed from the 说明 sheet, which
also explains every column.

An import goes through ``certificates.enter_many``: every row is validated before anything is
written, and a refused file raises ``CertificateImportError`` whose ``rows`` map each Excel row
number to ``{column header: problem}``. There is deliberately no example row in the template
(the matter template has one): a forgotten example certificate would be entered, reviewed and
issued like a real one, so the example lives on the 说明 sheet instead.

Uploaded bytes come from anyone with an account, so the package is checked before openpyxl
parses it (``xlsx.check_package`` with its workbook checks: size, parts, zip bombs, part names,
encryption, and the workbook's content type, so macro-enabled (.xlsm) and template (.xltx) files
are refused rather than silently read). openpyxl parses through defusedxml (installed with the
project), so XML entity tricks are refused as well.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from io import BytesIO
from typing import Any, Iterable, Iterator, Mapping

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter, quote_sheetname
from openpyxl.worksheet.datavalidation import DataValidation
from sqlalchemy.exc import IntegrityError

from . import audit, cert_types, certificates, xlsx
from .certificates import Entry
from .codes import HOLDER_TYPES
from .context import Actor
from .errors import Conflict, PermissionDenied, ValidationError
from .models import CertificateType, RoleCode, TypeField, ValueType
from .unit_of_work import UnitOfWork

SHEET = "证照数据"
HELP_SHEET = "说明"
MAX_BYTES = 20 * 1024 * 1024
MAX_ROWS = 10_000
MAX_UNCOMPRESSED = 200 * 1024 * 1024  # 10,000 rows of long texts stay well below this once inflated
MAX_ENTRIES = 300                     # a workbook has a few dozen parts; Excel adds some for styles and themes
EXCEL_MAX_ROW = 1_048_576
# numbers beyond this many digits are refused before Decimal -> int conversion (see ``oversized_numbers``)
MAX_NUMBER_DIGITS = 64


@dataclass(frozen=True)
class BasicColumn:
    """One basic data item (B.1) as a template column."""

    key: str            # the entry key of ``certificates.validate_basic``
    label: str          # the header shown in the template
    required: bool
    kind: str           # "text", "code" (kept as typed: text format) or "date"
    hint: str


BASIC_COLUMNS: tuple[BasicColumn, ...] = (
    BasicColumn("name", "证照名称", False, "text", "留空时为证照类型名称"),
    BasicColumn("holder", "持证主体", True, "text", "持证单位或个人的名称，最多 256 个字符"),
    BasicColumn("holder_code", "持证主体代码", True, "code",
                "统一社会信用代码（18 位）或公民身份号码等，须与持证主体代码类型一致"),
    BasicColumn("holder_type", "持证主体代码类型", False, "code", "下拉选择代码；留空时为证照类型的默认类型"),
    BasicColumn("number", "证照编号", True, "code", "同一证照类型内不能重复，最多 128 个字符"),
    BasicColumn("issue_date", "证照颁发日期", False, "date", "日期，如 2024-03-01；留空时为导入当天"),
    BasicColumn("valid_from", "证照有效期起始日期", False, "date", "日期，如 2024-03-01"),
    BasicColumn("valid_to", "证照有效期截止日期", False, "date", "日期，不得早于起始日期；长期有效可留空"),
    BasicColumn("area_code", "证照所属管辖属地代码", False, "code", "六位行政区划代码；留空时为本部门所在地"),
    BasicColumn("matter_code", "关联事项代码", False, "code", "须是发放此类证照的事项；可留空"),
)
REVIEW_COLUMN = BasicColumn("next_review_due", "下次年审日期", False, "date", "日期；留空时按年审周期自动计算")
CODE_TYPES = (ValueType.ID_NUMBER, ValueType.USCC)  # text-formatted: 18 digits do not survive as a number
REQUEST_KEYS = ("type_id", "entries")  # problems enter_many reports about the request, not a row
_FIELD_HEADER = re.compile(r"^(?P<name>.*?)\s*[（(]\s*(?P<column>[A-Za-z][A-Za-z0-9_]*)\s*[）)]$")


@dataclass(frozen=True)
class ImportReport:
    created: int
    rows: int                                    # data rows read (blank rows not counted)
    identifiers: list[str] = field(default_factory=list)


class CertificateImportError(ValidationError):
    """A refused file: ``rows`` maps Excel row number -> {column header: problem}; nothing was stored.

    ``errors`` holds the same problems flattened as ``row N: header`` (what the CLI prints and the
    error report lists), so callers that know only ``ValidationError`` still show every problem.
    """

    def __init__(self, rows: dict[int, dict[str, str]], total_rows: int) -> None:
        self.rows = rows
        flat = {f"row {r}: {col}": msg for r, cols in sorted(rows.items()) for col, msg in cols.items()}
        first_key, first = next(iter(flat.items()))
        super().__init__(flat, message=f"{len(rows)} of {total_rows} rows have problems, nothing was imported "
                                       f"(first: {first_key}: {first})")


def basic_columns(ctype: CertificateType) -> list[BasicColumn]:
    """The basic items of this type; the annual-review date only where the type has annual review."""
    return [*BASIC_COLUMNS, REVIEW_COLUMN] if ctype.annual_review else list(BASIC_COLUMNS)


def field_header(f: TypeField) -> str:
    """A custom field's header: its name and, in brackets, its column name (the key read back)."""
    return f"{f.name}（{f.column_name}）"


def _ordered_fields(ctype: CertificateType) -> list[TypeField]:
    return sorted(ctype.fields, key=lambda f: (f.display_order, f.id or 0))


# --- the template ------------------------------------------------------------------------------

def build_template(ctype: CertificateType) -> bytes:
    """The workbook offered for download: one header row, typed columns, and the 说明 sheet."""
    basics, fields = basic_columns(ctype), _ordered_fields(ctype)
    wb = Workbook()
    ws = wb.active
    ws.title = SHEET
    headers = [b.label + ("*" if b.required else "") for b in basics]
    headers += [field_header(f) + ("*" if f.required else "") for f in fields]
    ws.append(headers)
    for cell in ws[1]:
        cell.font = Font(bold=True)
    ws.freeze_panes = "A2"

    help_ws = wb.create_sheet(HELP_SHEET)
    lines = [
        f"{ctype.name}（证照类型代码 {ctype.code}）批量导入说明",
        f"1. 请在“{SHEET}”工作表中从第 2 行起每行填写一本证照，不要修改或删除第 1 行的列名；列的先后顺序可以调整。",
        "2. 带 * 的列必须填写；日期列请填写日期（如 2024-03-01，也可写 2024年3月1日）。",
        "3. 代码类的列（持证主体代码、证照编号等）已设为文本格式，请勿改为数值，以免丢失前导 0 或末位数字。",
        "4. 整个文件要么全部导入，要么全部不导入：有任何错误时不导入任何一行，请按错误报告（行号、列、问题）修改后重新导入。",
        f"5. 文件须为 .xlsx 格式（不接受 .xls、.xlsm 或 .csv），不超过 {MAX_BYTES // (1024 * 1024)} MB，"
        f"最多 {MAX_ROWS} 行证照；空行忽略。",
        "6. 导入的证照为草稿状态，提交审核后才会进入签发流程。",
        "示例（请勿填入数据表）：持证主体 哈尔滨某某科技有限公司，持证主体代码 91230100MA1B2C3D49，持证主体代码类型 01，"
        "证照编号 91230100MA1B2C3D49，证照颁发日期 2024-03-01。",
        "",
    ]
    for line in lines:
        help_ws.append([line])
    help_ws["A1"].font = Font(bold=True)
    help_ws.append(["列名", "必填", "填写说明"])
    table_row = help_ws.max_row
    for cell in help_ws[table_row]:
        cell.font = Font(bold=True)
    for b in basics:
        help_ws.append([b.label, "是" if b.required else "否", b.hint])
    for f in fields:
        help_ws.append([field_header(f), "是" if f.required else "否", _field_hint(f)])
    for letter, width in zip("ABC", (36, 8, 90)):
        help_ws.column_dimensions[letter].width = width

    # choice lists on the 说明 sheet (from column E, level with the column table so the instructions
    # above keep their width), each feeding the drop-down of its column
    choice_col = 5
    last_row = MAX_ROWS + 1
    columns: list[tuple[str, str, str, list[str] | None]] = [
        (b.kind, b.key, b.label, sorted(HOLDER_TYPES) if b.key == "holder_type" else None) for b in basics]
    columns += [(_field_kind(f), f.column_name, field_header(f),
                 list(f.options or []) if f.value_type is ValueType.ENUM else None) for f in fields]
    for i, (kind, key, label, choices) in enumerate(columns, start=1):
        letter = get_column_letter(i)
        dim = ws.column_dimensions[letter]
        dim.width = max(12, min(40, len(label) * 2 + 4))
        if kind == "date":
            dim.number_format = "yyyy-mm-dd"
        elif kind == "code":
            dim.number_format = "@"
        if choices:
            help_ws.cell(table_row, choice_col, label).font = Font(bold=True)
            first = table_row + 1
            for r, choice in enumerate(choices, start=first):
                help_ws.cell(r, choice_col, choice).number_format = "@"
            c_letter = get_column_letter(choice_col)
            if i <= len(basics) and key == "holder_type":  # the codes' meanings beside them
                for r, code in enumerate(choices, start=first):
                    help_ws.cell(r, choice_col + 1, HOLDER_TYPES[code])
                choice_col += 1
            last = first + len(choices) - 1
            dv = DataValidation(type="list", allow_blank=True, showErrorMessage=True,
                                formula1=f"{quote_sheetname(HELP_SHEET)}!${c_letter}${first}:${c_letter}${last}",
                                errorTitle="取值不在选项内", error=f"{label}：请从下拉列表中选择")
            dv.add(f"{letter}2:{letter}{last_row}")
            ws.add_data_validation(dv)
            help_ws.column_dimensions[get_column_letter(choice_col)].width = 24
            choice_col += 1
    out = BytesIO()
    wb.save(out)
    return out.getvalue()


def _field_kind(f: TypeField) -> str:
    if f.value_type is ValueType.DATE:
        return "date"
    if f.value_type in CODE_TYPES:
        return "code"
    return "text"


def _field_hint(f: TypeField) -> str:
    vt = f.value_type
    if vt is ValueType.DATE:
        return "日期，如 2024-03-01"
    if vt is ValueType.NUMBER:
        return "数字"
    if vt is ValueType.ENUM:
        return "下拉选择：" + "、".join(f.options or [])
    if vt is ValueType.ID_NUMBER:
        return "18 位公民身份号码"
    if vt is ValueType.USCC:
        return "18 位统一社会信用代码"
    if vt is ValueType.IMAGE:
        return "图片：已上传文件的引用（file:…）或 PNG/JPEG 的 data URI"
    if vt is ValueType.TEXT:
        return f"多行文字，最多 {max(f.max_length, 4000)} 个字符"
    return f"单行文字，最多 {f.max_length} 个字符"


def template_for(uow: UnitOfWork, actor: Actor, type_id: int) -> bytes:
    """The template of a type of the actor's own department (admins: any type of the tenant).

    Types are readable tenant-wide (catalogs describe them), but entry belongs to the owning
    department, so its template is handed out on the same terms as entry itself.
    """
    return build_template(_own_type(uow, actor, type_id))


def _own_type(uow: UnitOfWork, actor: Actor, type_id: int) -> CertificateType:
    actor.require(RoleCode.CLERK, RoleCode.DEPT_ADMIN)
    t = cert_types.get(uow, actor, type_id)
    if not actor.is_admin and t.department_id != actor.department_id:
        raise PermissionDenied("certificates are entered by the department that owns the type")
    return t


# --- reading a filled template -----------------------------------------------------------------

def check_package(data: bytes, max_bytes: int = MAX_BYTES) -> None:
    """Refuse what is not a small, sane, macro-free .xlsx before any of its XML is parsed."""
    xlsx.check_package(data, max_bytes=max_bytes, max_entries=MAX_ENTRIES, max_uncompressed=MAX_UNCOMPRESSED)


def _date_cell(value: Any) -> Any:
    """Dates stay dates (datetime is cut to its day: the columns are calendar dates); anything else as text."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return xlsx.text(value)


def _resolve_headers(ctype: CertificateType, header: list[str]) -> dict[int, tuple[str, str, str]]:
    """Position -> (kind, key, label) for each header cell; unknown, duplicate and missing columns refused.

    Accepted spellings: the template's own header, for a basic item its standard interface name
    (certificateHolder, ...), for a field its column name or, when no basic item has that name,
    its bare name.
    """
    basics, fields = basic_columns(ctype), _ordered_fields(ctype)
    api_names = {v: k for k, v in certificates.API_NAMES.items()}
    by_text: dict[str, tuple[str, str, str]] = {}
    for b in basics:
        by_text[b.label] = ("basic", b.key, b.label)
        if b.key in api_names:
            by_text[api_names[b.key]] = ("basic", b.key, b.label)
    by_column = {f.column_name.lower(): f for f in fields}
    for f in fields:
        by_text.setdefault(f.name, ("field", f.column_name, field_header(f)))
    out: dict[int, tuple[str, str, str]] = {}
    unknown, seen = [], {}
    for pos, raw in enumerate(header):
        text = raw.strip().rstrip("*＊").strip()
        if not text:
            continue
        m = _FIELD_HEADER.match(text)
        f = by_column.get(m["column"].lower()) if m else by_column.get(text.lower())
        target = ("field", f.column_name, field_header(f)) if f is not None else by_text.get(text)
        if target is None:
            unknown.append(text)
            continue
        if target[1:] in seen:
            raise xlsx.refuse(f"the column {target[2]} appears twice in the first row")
        seen[target[1:]] = pos
        out[pos] = target
    if unknown:
        raise xlsx.refuse(f"the first row has columns this certificate type does not have: {'、'.join(unknown)}; "
                          f"download the template of {ctype.name} and keep its header row")
    present = {key for _, key, _ in out.values()}
    missing = [b.label for b in basics if b.required and b.key not in present]
    missing += [field_header(f) for f in fields if f.required and f.column_name not in present]
    if missing:
        raise xlsx.refuse(f"the first row lacks the columns {'、'.join(missing)}; "
                          "download the template and keep its header row")
    return out


@dataclass(frozen=True)
class _Row:
    excel_row: int
    entry: Entry


def read_rows(ctype: CertificateType, data: bytes, max_rows: int = MAX_ROWS) -> list[_Row]:
    """The data rows of a filled template as entries, with their Excel row numbers; blank rows left out."""
    with xlsx.open_sheet(data, SHEET) as ws:
        ws.reset_dimensions()  # some writers declare <dimension ref="A1"/>: read the rows that are there
        header_row = next(ws.iter_rows(min_row=1, max_row=1, values_only=True), ())
        columns = _resolve_headers(ctype, [xlsx.text(v) for v in header_row])
        width = max(columns) + 1 if columns else 1
        dates = {f.column_name for f in ctype.fields if f.value_type is ValueType.DATE}
        date_items = {b.key for b in basic_columns(ctype) if b.kind == "date"}
        rows: list[_Row] = []
        it: Iterator[tuple[Any, ...]] = ws.iter_rows(min_row=2, max_col=width, values_only=True)
        for excel_row, values in enumerate(it, start=2):
            if excel_row > EXCEL_MAX_ROW:
                # openpyxl fills the gap before a row numbered 999999999 with empty rows, one by one
                raise xlsx.refuse(f"row numbers beyond {EXCEL_MAX_ROW}, the last row of an Excel sheet")
            if all(v is None for v in values):
                continue  # the cheap test first: gaps between rows come back as all-None rows
            basic: dict[str, Any] = {}
            custom: dict[str, Any] = {}
            for pos, (kind, key, _label) in columns.items():
                raw = values[pos] if pos < len(values) else None
                if kind == "basic":
                    value = _date_cell(raw) if key in date_items else xlsx.text(raw)
                    if key == "holder_type" and isinstance(value, str) and value.isdigit() and len(value) == 1:
                        value = value.zfill(2)  # "01" typed into a general cell comes back as 1
                    target = basic
                else:
                    value = _date_cell(raw) if key in dates else xlsx.text(raw)
                    if isinstance(value, date):
                        value = value.isoformat()
                    target = custom
                if value not in ("", None):
                    target[key] = value
            if not basic and not custom:
                continue
            if len(rows) == max_rows:
                raise xlsx.too_many_rows(max_rows)
            rows.append(_Row(excel_row, Entry(basic, custom)))
    if not rows:
        raise xlsx.refuse("the file has no certificates to import (only the header row)")
    return rows


def oversized_numbers(fields: Iterable[TypeField], values: Mapping[str, Any]) -> dict[str, str]:
    """Number-field values too large to be normalised safely, by column name.

    ``field_values.normalise`` turns an integral Decimal into ``int``: "1e999999" then costs half a
    minute of CPU and "1e99999999" gigabytes of memory. Entry points that take values from
    outside screen them with this first, until the normaliser bounds exponents itself.
    """
    out: dict[str, str] = {}
    for f in fields:
        if f.value_type is not ValueType.NUMBER or f.column_name not in values:
            continue
        raw = values[f.column_name]
        if isinstance(raw, (int, float)) and not isinstance(raw, bool):
            raw = repr(raw)
        text = str(raw).strip() if raw is not None else ""
        if len(text) > 2 * MAX_NUMBER_DIGITS:
            out[f.column_name] = f"{f.name}: at most {MAX_NUMBER_DIGITS} digits"
            continue
        try:
            num = Decimal(text)
        except InvalidOperation:
            continue  # not a number at all: the normaliser says so in its own words
        if num.is_finite() and num != 0 and abs(num.adjusted()) > MAX_NUMBER_DIGITS:
            out[f.column_name] = f"{f.name}: at most {MAX_NUMBER_DIGITS} digits"
    return out


def is_field_problem(fields_by_column: Mapping[str, TypeField], key: str, message: str) -> bool:
    """Whether a problem ``enter_many`` reports under ``key`` is about the type's field of that column.

    Its keys are flat: a field's column name may equal a basic item's key (the business licence
    has a field ``name``; nothing stops a column ``holder``), and then both problems share one
    key. The field's messages always begin with the field's name (``validate_values``), the
    basic item's never do, which tells them apart.
    """
    f = fields_by_column.get(key)
    if f is None:
        return False
    return key not in certificates.BASIC_KEYS or message.startswith(f.name)


def _label(ctype: CertificateType, by_column: Mapping[str, TypeField], key: str, message: str) -> str:
    """The header the person sees for a problem, so the report names the column to fix."""
    if is_field_problem(by_column, key, message):
        return field_header(by_column[key])
    return next((b.label for b in basic_columns(ctype) if b.key == key), key)


def _split_key(key: str, n: int) -> tuple[int | None, str]:
    """``row 3: holder`` -> (3, "holder"); an unprefixed key of a one-row batch belongs to row 1."""
    where, sep, rest = key.partition(": ")
    if sep and where.startswith("row ") and where[4:].isdigit():
        return int(where[4:]), rest
    return (1, key) if n == 1 else (None, key)


def import_certificates(uow: UnitOfWork, actor: Actor, type_id: int, data: bytes, max_bytes: int = MAX_BYTES,
                        max_rows: int = MAX_ROWS) -> ImportReport:
    """Enter every row of a filled template as a draft certificate, or none of them.

    The roles and the department are checked before the file is opened, so a stranger learns
    nothing about how it would have been read; the rows then go through ``enter_many`` in one
    call, which validates all of them before writing and audits the batch. The caller commits.
    """
    t = _own_type(uow, actor, type_id)
    check_package(data, max_bytes)
    rows = read_rows(t, data, max_rows)
    problems: dict[int, dict[str, str]] = {}
    fields = list(t.fields)
    by_column = {f.column_name: f for f in fields}
    entries = []
    for r in rows:
        entry = r.entry
        too_big = oversized_numbers(fields, entry.values)
        if too_big:  # reported, and kept away from the normaliser; the other rows are still checked
            problems[r.excel_row] = {field_header(by_column[col]): msg for col, msg in too_big.items()}
            entry = Entry(entry.basic, {k: v for k, v in entry.values.items() if k not in too_big})
        entries.append(entry)
    savepoint = uow.session.begin_nested()  # so a refusal leaves the caller's transaction as it was
    try:
        certs = certificates.enter_many(uow, actor, t.id, entries)
    except ValidationError as exc:
        savepoint.rollback()
        file_level: dict[str, str] = {}
        for key, msg in exc.errors.items():
            index, col = _split_key(key, len(rows))
            if key in REQUEST_KEYS or index is None or not 1 <= index <= len(rows):
                file_level[key] = msg
                continue
            problems.setdefault(rows[index - 1].excel_row, {}).setdefault(_label(t, by_column, col, msg), msg)
        if file_level:
            raise ValidationError(file_level) from None
        raise CertificateImportError(problems, len(rows)) from None
    except IntegrityError:
        savepoint.rollback()
        # the database's own uniqueness check (e.g. a number of a revoked certificate, or a
        # concurrent import of the same numbers): nothing was stored
        raise Conflict("a certificate number in the file is already used by a certificate of this type "
                       "(possibly revoked or entered at the same time); nothing was imported") from None
    except BaseException:
        savepoint.rollback()
        raise
    if problems:
        savepoint.rollback()
        raise CertificateImportError(problems, len(rows))
    savepoint.commit()
    audit.record(uow.session, actor, "certificate.import", "certificate_type", t.id, created=len(certs),
                 rows=len(rows))
    return ImportReport(created=len(certs), rows=len(rows), identifiers=[c.identifier for c in certs])


def error_report(errors: Mapping[str, str]) -> bytes:
    """The problems as a workbook (行号, 列, 问题), for the person to fix their file with."""
    return xlsx.error_report(errors, column_width=30)
