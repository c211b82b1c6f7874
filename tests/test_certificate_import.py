"""Excel entry of certificates: the per-type template, all-or-nothing import with row-by-row problems,
hostile files, department isolation, and the `certledger cert` commands. Real SQLite (and PostgreSQL
when the set-up provides it), real workbooks written and read by openpyxl."""

import re
import time
import zipfile
from datetime import date, datetime
from io import BytesIO

import pytest
from click.testing import CliRunner
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select

from issuance import cert_types, certificates, matters
from issuance.certificate_import import (HELP_SHEET, MAX_ROWS, SHEET, CertificateImportError, error_report,
                                         import_certificates, template_for)
from issuance.errors import PermissionDenied, ValidationError
from issuance.models import AuditEntry, Certificate, CertificateStatus, Matter
from tests.helpers import valid_uscc

FIELDS = [
    {"name": "企业名称", "column_name": "ENTNAME", "value_type": "string", "required": True},
    {"name": "注册资本", "column_name": "regcap", "value_type": "number"},
    {"name": "成立日期", "column_name": "estdate", "value_type": "date", "required": True},
    {"name": "等级", "column_name": "grade", "value_type": "enum", "options": "甲级,乙级,丙级"},
    {"name": "负责人身份证号", "column_name": "idn", "value_type": "id_number"},
    {"name": "持证主体", "column_name": "holder", "value_type": "string"},  # named like a basic item
]
HEADERS = ["证照名称", "持证主体*", "持证主体代码*", "持证主体代码类型", "证照编号*", "证照颁发日期",
           "证照有效期起始日期", "证照有效期截止日期", "证照所属管辖属地代码", "关联事项代码",
           "企业名称（ENTNAME）*", "注册资本（regcap）", "成立日期（estdate）*", "等级（grade）",
           "负责人身份证号（idn）", "持证主体（holder）"]


def approved_type(world, code="QUAL01", annual_review=False, actor=None, fields=FIELDS):
    actor = actor or world.dept_admin
    with world.uow() as uow:
        t = cert_types.create(uow, actor, fields=fields, name="资质证书", code=code, annual_review=annual_review)
        cert_types.submit(uow, actor, t.id)
        cert_types.review(uow, world.admin, t.id, True)
        uow.commit()
        return t.id


def template(world, type_id, actor=None) -> bytes:
    with world.uow() as uow:
        return template_for(uow, actor or world.clerk, type_id)


def row(seed, **over):
    """One data row in template order: basic items, then the fields."""
    code = valid_uscc(seed)
    r = {"name": None, "holder": f"企业{seed}", "holder_code": code, "holder_type": "01", "number": f"ZZ-{seed:05d}",
         "issue_date": datetime(2024, 3, 1), "valid_from": datetime(2024, 3, 1), "valid_to": datetime(2029, 2, 28),
         "area_code": None, "matter_code": None, "ENTNAME": f"企业{seed}", "regcap": 500, "estdate": date(2019, 2, 3),
         "grade": "甲级", "idn": None, "f_holder": None}
    r.update(over)
    return list(r.values())


def filled(template_bytes: bytes, rows) -> bytes:
    wb = load_workbook(BytesIO(template_bytes))
    ws = wb[SHEET]
    for r in rows:
        ws.append(r)
    out = BytesIO()
    wb.save(out)
    return out.getvalue()


def count(world, model=Certificate) -> int:
    with world.uow() as uow:
        return uow.session.execute(select(func.count()).select_from(model)).scalar()


def refused(world, actor, type_id, data, exc=ValidationError, **kw):
    with world.uow() as uow:
        with pytest.raises(exc) as e:
            import_certificates(uow, actor, type_id, data, **kw)
    return e.value


def do_import(world, type_id, data, actor=None, **kw):
    with world.uow() as uow:
        report = import_certificates(uow, actor or world.clerk, type_id, data, **kw)
        uow.commit()
    return report


# --- template --------------------------------------------------------------------------------------

def test_template_has_basic_items_then_fields_typed_columns_and_instructions(world):
    tid = approved_type(world)
    wb = load_workbook(BytesIO(template(world, tid)))
    assert wb.sheetnames == [SHEET, HELP_SHEET]
    ws = wb[SHEET]
    assert [c.value for c in ws[1]] == HEADERS
    assert ws.max_row == 1 and ws.freeze_panes == "A2" and ws["B1"].font.b  # no example row to import by mistake
    fmt = {c.value: ws.column_dimensions[c.column_letter].number_format for c in ws[1]}
    assert fmt["证照颁发日期"] == fmt["成立日期（estdate）*"] == "yyyy-mm-dd"
    assert fmt["持证主体代码*"] == fmt["证照编号*"] == fmt["持证主体代码类型"] == fmt["负责人身份证号（idn）"] == "@"
    help_ws = wb[HELP_SHEET]
    cells = {(c.row, c.column): c.value for r in help_ws.iter_rows() for c in r if c.value is not None}
    text = "\n".join(str(v) for v in cells.values())
    assert "全部导入" in text and "QUAL01" in text and "甲级、乙级、丙级" in text
    # drop-downs: holder code type and the enum field, fed from lists on the 说明 sheet
    validations = {str(dv.sqref): dv.formula1 for dv in ws.data_validations.dataValidation}
    assert set(validations) == {"D2:D10001", "N2:N10001"}
    sheet, _, ref = validations["N2:N10001"].partition("!")
    assert sheet.strip("'") == "说明"
    first, last = ref.replace("$", "").split(":")
    assert [help_ws[a].value for a in (first, last)] == ["甲级", "丙级"]
    sheet, _, ref = validations["D2:D10001"].partition("!")
    codes = [r[0].value for r in help_ws[ref.replace("$", "")]]
    assert codes[:2] == ["01", "02"] and len(codes) == 9


def test_annual_review_type_gets_its_review_date_column(world):
    tid = approved_type(world, code="ANNUAL1", annual_review=True)
    header = [c.value for c in load_workbook(BytesIO(template(world, tid)))[SHEET][1]]
    assert header[10] == "下次年审日期" and header[11] == "企业名称（ENTNAME）*"


def test_template_of_another_departments_type_is_refused(world):
    tid = approved_type(world)
    other, _ = world.add_department("大庆市市场监督管理局", "11230600MB0000002X", "230600")
    other_clerk = world.add_user("clerk2", "clerk", other.id)
    with pytest.raises(PermissionDenied):
        template(world, tid, other_clerk)
    with pytest.raises(PermissionDenied):
        template(world, tid, world.reviewer)
    assert template(world, tid, world.admin).startswith(b"PK")


# --- import ----------------------------------------------------------------------------------------

def test_round_trip_with_typed_cells_and_blank_rows(world):
    tid = approved_type(world)
    audit_before = count(world, AuditEntry)
    data = filled(template(world, tid), [
        row(1),
        [None] * 16,                                                     # blank: skipped
        ["", "  ", None] + [None] * 13,                                  # only spaces: skipped
        row(2, holder_type=1, issue_date="2024年5月6日", regcap=1234.5, estdate="2020-01-02",
            idn="11010519491231002X", f_holder="张三"),                  # 01 typed into a general cell
    ])
    report = do_import(world, tid, data)
    assert (report.created, report.rows) == (2, 2) and len(report.identifiers) == 2
    with world.uow() as uow:
        by_number = {c.number: c for c in uow.session.execute(select(Certificate)).scalars()}
        c1, c2 = by_number["ZZ-00001"], by_number["ZZ-00002"]
        assert c1.status is CertificateStatus.DRAFT and c1.created_by_id == world.clerk.user_id
        assert (c1.issue_date, c1.valid_to, c1.area_code) == (date(2024, 3, 1), date(2029, 2, 28), "230100")
        assert certificates.values_of(uow, c1) == {"ENTNAME": "企业1", "regcap": "500", "estdate": "2019-02-03",
                                                   "grade": "甲级"}
        assert c2.holder_type == "01" and c2.issue_date == date(2024, 5, 6)
        assert certificates.values_of(uow, c2)["regcap"] == "1234.5"
        assert certificates.values_of(uow, c2)["holder"] == "张三"  # the field, not the basic item
        assert certificates.holder_code_of(uow, c2) == valid_uscc(2)
        actions = [a.action for a in uow.session.execute(
            select(AuditEntry).where(AuditEntry.id > audit_before)).scalars()]
    assert actions == ["certificate.enter", "certificate.import"]


def test_every_bad_row_is_reported_by_excel_row_and_column_and_nothing_is_written(world):
    tid = approved_type(world)
    data = filled(template(world, tid), [
        row(1),                                                   # row 2: fine
        row(2, holder=None, grade="丁级", f_holder="x" * 600),     # row 3: three problems, two under "holder"
        row(3, holder_code="91230199XXXXXXXXXX"),                 # row 4
        row(4, number="ZZ-00001"),                                # row 5: same number as row 2
        row(6, valid_to=datetime(2020, 1, 1), estdate="2019-02-30"),  # row 6: two problems
        row(7, ENTNAME=None),                                     # row 7: required field
    ])
    err = refused(world, world.clerk, tid, data, CertificateImportError)
    assert err.rows.keys() == {3, 4, 5, 6, 7}
    # the field "持证主体（holder）" and the basic item 持证主体 share enter_many's key "holder";
    # enter_many keeps the field's problem, and the report puts it under the field's column
    assert err.rows[3].keys() == {"持证主体（holder）", "等级（grade）"}
    assert err.rows[4].keys() == {"持证主体代码"} and "credit code" in err.rows[4]["持证主体代码"]
    assert "row 1" in err.rows[5]["证照编号"]  # enter_many counts data rows; the message is its own
    assert err.rows[6].keys() == {"证照有效期截止日期", "成立日期（estdate）"}
    assert err.rows[7].keys() == {"企业名称（ENTNAME）"}
    assert "5 of 6 rows have problems" in str(err) and "nothing was imported" in str(err)
    assert "row 3: 等级（grade）" in err.errors
    assert count(world) == 0
    report = load_workbook(BytesIO(error_report(err.errors))).active
    assert [c.value for c in report[1]] == ["行号", "列", "问题"]
    assert report.max_row == 1 + 7 and report.cell(2, 1).value == 3


def test_basic_item_problem_is_reported_under_the_basic_column_despite_a_same_named_field(world):
    tid = approved_type(world)
    err = refused(world, world.clerk, tid, filled(template(world, tid), [row(1, holder=None), row(2)]),
                  CertificateImportError)
    assert err.rows == {2: {"持证主体": err.rows[2]["持证主体"]}} and "required" in err.rows[2]["持证主体"]


def test_numbers_already_in_the_database_are_reported_once_the_rows_are_otherwise_valid(world):
    """enter_many looks for existing numbers only when no row has other problems: a second round."""
    tid = approved_type(world)
    do_import(world, tid, filled(template(world, tid), [row(90)]))
    err = refused(world, world.clerk, tid, filled(template(world, tid), [row(1), row(5, number="ZZ-00090")]),
                  CertificateImportError)
    assert err.rows.keys() == {3} and "already exists" in err.rows[3]["证照编号"]
    assert count(world) == 1


def test_clerk_of_another_department_and_reviewer_are_refused_before_the_file_is_read(world):
    tid = approved_type(world)
    other, _ = world.add_department("大庆市市场监督管理局", "11230600MB0000002X", "230600")
    other_clerk = world.add_user("clerk2", "clerk", other.id)
    refused(world, other_clerk, tid, b"not even a workbook", PermissionDenied)
    refused(world, world.reviewer, tid, b"not even a workbook", PermissionDenied)
    assert count(world) == 0


def test_type_not_yet_approved_is_a_problem_of_the_file_not_of_a_row(world):
    with world.uow() as uow:
        t = cert_types.create(uow, world.dept_admin, fields=FIELDS, name="草稿类型", code="DRAFT1")
        uow.commit()
        tid = t.id
    err = refused(world, world.clerk, tid, filled(template(world, tid), [row(1)]))
    assert not isinstance(err, CertificateImportError) and set(err.errors) == {"type_id"}


def test_columns_in_another_order_and_interface_names_are_accepted(world):
    tid = approved_type(world)
    wb = Workbook()
    wb.active.append(["estdate", "certificateHolderCode", "ENTNAME", "certificateNumber", "持证主体", "注册资本"])
    wb.active.append([datetime(2019, 2, 3), valid_uscc(1), "企业一", "N-1", "企业一", "12"])
    out = BytesIO()
    wb.save(out)
    assert do_import(world, tid, out.getvalue()).created == 1
    with world.uow() as uow:
        c = uow.session.execute(select(Certificate)).scalar_one()
        assert c.holder == "企业一" and certificates.values_of(uow, c)["regcap"] == "12"


def test_a_sheet_that_declares_a_wrong_size_is_read_in_full(world):
    """Some writers declare <dimension ref="A1"/>; trusting it would find no rows at all."""
    tid = approved_type(world)
    data = filled(template(world, tid), [row(1), row(2)])
    with zipfile.ZipFile(BytesIO(data)) as zf:
        parts = {i.filename: zf.read(i) for i in zf.infolist()}
    sheet = parts["xl/worksheets/sheet1.xml"].decode()
    parts["xl/worksheets/sheet1.xml"] = re.sub(r'<dimension ref="[^"]+"\s*/>', '<dimension ref="A1"/>', sheet).encode()
    assert '<dimension ref="A1"/>' in parts["xl/worksheets/sheet1.xml"].decode()
    assert do_import(world, tid, _zip(parts)).created == 2


def test_far_away_row_numbers_cost_little_and_beyond_excels_last_row_are_refused(world):
    tid = approved_type(world)
    data = filled(template(world, tid), [row(1)])
    with zipfile.ZipFile(BytesIO(data)) as zf:
        parts = {i.filename: zf.read(i) for i in zf.infolist()}
    sheet = parts["xl/worksheets/sheet1.xml"].decode()

    def with_row_at(n: int) -> bytes:
        far = f'<row r="{n}"><c r="B{n}" t="inlineStr"><is><t>远处</t></is></c></row></sheetData>'
        return _zip({**parts, "xl/worksheets/sheet1.xml": sheet.replace("</sheetData>", far).encode()})

    started = time.monotonic()
    err = refused(world, world.clerk, tid, with_row_at(1_048_576), CertificateImportError)
    assert time.monotonic() - started < 15 and set(err.rows) == {1_048_576}  # the far row is read, and incomplete
    err = refused(world, world.clerk, tid, with_row_at(1_048_577))
    assert "beyond 1048576" in err.errors["file"]
    assert count(world) == 0


@pytest.mark.parametrize("header, why", [
    (["持证主体", "持证主体代码", "证照编号", "企业名称（ENTNAME）", "成立日期（estdate）", "颜色"], "does not have: 颜色"),
    (["持证主体", "持证主体代码", "企业名称（ENTNAME）"], "lacks the columns 证照编号*、成立日期（estdate）".replace("*", "")),
    (["持证主体", "持证主体代码", "证照编号", "ENTNAME", "企业名称（ENTNAME）", "estdate"], "appears twice"),
])
def test_header_problems_are_named(world, header, why):
    tid = approved_type(world)
    wb = Workbook()
    wb.active.append(header)
    wb.active.append(["x"] * len(header))
    out = BytesIO()
    wb.save(out)
    err = refused(world, world.clerk, tid, out.getvalue())
    assert err.errors.keys() == {"file"} and why in err.errors["file"], err.errors


def test_row_limit_and_empty_template(world):
    tid = approved_type(world)
    tpl = template(world, tid)
    assert "no certificates" in refused(world, world.clerk, tid, tpl).errors["file"]
    rows = [row(i) for i in range(1, 12)]
    assert "more than 10 rows" in refused(world, world.clerk, tid, filled(tpl, rows), max_rows=10).errors["file"]
    assert do_import(world, tid, filled(tpl, rows[:10]), max_rows=10).created == 10
    assert MAX_ROWS == 10_000


def test_huge_numbers_are_refused_quickly_with_the_other_rows_still_checked(world):
    tid = approved_type(world)
    data = filled(template(world, tid), [row(1, regcap="1e999999"), row(2, holder=None), row(3)])
    started = time.monotonic()
    err = refused(world, world.clerk, tid, data, CertificateImportError)
    assert time.monotonic() - started < 10  # the normaliser alone needs ~25 s for this value
    assert err.rows == {2: {"注册资本（regcap）": "注册资本: at most 64 digits"},
                        3: {"持证主体": err.rows[3]["持证主体"]}}


def test_refusal_after_enter_many_succeeded_leaves_the_callers_transaction_alone(world):
    """Only the huge number is wrong, so enter_many stores the rest: the savepoint must take it back."""
    tid = approved_type(world)
    data = filled(template(world, tid), [row(1, regcap="9" * 200), row(2)])
    with world.uow() as uow:
        matters.create(uow, world.clerk, code="M-KEEP", name="同一事务中的事项")
        with pytest.raises(CertificateImportError):
            import_certificates(uow, world.clerk, tid, data)
        uow.commit()
    assert count(world) == 0 and count(world, Matter) == 1


def test_number_of_a_revoked_certificate_is_a_row_error_not_a_crash(world):
    """A revoked certificate keeps its number (unique per type and version): refused by row."""
    tid = approved_type(world)
    do_import(world, tid, filled(template(world, tid), [row(1)]))
    with world.uow() as uow:
        uow.session.execute(select(Certificate)).scalar_one().status = CertificateStatus.REVOKED
        uow.commit()
    err = refused(world, world.clerk, tid, filled(template(world, tid), [row(1), row(2)]))
    assert "already exists" in str(err)
    assert count(world) == 1


# --- hostile files ---------------------------------------------------------------------------------

def _zip(parts: dict[str, bytes], compression=zipfile.ZIP_STORED) -> bytes:
    buf = BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as zf:
        for name, body in parts.items():
            zf.writestr(name, body)
    return buf.getvalue()


def _with_content_type(data: bytes, main_type: str, extra: dict[str, bytes] | None = None) -> bytes:
    """A real workbook whose declared workbook content type is changed (and parts added)."""
    with zipfile.ZipFile(BytesIO(data)) as zf:
        parts = {i.filename: zf.read(i) for i in zf.infolist()}
    ct = parts["[Content_Types].xml"].decode()
    parts["[Content_Types].xml"] = ct.replace(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml", main_type).encode()
    parts.update(extra or {})
    return _zip(parts)


@pytest.mark.parametrize("data, why", [
    (b"", "empty"),
    (b"holder,number\nx,y\n", "not an Excel"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 512, "old .xls"),
    (b"PK\x03\x04garbage", "damaged"),
    (b"PK\x03\x04" + b"0" * (21 * 1024 * 1024), "larger than 20 MB"),
])
def test_not_a_workbook(world, data, why):
    tid = approved_type(world)
    err = refused(world, world.clerk, tid, data)
    assert err.errors.keys() == {"file"} and why in err.errors["file"]


def test_macro_enabled_template_and_other_kinds_are_refused(world):
    tid = approved_type(world)
    good = filled(template(world, tid), [row(1)])
    xlsm = _with_content_type(good, "application/vnd.ms-excel.sheet.macroEnabled.main+xml")
    assert ".xlsm" in refused(world, world.clerk, tid, xlsm).errors["file"]
    hidden_vba = _with_content_type(good, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
                                    {"xl/vbaProject.bin": b"\0" * 64})
    assert ".xlsm" in refused(world, world.clerk, tid, hidden_vba).errors["file"]
    xltx = _with_content_type(good, "application/vnd.openxmlformats-officedocument.spreadsheetml.template.main+xml")
    assert "templates" in refused(world, world.clerk, tid, xltx).errors["file"]
    assert count(world) == 0


def test_zip_bomb_entity_expansion_and_unsafe_names_are_refused_before_parsing(world):
    tid = approved_type(world)
    bomb = _zip({"[Content_Types].xml": b"<Types/>", "xl/workbook.xml": b"x",
                 "xl/worksheets/sheet1.xml": b"\0" * (210 * 1024 * 1024)}, zipfile.ZIP_DEFLATED)
    assert len(bomb) < 1024 * 1024
    assert "expands to more than 200 MB" in refused(world, world.clerk, tid, bomb).errors["file"]
    laughs = (b'<?xml version="1.0"?><!DOCTYPE t [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;">]>'
              b'<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">&b;</Types>')
    entities = _zip({"[Content_Types].xml": laughs, "xl/workbook.xml": b"x"})
    assert "damaged content types" in refused(world, world.clerk, tid, entities).errors["file"]
    escaping = _zip({"[Content_Types].xml": b"<Types/>", "xl/workbook.xml": b"x", "../evil.xml": b"x"})
    assert "unsafe part name" in refused(world, world.clerk, tid, escaping).errors["file"]


def test_a_zip_with_the_right_content_type_but_broken_sheets(world):
    tid = approved_type(world)
    good = filled(template(world, tid), [row(1)])
    broken = _with_content_type(good, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
                                {"xl/worksheets/sheet1.xml": b"<not-xml"})
    assert "cannot be read" in refused(world, world.clerk, tid, broken).errors["file"]


# --- CLI ---------------------------------------------------------------------------------------------

def run(data_dir, *args):
    from certledger.cli.main import cli

    return CliRunner().invoke(cli, ["--data-dir", str(data_dir), *args], catch_exceptions=False)


def test_cli_template_and_import_as_a_clerk(world, data_dir, tmp_path):
    tid = approved_type(world)
    tpl = tmp_path / "t.xlsx"
    r = run(data_dir, "cert", "template", "--type-id", str(tid), str(tpl))
    assert r.exit_code == 0, r.output
    assert [c.value for c in load_workbook(tpl)[SHEET][1]] == HEADERS
    good = tmp_path / "good.xlsx"
    good.write_bytes(filled(tpl.read_bytes(), [row(1), row(2)]))
    r = run(data_dir, "cert", "import", "--type-id", str(tid), "--as", "clerk1", str(good))
    assert r.exit_code == 0 and "imported 2 certificates" in r.stdout, r.output
    with world.uow() as uow:
        creators = set(uow.session.execute(select(Certificate.created_by_id)).scalars())
    assert creators == {world.clerk.user_id}


def test_cli_import_refused_lists_every_row_and_exits_1(world, data_dir, tmp_path):
    tid = approved_type(world)
    bad = tmp_path / "bad.xlsx"
    bad.write_bytes(filled(template(world, tid), [row(1, holder=None), row(2), row(3, number="ZZ-00002")]))
    out = tmp_path / "errors.xlsx"
    r = run(data_dir, "cert", "import", "--type-id", str(tid), "--as", "clerk1", "--errors-out", str(out), str(bad))
    assert r.exit_code == 1 and "Traceback" not in r.output
    lines = r.stderr.splitlines()
    assert any(x.startswith("  row 2: 持证主体:") for x in lines)
    assert any(x.startswith("  row 4: 证照编号:") for x in lines)
    assert lines[-1].startswith("error: 2 of 3 rows have problems")
    assert load_workbook(out).active.max_row == 3
    assert count(world) == 0


def test_cli_import_needs_a_usable_account_of_the_owning_department(world, data_dir, tmp_path):
    tid = approved_type(world)
    f = tmp_path / "one.xlsx"
    f.write_bytes(filled(template(world, tid), [row(1)]))
    r = run(data_dir, "cert", "import", "--type-id", str(tid), "--as", "nobody", str(f))
    assert r.exit_code == 1 and "no user nobody" in r.stderr
    r = run(data_dir, "cert", "import", "--type-id", str(tid), "--as", "reviewer1", str(f))
    assert r.exit_code == 1 and "needs one of the roles" in r.stderr
    other, _ = world.add_department("大庆市市场监督管理局", "11230600MB0000002X", "230600")
    world.add_user("clerk2", "clerk", other.id)
    r = run(data_dir, "cert", "import", "--type-id", str(tid), "--as", "clerk2", str(f))
    assert r.exit_code == 1 and "department that owns the type" in r.stderr
    from issuance import accounts

    for _ in range(3):
        with world.uow() as uow:
            with pytest.raises(Exception):
                accounts.authenticate(uow, "clerk1", "wrong", world.platform.policy)
    r = run(data_dir, "cert", "import", "--type-id", str(tid), "--as", "clerk1", str(f))
    assert r.exit_code == 1 and "locked" in r.stderr
    assert count(world) == 0
