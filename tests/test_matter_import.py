import subprocess
import sys
import zipfile
from io import BytesIO
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select

from issuance import matters
from issuance.errors import ValidationError
from issuance.matter_import import build_template, error_report, import_matters
from issuance.models import Matter


def filled(rows, template=True) -> bytes:
    wb = load_workbook(BytesIO(build_template())) if template else Workbook()
    ws = wb["事项"] if template else wb.active
    for r in rows:
        ws.append(r)
    out = BytesIO()
    wb.save(out)
    return out.getvalue()


def count(world):
    with world.uow() as uow:
        return uow.session.execute(select(func.count()).select_from(Matter)).scalar()


def test_template_round_trip_skips_example_and_blank_rows(world):
    data = filled([["230100-XK-001", "企业设立登记", "行政许可", "", "", ""], [None] * 6,
                   [12345, "数字编码事项", "", "", "", world.dept.code]])
    with world.uow() as uow:
        report = import_matters(uow, world.clerk, data)
        uow.commit()
    assert (report.rows, report.created) == (2, 2)
    with world.uow() as uow:
        codes = {m.code: m.department_id for m in matters.search(uow, world.clerk).items}
    assert codes == {"230100-XK-001": world.dept.id, "12345": world.dept.id}


def test_bad_rows_are_all_reported_and_nothing_is_written(world):
    other, _ = world.add_department("大庆市市场监督管理局", "11230600MB0000002X", "230600")
    with world.uow() as uow:
        matters.create(uow, world.clerk, code="EXISTS-1", name="已有事项")
        uow.commit()
    before = count(world)
    data = filled([
        ["GOOD-1", "正常事项", "", "", "", ""],
        ["GOOD-2", "", "", "", "", ""],                       # row 4: no name
        ["bad code", "编码不合法", "", "", "", ""],            # row 5
        ["GOOD-1", "编码重复", "", "", "", ""],                # row 6: duplicate in file
        ["EXISTS-1", "已存在", "", "", "", ""],                # row 7
        ["X-9", "未知部门", "", "", "", "NOPE"],               # row 8
        ["X-10", "别的部门", "", "", "", other.code],          # row 9: clerk of another department
    ])
    with world.uow() as uow:
        with pytest.raises(ValidationError) as e:
            import_matters(uow, world.clerk, data)
    assert set(e.value.errors) == {"row 4: name", "row 5: code", "row 6: code", "row 7: code",
                                   "row 8: department_code", "row 9: department_code"}
    assert "nothing was imported" in str(e.value)
    assert count(world) == before
    report = load_workbook(BytesIO(error_report(e.value.errors))).active
    assert [c.value for c in report[1]] == ["行号", "列", "问题"]
    assert report.max_row == 7 and report.cell(2, 1).value == 4 and report.cell(2, 2).value == "事项名称"


def test_admin_may_import_for_any_department(world):
    other, _ = world.add_department("大庆市市场监督管理局", "11230600MB0000002X", "230600")
    with world.uow() as uow:
        import_matters(uow, world.admin, filled([["A-1", "管理员导入", "", "", "", other.code]]))
        uow.commit()
    with world.uow() as uow:
        assert matters.search(uow, world.admin, department_id=other.id).total == 1
        with pytest.raises(ValidationError, match="without a current department"):
            import_matters(uow, world.admin, filled([["A-2", "无部门", "", "", "", ""]]))


@pytest.mark.parametrize("data, why", [
    (b"name,code\nx,y\n", "not an Excel"),
    (b"PK\x03\x04garbage", "damaged"),
    (b"PK\x03\x04" + b"0" * (6 * 1024 * 1024), "larger than"),
])
def test_not_a_workbook(world, data, why):
    with world.uow() as uow:
        with pytest.raises(ValidationError, match=why):
            import_matters(uow, world.clerk, data)


def test_zip_bomb_is_refused_before_parsing(world):
    buf = BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("xl/worksheets/sheet1.xml", b"\0" * (60 * 1024 * 1024))
    assert len(buf.getvalue()) < 1024 * 1024
    with world.uow() as uow:
        with pytest.raises(ValidationError, match="expands to more than"):
            import_matters(uow, world.clerk, buf.getvalue())


def test_entry_escaping_the_root_is_refused(world):
    buf = BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("../evil.xml", b"x")
    with world.uow() as uow:
        with pytest.raises(ValidationError, match="unsafe entry"):
            import_matters(uow, world.clerk, buf.getvalue())


def test_missing_header_column_empty_file_and_too_many_rows(world):
    wb = Workbook()
    wb.active.append(["事项编码", "名称"])
    out = BytesIO()
    wb.save(out)
    with world.uow() as uow:
        with pytest.raises(ValidationError, match="lacks the columns: 事项名称"):
            import_matters(uow, world.clerk, out.getvalue())
        with pytest.raises(ValidationError, match="no matters"):
            import_matters(uow, world.clerk, build_template())
        rows = [[f"M-{i}", "事项", "", "", "", ""] for i in range(12)]
        with pytest.raises(ValidationError, match="more than 10 rows"):
            import_matters(uow, world.clerk, filled(rows), max_rows=10)


def test_cli_template_and_import(sqlite_data_dir, tmp_path):
    bin_ = str(Path(sys.executable).with_name("certledger"))
    base = [bin_, "--data-dir", str(sqlite_data_dir)]
    # the data dir of this fixture has no tenant yet: bootstrap it the way `init` does
    from certledger.config import load_settings
    from certledger.runtime import Platform
    from issuance import bootstrap, departments
    from issuance.context import Actor

    p = Platform(load_settings(sqlite_data_dir, environ={}))
    with p.uow() as uow:
        tenant = bootstrap.initialise(uow, p.policy, "230000", "黑龙江省")
        admin = Actor(None, "t", tenant.id, None, is_admin=True)
        d = departments.apply(uow, admin, name="测试局", code="DEPT01", region_code="230100")
        departments.review(uow, admin, d.id, True)
        uow.commit()
    p.close()
    tpl = tmp_path / "t.xlsx"
    r = subprocess.run(base + ["matter", "template", str(tpl)], capture_output=True, text=True)
    assert r.returncode == 0 and tpl.exists()
    good = tmp_path / "good.xlsx"
    good.write_bytes(filled([["C-1", "命令行导入", "", "", "", "DEPT01"]]))
    r = subprocess.run(base + ["matter", "import", str(good)], capture_output=True, text=True)
    assert r.returncode == 0 and "imported 1 matters" in r.stdout, r.stderr
    bad = tmp_path / "bad.xlsx"
    bad.write_bytes(filled([["C-1", "重复", "", "", "", "DEPT01"], ["C-2", "", "", "", "", "DEPT01"]]))
    out = tmp_path / "errors.xlsx"
    r = subprocess.run(base + ["matter", "import", str(bad), "--errors-out", str(out)], capture_output=True, text=True)
    assert r.returncode == 1
    assert "row 3: code: matter C-1 already exists" in r.stderr and "row 4: name" in r.stderr
    assert out.exists()
