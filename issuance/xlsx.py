"""What the Excel imports share: checking an uploaded .xlsx, reading its cells, reporting problems.

Both imports (matters and certificates) take workbooks uploaded by anyone with an account, so
the same safety checks have to run before openpyxl parses any XML, and the same cell reading
and error workbook serve both. Each import keeps its own limits and passes them in.

The package check looks at the file's size, its number of parts, the size the parts declare once
inflated (``zipfile`` never inflates an entry past its declared size, so this bounds the work of a
zip bomb) and the part names. It also refuses encrypted parts, macros and
any workbook whose content type is not a plain .xlsx (so .xlsm and .xltx files are refused rather
than silently read); the content types are parsed through defusedxml, so XML entity tricks are
refused as well. Whatever is wrong with the file comes back as a ``ValidationError`` with the key
``file``, never a traceback.
"""

from __future__ import annotations

import zipfile
from contextlib import contextmanager
from datetime import date, datetime, time
from io import BytesIO
from typing import Any, Iterator, Mapping

from defusedxml import ElementTree as SafeET
from openpyxl import Workbook, load_workbook
from openpyxl.styles import Font
from openpyxl.worksheet.worksheet import Worksheet

from .errors import ValidationError

MAX_CONTENT_TYPES = 1024 * 1024
XLSX_MAIN = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"
XLSM_MAIN = "application/vnd.ms-excel.sheet.macroEnabled.main+xml"
UNREADABLE = "the workbook cannot be read; open it in Excel and save it again as .xlsx"
MACROS_REFUSED = "macro-enabled workbooks (.xlsm) are not accepted; save the file as .xlsx"


def refuse(message: str) -> ValidationError:
    """A problem with the file as a whole (the key ``file``)."""
    return ValidationError({"file": message})


def too_many_rows(max_rows: int) -> ValidationError:
    return refuse(f"more than {max_rows} rows; split the file and import the parts one by one")


def check_package(data: bytes, *, max_bytes: int, max_entries: int, max_uncompressed: int) -> set[str]:
    """Refuse what is not a small, sane .xlsx before any of its XML is parsed; the names of its parts.

    Encrypted parts and macros are refused, and the workbook part must have a plain .xlsx's content type.
    """
    if not data:
        raise refuse("the file is empty")
    if len(data) > max_bytes:
        raise refuse(f"the file is larger than {max_bytes / (1024 * 1024):g} MB")
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        raise refuse("not an Excel .xlsx file (an old .xls, or a password-protected workbook: save it as .xlsx "
                     "without a password)")
    if not data.startswith(b"PK\x03\x04"):
        raise refuse("not an Excel .xlsx file (save it as .xlsx, not .xls or .csv)")
    content_types = b""
    try:
        with zipfile.ZipFile(BytesIO(data)) as zf:
            infos = zf.infolist()
            if len(infos) > max_entries:
                raise refuse("not an Excel .xlsx file (too many parts)")
            if sum(i.file_size for i in infos) > max_uncompressed:
                raise refuse(f"the workbook expands to more than {max_uncompressed // (1024 * 1024)} MB")
            names = set()
            for i in infos:
                name = i.filename
                if name.startswith("/") or ".." in name.split("/") or "\\" in name or "\0" in name:
                    raise refuse(f"not an Excel .xlsx file (unsafe part name {name!r})")
                if i.flag_bits & 0x1:
                    raise refuse("not an Excel .xlsx file (encrypted parts)")
                if name.lower().endswith("vbaproject.bin"):
                    raise refuse(MACROS_REFUSED)
                names.add(name)
            if "[Content_Types].xml" not in names or "xl/workbook.xml" not in names:
                raise refuse("not an Excel .xlsx file (no workbook)")
            ct_info = zf.getinfo("[Content_Types].xml")
            if ct_info.file_size > MAX_CONTENT_TYPES:
                raise refuse("not an Excel .xlsx file (damaged content types)")
            content_types = zf.read(ct_info)
    except ValidationError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, NotImplementedError, RuntimeError):
        raise refuse("not an Excel .xlsx file (the file is damaged)") from None
    main_type = _workbook_content_type(content_types)
    if main_type == XLSM_MAIN:
        raise refuse(MACROS_REFUSED)
    if main_type != XLSX_MAIN:
        raise refuse("not an Excel .xlsx workbook (templates, .xlsb and other kinds are not accepted)")
    return names


def _workbook_content_type(xml: bytes) -> str:
    try:
        root = SafeET.fromstring(xml)
    except Exception:  # defusedxml refuses DTDs/entities; ParseError for broken XML
        raise refuse("not an Excel .xlsx file (damaged content types)") from None
    for el in root:
        if el.tag.endswith("Override") and el.get("PartName", "").lower() == "/xl/workbook.xml":
            return el.get("ContentType", "")
    return ""


@contextmanager
def open_sheet(data: bytes, sheet: str) -> Iterator[Worksheet]:
    """The named sheet (else the first) of a checked package, read-only; a broken workbook is refused.

    ``ValidationError`` raised while reading passes through; anything else openpyxl raises (for a
    part that passed the package checks but is not valid SpreadsheetML) becomes a refusal.
    """
    try:
        wb = load_workbook(BytesIO(data), read_only=True, data_only=True)
    except Exception:  # openpyxl raises many kinds (KeyError, XML errors, ...) for a broken workbook
        raise refuse(UNREADABLE) from None
    try:
        yield wb[sheet] if sheet in wb.sheetnames else wb.worksheets[0]
    except ValidationError:
        raise
    except Exception:
        raise refuse(UNREADABLE) from None
    finally:
        wb.close()


def text(value: Any) -> str:
    """A cell as the person typed it: 12345 (read back as int or 12345.0) becomes "12345"."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"  # as Excel shows it
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime) and value.time() == time(0):
        return value.date().isoformat()
    if isinstance(value, (date, time)):
        return value.isoformat()
    return str(value).strip()


def error_report(errors: Mapping[str, str], labels: Mapping[str, str] | None = None,
                 column_width: int = 30) -> bytes:
    """The problems as a workbook (行号, 列, 问题), for the person to fix their file with.

    Keys ``row N: key`` give the row; ``labels`` turns a key into the header the person sees.
    """
    labels = labels or {}
    file_labels = {**labels, "file": "文件"}
    wb = Workbook()
    ws = wb.active
    ws.title = "错误报告"
    ws.append(["行号", "列", "问题"])
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for key, problem in errors.items():
        where, sep, col = key.partition(": ")
        if sep and where.startswith("row ") and where[4:].isdigit():
            ws.append([int(where[4:]), labels.get(col, col), problem])
        else:
            ws.append(["", file_labels.get(key, key), problem])
    ws.freeze_panes = "A2"
    for letter, width in zip("ABC", (8, column_width, 80)):
        ws.column_dimensions[letter].width = width
    out = BytesIO()
    wb.save(out)
    return out.getvalue()
