"""Excel import of matters: template round trip, all-or-nothing, row-by-row problems, hostile files, CLI."""

import zipfile
from io import BytesIO

import pytest
from click.testing import CliRunner
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select

from issuance import matters
from issuance.errors import PermissionDenied, ValidationError
from issuance.matter_import import TEMPLATE_COLUMNS, build_template, error_report, import_matters
from issuance.models import AuditEntry, Matter


def filled(rows, template: bool = True) -> bytes:
    """The downloaded template (or a bare workbook) with ``rows`` appended after its example row."""
    wb = load_workbook(BytesIO(build_template())) if template else Workbook()
    ws = wb["事项"] if template else wb.active
    for r in rows:
        ws.append(r)
    out = BytesIO()
    wb.save(out)
    return out.getvalue()


def count(world, model=Matter) -> int:
    with world.uow() as uow:
        return uow.session.execute(select(func.count()).select_from(model)).scalar()


def refused(world, actor, data, **kw) -> ValidationError:
    with world.uow() as uow:
        with pytest.raises(ValidationError) as e:
            import_matters(uow, actor, data, **kw)
    return e.value


def test_template_layout():
    wb = load_workbook(BytesIO(build_template()))
    assert wb.sheetnames == ["事项", "说明"]
    ws = wb["事项"]
    assert [c.value for c in ws[1]] == ["事项编码*", "事项名称*", "事项类别", "设定依据", "事项描述", "所属部门编码"]
    assert [k for _, k in TEMPLATE_COLUMNS] == ["code", "name", "category", "basis", "description", "department_code"]
    assert ws["A1"].font.b and ws["A2"].font.i and ws.freeze_panes == "A2"
    assert ws["A2"].value.startswith("示例")
    assert "全部导入" in "".join(str(c.value) for c in wb["说明"]["A"])


def test_template_round_trip_skips_example_and_blank_rows(world):
    audit_before = count(world, AuditEntry)
    data = filled([["230100-XK-001", "企业设立登记", "行政许可", "《公司法》", "说明", ""],
                   [None] * 6, ["", "  ", None, "", "", ""],
                   ["EXAMPLE-2", "another example row", "", "", "", ""],
                   [12345, "数字编码事项", "", "", "", world.dept.code.lower()],
                   [1.5e3, "浮点编码事项"]])
    with world.uow() as uow:
        report = import_matters(uow, world.clerk, data)
        uow.commit()
    assert (report.created, report.rows) == (3, 3)
    with world.uow() as uow:
        found = {m.code: (m.basis, m.department_id) for m in matters.search(uow, world.clerk).items}
    assert found == {"230100-XK-001": ("《公司法》", world.dept.id), "12345": ("", world.dept.id),
                     "1500": ("", world.dept.id)}
    assert count(world, AuditEntry) == audit_before + 4  # one per matter and one for the import


def test_bad_rows_are_all_reported_and_nothing_is_written(world):
    other, _ = world.add_department("大庆市市场监督管理局", "11230600MB0000002X", "230600")
    with world.uow() as uow:
        matters.create(uow, world.clerk, code="EXISTS-1", name="已有事项")
        uow.commit()
    before = count(world)
    data = filled([
        ["GOOD-1", "正常事项", "", "", "", ""],                     # row 3: fine
        ["GOOD-2", "", "x" * 65, "", "", ""],                      # row 4: no name, category too long
        ["bad code", "编码不合法", "", "", "", ""],                 # row 5
        ["GOOD-1", "编码重复", "", "", "", ""],                     # row 6: duplicate in the file
        ["EXISTS-1", "已存在", "", "", "", ""],                     # row 7: already in the database
        ["X-9", "未知部门", "", "", "", "NOPE"],                    # row 8
        ["X-10", "别的部门", "", "", "", other.code],               # row 9: a clerk names another department
        ["GOOD-1", "", "", "", "", "NOPE"],                        # row 10: three problems at once
    ])
    err = refused(world, world.clerk, data)
    assert err.errors.keys() == {"row 4: name", "row 4: category", "row 5: code", "row 6: code", "row 7: code",
                                 "row 8: department_code", "row 9: department_code",
                                 "row 10: code", "row 10: name", "row 10: department_code"}
    assert "row 3" in err.errors["row 6: code"] and "already exists" in err.errors["row 7: code"]
    assert "7 of 8 rows" in str(err) and "nothing was imported" in str(err)
    assert count(world) == before
    report = load_workbook(BytesIO(error_report(err.errors))).active
    assert [c.value for c in report[1]] == ["行号", "列", "问题"]
    assert report.max_row == 11
    assert [report.cell(2, 1).value, report.cell(2, 2).value] == [4, "事项名称"]


def test_admin_may_import_for_any_department_but_must_name_it(world):
    other, _ = world.add_department("大庆市市场监督管理局", "11230600MB0000002X", "230600")
    with world.uow() as uow:
        import_matters(uow, world.admin, filled([["A-1", "管理员导入", "", "", "", other.code],
                                                 ["A-2", "管理员导入", "", "", "", world.dept.code]]))
        uow.commit()
    with world.uow() as uow:
        assert matters.search(uow, world.admin, department_id=other.id).total == 1
    err = refused(world, world.admin, filled([["A-3", "无部门", "", "", "", ""]]))
    assert err.errors.keys() == {"row 3: department_code"}


def test_users_without_a_matter_role_are_refused(world):
    with world.uow() as uow:
        with pytest.raises(PermissionDenied):
            import_matters(uow, world.reviewer, filled([["R-1", "审核员", "", "", "", ""]]))


@pytest.mark.parametrize("data, why", [
    (b"", "empty"),
    (b"name,code\nx,y\n", "not an Excel"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 512, "not an Excel"),  # an old .xls
    (b"PK\x03\x04garbage", "damaged"),
    (b"PK\x03\x04" + b"0" * (6 * 1024 * 1024), "larger than 5 MB"),
])
def test_not_a_workbook(world, data, why):
    err = refused(world, world.clerk, data)
    assert err.errors.keys() == {"file"} and why in err.errors["file"]


def test_a_zip_that_is_not_a_workbook(world):
    buf = BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("xl/worksheets/sheet1.xml", b"<not-xml")
        zf.writestr("[Content_Types].xml", b"<Types/>")
    # refused before openpyxl parses anything: no workbook part, no plain .xlsx content type
    assert "not an Excel .xlsx file (no workbook)" in refused(world, world.clerk, buf.getvalue()).errors["file"]


def test_a_workbook_with_macros_is_refused(world):
    from openpyxl import Workbook

    out = BytesIO()
    Workbook().save(out)
    with zipfile.ZipFile(BytesIO(out.getvalue())) as zf:
        parts = {i.filename: zf.read(i) for i in zf.infolist()}
    parts["xl/vbaProject.bin"] = b"\0" * 64
    buf = BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, body in parts.items():
            zf.writestr(name, body)
    assert "macro" in refused(world, world.clerk, buf.getvalue()).errors["file"].lower()


def test_zip_bomb_is_refused_before_parsing(world):
    buf = BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("xl/worksheets/sheet1.xml", b"\0" * (60 * 1024 * 1024))
    assert len(buf.getvalue()) < 1024 * 1024
    assert "expands to more than 50 MB" in refused(world, world.clerk, buf.getvalue()).errors["file"]


def test_entry_escaping_the_root_is_refused(world):
    buf = BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("xl/worksheets/sheet1.xml", b"x")
        zf.writestr("../evil.xml", b"x")
    assert "unsafe part name" in refused(world, world.clerk, buf.getvalue()).errors["file"]


def test_missing_header_columns_are_named(world):
    wb = Workbook()
    wb.active.append(["事项编码", "名称", "事项类别"])
    wb.active.append(["M-1", "x", ""])
    out = BytesIO()
    wb.save(out)
    msg = refused(world, world.clerk, out.getvalue()).errors["file"]
    assert "事项名称" in msg and "设定依据" in msg and "所属部门编码" in msg and "事项编码、" not in msg


def test_header_without_stars_and_columns_in_another_order(world):
    headers = [h for h, _ in TEMPLATE_COLUMNS][::-1]
    data = filled([headers, ["", "", "", "", "无星号列名", "NOSTAR-1"]], template=False)
    with world.uow() as uow:
        assert import_matters(uow, world.clerk, data).created == 1


def test_empty_file_and_too_many_rows(world):
    assert "no matters" in refused(world, world.clerk, build_template()).errors["file"]
    rows = [[f"M-{i}", "事项", "", "", "", ""] for i in range(11)]
    assert "more than 10 rows" in refused(world, world.clerk, filled(rows), max_rows=10).errors["file"]
    with world.uow() as uow:
        assert import_matters(uow, world.clerk, filled(rows[:10]), max_rows=10).created == 10


def test_error_report_of_a_file_problem():
    ws = load_workbook(BytesIO(error_report({"file": "not an Excel .xlsx file"}))).active
    assert [c.value for c in ws[2]] == [None, "文件", "not an Excel .xlsx file"]


# --- CLI ---------------------------------------------------------------------------------------

@pytest.fixture
def cli_data_dir(tmp_path):
    """An initialised data directory with its tenant and one approved department (code DEPT01)."""
    from certledger.config import load_settings
    from certledger.datadir import init_data_dir
    from certledger.runtime import Platform
    from issuance import bootstrap, departments
    from issuance.context import Actor

    d = tmp_path / "data"
    init_data_dir(d)
    settings = load_settings(d, environ={})
    p = Platform(settings)
    try:
        with p.uow() as uow:
            tenant = bootstrap.initialise(uow, p.policy, settings.platform.tenant_code, settings.platform.tenant_name)
            admin = Actor(None, "setup", tenant.id, None, is_admin=True)
            dept = departments.apply(uow, admin, name="测试局", code="DEPT01", region_code="230100")
            departments.review(uow, admin, dept.id, True)
            uow.commit()
    finally:
        p.close()
    return d


def run(data_dir, *args):
    from certledger.cli.main import cli

    return CliRunner().invoke(cli, ["--data-dir", str(data_dir), *args], catch_exceptions=False)


def test_cli_template_and_import(cli_data_dir, tmp_path):
    tpl = tmp_path / "t.xlsx"
    r = run(cli_data_dir, "matter", "template", str(tpl))
    assert r.exit_code == 0 and load_workbook(tpl).sheetnames == ["事项", "说明"]
    good = tmp_path / "good.xlsx"
    good.write_bytes(filled([["C-1", "命令行导入", "", "", "", "DEPT01"], ["C-2", "默认部门", "", "", "", ""]]))
    r = run(cli_data_dir, "matter", "import", str(good), "--department", "dept01")
    assert r.exit_code == 0 and "imported 2 matters" in r.stdout, r.output


def test_cli_import_refused_prints_every_row(cli_data_dir, tmp_path):
    run(cli_data_dir, "matter", "import", str(_write(tmp_path / "a.xlsx", [["C-1", "已有", "", "", "", "DEPT01"]])))
    bad = _write(tmp_path / "bad.xlsx", [["C-1", "重复", "", "", "", "DEPT01"], ["C-2", "", "", "", "", "DEPT01"],
                                         ["C-3", "无部门", "", "", "", ""]])
    out = tmp_path / "errors.xlsx"
    r = run(cli_data_dir, "matter", "import", str(bad), "--errors-out", str(out))
    assert r.exit_code == 1
    lines = r.stderr.splitlines()
    assert "  row 3: code: matter C-1 already exists" in lines
    assert any(x.startswith("  row 4: name:") for x in lines)
    assert any(x.startswith("  row 5: department_code:") for x in lines)
    assert lines[-1].startswith("error: 3 of 3 rows have problems") and "Traceback" not in r.output
    assert load_workbook(out).active.max_row == 4
    r = run(cli_data_dir, "matter", "import", str(bad), "--department", "NOPE")
    assert r.exit_code == 1 and "no department with code NOPE" in r.stderr
    notxlsx = tmp_path / "x.xlsx"
    notxlsx.write_text("code,name\n", encoding="utf-8")
    r = run(cli_data_dir, "matter", "import", str(notxlsx))
    assert r.exit_code == 1 and "file: not an Excel .xlsx file" in r.stderr and "Traceback" not in r.output


def _write(path, rows):
    path.write_bytes(filled(rows))
    return path
