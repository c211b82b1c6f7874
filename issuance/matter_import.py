"""Excel import of matters (事项批量导入): download the template, fill it in, import all rows or none.

The seed's flow is 批量导入 → 下载Excel模板 → fill in → upload → 确定导入. An admin may fill in any
department of the tenant; a department user only their own (the rule of ``matters.create``).

Uploaded bytes come from anyone with an account, so the file is checked as a zip *before* openpyxl
sees it (``xlsx.check_package``): its size, its number of entries, the total size its entries declare
once uncompressed (which stops zip bombs), entry names, and that it has a worksheet. Whatever is
wrong with the file comes back as a ``ValidationError`` with the key ``file``, never a traceback.
Every row is then validated before anything is written: each row's problems are collected under
keys like ``row 5: code`` (the row number Excel shows) and, if there is any, nothing is imported.
``error_report`` turns those problems into a workbook to download.
"""

from __future__ import annotations

from dataclasses import dataclass
from io import BytesIO
from typing import Any, Iterator

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from sqlalchemy import select

from . import audit, matters, xlsx
from .context import Actor
from .errors import ValidationError
from .models import Department, RoleCode
from .unit_of_work import UnitOfWork

SHEET = "事项"
HELP_SHEET = "说明"
# (header shown in the template, key); the order is the template's column order
TEMPLATE_COLUMNS: list[tuple[str, str]] = [
    ("事项编码", "code"),
    ("事项名称", "name"),
    ("事项类别", "category"),
    ("设定依据", "basis"),
    ("事项描述", "description"),
    ("所属部门编码", "department_code"),
]
REQUIRED = frozenset({"code", "name"})  # department_code is required only for an admin without a department
HEADERS = {key: header for header, key in TEMPLATE_COLUMNS}
# A row whose code starts with one of these (case-insensitive) is the template's example: skipped.
EXAMPLE_MARKS = ("示例", "EXAMPLE")
EXAMPLE_ROW = ["示例-230100-XK-001", "企业设立登记（示例行，导入时忽略）", "行政许可",
               "《中华人民共和国公司法》", "示例：本行不会导入，可删除", "11230100MB0000001X"]
MAX_BYTES = 5 * 1024 * 1024
MAX_UNCOMPRESSED = 50 * 1024 * 1024  # an .xlsx of 5000 rows is far below this once inflated
MAX_ENTRIES = 200                    # a workbook has a few dozen parts at most
MAX_ROWS = 5000


@dataclass(frozen=True)
class ImportReport:
    created: int
    rows: int  # data rows read (example and blank rows not counted)


def build_template() -> bytes:
    """The workbook offered as 下载Excel模板: header, one skipped example row, and instructions."""
    wb = Workbook()
    ws = wb.active
    ws.title = SHEET
    ws.append([f"{h}*" if key in REQUIRED else h for h, key in TEMPLATE_COLUMNS])
    for cell in ws[1]:
        cell.font = Font(bold=True)
    ws.append(EXAMPLE_ROW)
    for cell in ws[2]:
        cell.font = Font(italic=True, color="808080")
    ws.freeze_panes = "A2"
    for i, ((_, key), width) in enumerate(zip(TEMPLATE_COLUMNS, (24, 36, 14, 30, 40, 24)), start=1):
        letter = get_column_letter(i)
        ws.column_dimensions[letter].width = width
        if key in ("code", "department_code"):
            # text format, so Excel keeps leading zeros and long digit strings of codes as typed
            ws.column_dimensions[letter].number_format = "@"
    help_ws = wb.create_sheet(HELP_SHEET)
    for line in (
        "事项批量导入说明",
        "1. 请在“事项”工作表中从第 3 行起逐行填写，不要修改第 1 行的列名。",
        "2. 带 * 的列必须填写：事项编码、事项名称。",
        "3. 事项编码：1-64 位字母、数字或 _ . -，在本平台内不能与已有事项或本文件中其他行重复。",
        "4. 事项名称最多 256 个字符，事项类别最多 64 个字符。",
        "5. 所属部门编码填写部门的发证机构代码（统一社会信用代码）：部门用户可留空（默认本部门），且只能填写本部门；"
        "管理员可填写本租户任意部门，未切换到某一部门时必须填写。",
        f"6. 事项编码以“{EXAMPLE_MARKS[0]}”或“{EXAMPLE_MARKS[1]}”开头的行为示例行，导入时忽略；空行忽略。",
        f"7. 文件不超过 {MAX_BYTES // (1024 * 1024)} MB，最多 {MAX_ROWS} 行事项。",
        "8. 整个文件要么全部导入，要么全部不导入：有任何错误时不会导入任何一行，"
        "请按错误报告逐行修改后重新导入。",
    ):
        help_ws.append([line])
    help_ws["A1"].font = Font(bold=True)
    help_ws.column_dimensions["A"].width = 110
    out = BytesIO()
    wb.save(out)
    return out.getvalue()


def _check_package(data: bytes, max_bytes: int) -> None:
    """Refuse what is not a small, sane .xlsx with a worksheet before any XML is parsed."""
    names = xlsx.check_package(data, max_bytes=max_bytes, max_entries=MAX_ENTRIES,
                               max_uncompressed=MAX_UNCOMPRESSED)
    if not any(name.startswith("xl/worksheets/") for name in names):
        raise xlsx.refuse("not an Excel .xlsx file (no worksheet)")


def _is_example(code: str) -> bool:
    return code.upper().startswith(tuple(m.upper() for m in EXAMPLE_MARKS))


def _read_rows(data: bytes, max_rows: int) -> list[tuple[int, dict[str, str]]]:
    """The data rows as (Excel row number, {key: text}); example and blank rows left out."""
    with xlsx.open_sheet(data, SHEET) as ws:
        it: Iterator[tuple[Any, ...]] = ws.iter_rows(values_only=True)
        header = [xlsx.text(v).rstrip("*").strip() for v in next(it, ())]
        missing = [h for h, _ in TEMPLATE_COLUMNS if h not in header]
        if missing:
            raise xlsx.refuse(f"the first row lacks the columns {'、'.join(missing)}; "
                              "download the template and keep its header row")
        positions = {key: header.index(h) for h, key in TEMPLATE_COLUMNS}
        rows: list[tuple[int, dict[str, str]]] = []
        for excel_row, values in enumerate(it, start=2):
            cells = {k: xlsx.text(values[p]) if p < len(values) else "" for k, p in positions.items()}
            if not any(cells.values()) or _is_example(cells["code"]):
                continue
            if len(rows) == max_rows:
                raise xlsx.too_many_rows(max_rows)
            rows.append((excel_row, cells))
    if not rows:
        raise xlsx.refuse("the file has no matters to import (only the header or the example row)")
    return rows


def _row_problems(uow: UnitOfWork, actor: Actor, cells: dict[str, str], depts: dict[str, Department],
                  seen: dict[str, int]) -> tuple[dict[str, str], dict[str, str] | None, int | None]:
    """Every problem of one row by key, its cleaned fields and its department id."""
    problems: dict[str, str] = {}
    try:
        clean: dict[str, str] | None = matters.validate(cells)
    except ValidationError as exc:
        problems.update(exc.errors)
        clean = None
    code = cells["code"]
    if "code" not in problems:
        if code in seen:
            problems["code"] = f"the same code as row {seen[code]}"
        elif matters.code_taken(uow, actor.tenant_id, code):
            problems["code"] = f"matter {code} already exists"
    dept_code = cells["department_code"].upper()
    dept_id = actor.department_id
    if dept_code:
        dept = depts.get(dept_code)
        if dept is None:
            problems["department_code"] = f"no department with code {dept_code}"
        elif not actor.is_admin and dept.id != actor.department_id:
            problems["department_code"] = "matters can be added for your own department only"
        else:
            dept_id = dept.id
    elif dept_id is None:
        problems["department_code"] = "required (you are not acting for a department)"
    return problems, clean, dept_id


def import_matters(uow: UnitOfWork, actor: Actor, data: bytes, max_bytes: int = MAX_BYTES,
                   max_rows: int = MAX_ROWS) -> ImportReport:
    """All rows or none: every problem of every row is reported before anything is written.

    The matters are created through ``matters.create``, so each one is checked and audited like
    one added by hand; the caller commits.
    """
    actor.require(RoleCode.DEPT_ADMIN, RoleCode.CLERK)
    _check_package(data, max_bytes)
    rows = _read_rows(data, max_rows)
    depts = {d.code: d for d in uow.session.execute(
        select(Department).where(Department.tenant_id == actor.tenant_id)).scalars()}
    errors: dict[str, str] = {}
    seen: dict[str, int] = {}
    planned: list[tuple[int, dict[str, str]]] = []
    for excel_row, cells in rows:
        problems, clean, dept_id = _row_problems(uow, actor, cells, depts, seen)
        seen.setdefault(cells["code"], excel_row)
        errors.update({f"row {excel_row}: {k}": v for k, v in problems.items()})
        if not problems and clean is not None and dept_id is not None:
            planned.append((dept_id, clean))
    if errors:
        bad_rows = len({k.partition(":")[0] for k in errors})
        first_key, first = next(iter(errors.items()))
        raise ValidationError(errors, message=f"{bad_rows} of {len(rows)} rows have problems, nothing was "
                                              f"imported (first: {first_key}: {first})")
    for dept_id, clean in planned:
        matters.create(uow, actor, department_id=dept_id, **clean)
    audit.record(uow.session, actor, "matter.import", "matter", None, created=len(planned))
    return ImportReport(created=len(planned), rows=len(rows))


def error_report(errors: dict[str, str]) -> bytes:
    """The problems as a workbook (行号, 列, 问题), for the person to fix their file with."""
    return xlsx.error_report(errors, labels=HEADERS, column_width=18)
