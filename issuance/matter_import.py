"""Excel import of matters (事项批量导入): download the template, fill it, import all rows or none.

The file is checked as a zip before openpyxl reads it (size, entry count, total uncompressed
size, entry names), so a zip bomb or a renamed file is refused with a message, not a traceback.
Every row is validated before anything is written; the problems come back row by row and can be
downloaded as a workbook of their own.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from io import BytesIO
from typing import Any

from openpyxl import Workbook, load_workbook
from openpyxl.styles import Font
from sqlalchemy import select

from . import audit, matters
from .context import Actor
from .errors import ValidationError
from .models import Department, Matter
from .unit_of_work import UnitOfWork

SHEET = "事项"
# (header shown to the person, key, required)
TEMPLATE_COLUMNS: list[tuple[str, str, bool]] = [
    ("事项编码", "code", True),
    ("事项名称", "name", True),
    ("事项类别", "category", False),
    ("设定依据", "basis", False),
    ("事项描述", "description", False),
    ("所属部门编码", "department_code", False),
]
EXAMPLE_MARK = "示例"
MAX_BYTES = 5 * 1024 * 1024
MAX_UNCOMPRESSED = 50 * 1024 * 1024
MAX_ENTRIES = 200
MAX_ROWS = 5000


@dataclass(frozen=True)
class ImportReport:
    rows: int
    created: int


def _header(text: str, required: bool) -> str:
    return f"{text}*" if required else text


def build_template() -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.title = SHEET
    ws.append([_header(h, req) for h, _, req in TEMPLATE_COLUMNS])
    for cell in ws[1]:
        cell.font = Font(bold=True)
    ws.append([f"{EXAMPLE_MARK}-230100-XK-001", "企业设立登记（示例行，导入时忽略）", "行政许可",
               "《中华人民共和国公司法》", "示例：可删除本行", "11230100MB0000001X"])
    for cell in ws[2]:
        cell.font = Font(italic=True, color="808080")
    ws.freeze_panes = "A2"
    for col, width in zip("ABCDEF", (24, 36, 14, 30, 40, 22)):
        ws.column_dimensions[col].width = width
    help_ws = wb.create_sheet("说明")
    for line in (
        "1. 带 * 的列必须填写：事项编码、事项名称。",
        "2. 事项编码：1-64 位字母、数字或 _ . -，在本租户内唯一。",
        "3. 所属部门编码：部门用户可留空（默认本部门），且只能填写本部门；管理员可填写任意已进驻部门。",
        f"4. 以“{EXAMPLE_MARK}”开头的事项编码所在行为示例行，导入时忽略；空行忽略。",
        "5. 整个文件要么全部导入，要么全部不导入；有错误时按行列出，修改后重新导入。",
    ):
        help_ws.append([line])
    help_ws.column_dimensions["A"].width = 100
    out = BytesIO()
    wb.save(out)
    return out.getvalue()


def _check_package(data: bytes, max_bytes: int) -> None:
    if len(data) > max_bytes:
        raise ValidationError({"file": f"the file is larger than {max_bytes // (1024 * 1024)} MB"})
    if not data.startswith(b"PK\x03\x04"):
        raise ValidationError({"file": "not an Excel .xlsx file"})
    try:
        with zipfile.ZipFile(BytesIO(data)) as zf:
            infos = zf.infolist()
    except zipfile.BadZipFile:
        raise ValidationError({"file": "not an Excel .xlsx file (damaged zip)"}) from None
    if len(infos) > MAX_ENTRIES:
        raise ValidationError({"file": "the workbook has too many parts"})
    if sum(i.file_size for i in infos) > MAX_UNCOMPRESSED:
        raise ValidationError({"file": "the workbook expands to more than 50 MB"})
    for i in infos:
        name = i.filename
        if name.startswith("/") or ".." in name.split("/") or "\\" in name:
            raise ValidationError({"file": f"unsafe entry name in the workbook: {name!r}"})


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _rows(data: bytes, max_rows: int) -> list[tuple[int, dict[str, str]]]:
    try:
        wb = load_workbook(BytesIO(data), read_only=True, data_only=True)
    except Exception:  # openpyxl raises many kinds for a broken workbook
        raise ValidationError({"file": "the workbook cannot be read; save it again as .xlsx"}) from None
    try:
        ws = wb[SHEET] if SHEET in wb.sheetnames else wb.worksheets[0]
        it = ws.iter_rows(values_only=True)
        header = [_text(v).rstrip("*") for v in next(it, ())]
        positions = {}
        missing = []
        for text, key, _req in TEMPLATE_COLUMNS:
            if text in header:
                positions[key] = header.index(text)
            else:
                missing.append(text)
        if missing:
            raise ValidationError({"file": f"the header row lacks the columns: {', '.join(missing)}; use the template"})
        rows = []
        for excel_row, values in enumerate(it, start=2):
            cells = {k: _text(values[p]) if p < len(values) else "" for k, p in positions.items()}
            if not any(cells.values()) or cells["code"].startswith(EXAMPLE_MARK):
                continue
            rows.append((excel_row, cells))
            if len(rows) > max_rows:
                raise ValidationError({"file": f"more than {max_rows} rows; split the file"})
    finally:
        wb.close()
    if not rows:
        raise ValidationError({"file": "the file has no matters to import"})
    return rows


def import_matters(uow: UnitOfWork, actor: Actor, data: bytes, max_bytes: int = MAX_BYTES,
                   max_rows: int = MAX_ROWS) -> ImportReport:
    """All rows or none: every problem of every row is reported before anything is written."""
    _check_package(data, max_bytes)
    rows = _rows(data, max_rows)
    session = uow.session
    depts = {d.code: d for d in session.execute(select(Department).where(Department.tenant_id == actor.tenant_id)).scalars()}
    existing = set(session.execute(select(Matter.code).where(Matter.tenant_id == actor.tenant_id)).scalars())
    errors: dict[str, str] = {}
    seen: dict[str, int] = {}
    planned = []
    for excel_row, cells in rows:
        p = f"row {excel_row}: "
        try:
            clean = matters.validate(cells)
        except ValidationError as exc:
            errors.update({p + k: v for k, v in exc.errors.items()})
            clean = None
        code = cells["code"]
        if code in seen:
            errors[p + "code"] = f"the same code as row {seen[code]}"
        elif code in existing:
            errors[p + "code"] = f"matter {code} already exists"
        seen.setdefault(code, excel_row)
        dept_code = cells["department_code"].upper()
        dept_id = actor.department_id
        if dept_code:
            dept = depts.get(dept_code)
            if dept is None:
                errors[p + "department_code"] = f"no department with code {dept_code}"
            elif not actor.is_admin and dept.id != actor.department_id:
                errors[p + "department_code"] = "department users import matters of their own department only"
            else:
                dept_id = dept.id
        elif dept_id is None:
            errors[p + "department_code"] = "required when you act without a current department"
        if clean is not None:
            planned.append((dept_id, clean))
    if errors:
        first = next(iter(errors.items()))
        bad_rows = len({k.split(":")[0] for k in errors})
        raise ValidationError(errors, message=f"{bad_rows} row(s) have problems, nothing was imported "
                                              f"(first: {first[0]}: {first[1]})")
    for dept_id, clean in planned:
        session.add(Matter(tenant_id=actor.tenant_id, department_id=dept_id, **clean))
    session.flush()
    audit.record(session, actor, "matter.import", "matter", None, rows=len(planned))
    return ImportReport(rows=len(rows), created=len(planned))


def error_report(errors: dict[str, str]) -> bytes:
    """The row-by-row problems as a workbook, for the person to fix the file with."""
    wb = Workbook()
    ws = wb.active
    ws.title = "错误"
    ws.append(["行号", "列", "问题"])
    for cell in ws[1]:
        cell.font = Font(bold=True)
    headers = {key: text for text, key, _ in TEMPLATE_COLUMNS}
    for key, problem in errors.items():
        where, _, field = key.partition(": ")
        row = where.removeprefix("row ") if where.startswith("row ") else ""
        ws.append([int(row) if row.isdigit() else row, headers.get(field, field or where), problem])
    for col, width in zip("ABC", (8, 18, 80)):
        ws.column_dimensions[col].width = width
    out = BytesIO()
    wb.save(out)
    return out.getvalue()
