from datetime import date, datetime

import pytest

from issuance import cert_types, catalogs, certificates, matters
from issuance.field_values import parse_date
from issuance.errors import Conflict, IllegalTransition, NotFound, PermissionDenied, ValidationError
from issuance.models import ShareType
from issuance.models.org import ReviewState
from tests.helpers import SAMPLE, approved_licence_type, basic, licence_values


def test_type_fields_are_validated_together(world):
    fields = [
        {"name": "名称", "column_name": "ENTNAME", "value_type": "string"},
        {"name": "名称", "column_name": "entname", "value_type": "string"},
        {"name": "类型", "column_name": "1bad", "value_type": "colour"},
        {"name": "级别", "column_name": "level", "value_type": "enum"},
    ]
    with world.uow() as uow:
        with pytest.raises(ValidationError) as e:
            cert_types.create(uow, world.dept_admin, fields=fields, name="测试", code="T01")
    assert set(e.value.errors) == {"fields[2].name", "fields[2].column_name", "fields[3].column_name",
                                   "fields[3].value_type", "fields[4].options"}


def test_all_value_types_validate(world):
    fields = [
        {"name": "文本", "column_name": "t", "value_type": "text"},
        {"name": "数值", "column_name": "n", "value_type": "number"},
        {"name": "日期", "column_name": "d", "value_type": "date"},
        {"name": "等级", "column_name": "e", "value_type": "enum", "options": "甲,乙,丙"},
        {"name": "身份证号", "column_name": "idn", "value_type": "id_number"},
        {"name": "信用代码", "column_name": "u", "value_type": "uscc"},
        {"name": "照片", "column_name": "img", "value_type": "image"},
    ]
    with world.uow() as uow:
        t = cert_types.create(uow, world.dept_admin, fields=fields, name="全类型", code="ALLTYPES1")
        cert_types.submit(uow, world.dept_admin, t.id)
        cert_types.review(uow, world.admin, t.id, True)
        uow.commit()
    png = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
    good = {"t": "多行\n文本", "n": "12.50", "d": "2024年3月1日", "e": "乙", "idn": "11010519491231002X",
            "u": basic(3)["holder_code"], "img": png}
    with world.uow() as uow:
        c = certificates.enter(uow, world.clerk, t.id, basic(1), good)
        vals = certificates.values_of(uow, c)
    assert vals["n"] == "12.5" and vals["d"] == "2024-03-01"
    bad = {"t": "", "n": "12,5", "d": "2024-02-30", "e": "丁", "idn": "110105194912310021",
           "u": "91230199XXXXXXXXXX", "img": "data:image/png;base64,AAAA"}
    with world.uow() as uow:
        with pytest.raises(ValidationError) as e:
            certificates.enter(uow, world.clerk, t.id, basic(2), bad)
    assert set(e.value.errors) == {"n", "d", "e", "idn", "u", "img"}


@pytest.mark.parametrize("text, expected", [
    ("2024-03-01", date(2024, 3, 1)),
    (" 2024-03-01 ", date(2024, 3, 1)),
    ("20240301", date(2024, 3, 1)),
    ("2024年3月1日", date(2024, 3, 1)),
    ("1995年03月01日", date(1995, 3, 1)),
    ("2024-03-01 00:00:00", date(2024, 3, 1)),          # a spreadsheet cell's date-time as text
    ("2024-03-01T08:30:00+08:00", date(2024, 3, 1)),    # a JSON client's date-time
    (datetime(2024, 3, 1, 0, 0), date(2024, 3, 1)),
    (date(2024, 3, 1), date(2024, 3, 1)),
])
def test_parse_date_accepts_dates_and_date_times(text, expected):
    parsed = parse_date(text)
    assert parsed == expected and type(parsed) is date


@pytest.mark.parametrize("text", [
    "2024-03-01garbage", "2024-03-01 garbage", "2024-03-01T", "2024-03-01 25:00", "2024-03-01/2024-04-01",
    "2024年3月1日garbage", "x2024-03-01", "2024-02-30", "2024-03", "", "二〇二四年三月一日",
])
def test_parse_date_refuses_anything_but_a_date(text):
    with pytest.raises(ValueError, match="expected a date such as 2024-03-01"):
        parse_date(text)


def test_trailing_text_after_a_date_is_refused_at_entry(world):
    fields = [{"name": "成立日期", "column_name": "estdate", "value_type": "date", "required": True}]
    with world.uow() as uow:
        t = cert_types.create(uow, world.dept_admin, fields=fields, name="带日期", code="DATE01")
        cert_types.submit(uow, world.dept_admin, t.id)
        cert_types.review(uow, world.admin, t.id, True)
        uow.commit()
    with world.uow() as uow:
        with pytest.raises(ValidationError) as e:
            certificates.enter(uow, world.clerk, t.id, basic(1, valid_to="2044-02-29garbage"), {"estdate": "2019-02-03x"})
    assert set(e.value.errors) == {"valid_to", "estdate"}
    assert "expected a date" in e.value.errors["valid_to"] and "expected a date" in e.value.errors["estdate"]
    with world.uow() as uow:
        c = certificates.enter(uow, world.clerk, t.id, basic(1, issue_date="2024-03-01 00:00:00"),
                               {"estdate": "2019年2月3日"})
        assert c.issue_date == date(2024, 3, 1) and certificates.values_of(uow, c)["estdate"] == "2019-02-03"


def test_type_review_by_admin_and_rejection_returns_to_draft(world):
    with world.uow() as uow:
        t = cert_types.create(uow, world.dept_admin, **cert_types.from_sample(SAMPLE, "LIC0001"))
        cert_types.submit(uow, world.dept_admin, t.id)
        with pytest.raises(IllegalTransition, match="under review"):
            cert_types.update(uow, world.dept_admin, t.id, description="x")
        with pytest.raises(PermissionDenied):
            cert_types.review(uow, world.dept_admin, t.id, True)
        cert_types.review(uow, world.admin, t.id, False, "信息项不完整")
        assert t.status is ReviewState.DRAFT
        cert_types.update(uow, world.dept_admin, t.id, description="补充说明")
        uow.commit()


def test_fields_can_be_saved_again_with_their_column_names(world):
    """An edit resends every field, most with unchanged column names (unique per type)."""
    args = cert_types.from_sample(SAMPLE, "LIC0002")
    with world.uow() as uow:
        t = cert_types.create(uow, world.dept_admin, **args)
        uow.commit()
    kept = [dict(f, name=f["name"] + "（新）") for f in args["fields"]]
    with world.uow() as uow:
        cert_types.update(uow, world.dept_admin, t.id, fields=kept)
        uow.commit()
    with world.uow() as uow:
        again = cert_types.get(uow, world.dept_admin, t.id)
        assert [f.column_name for f in again.fields] == [f["column_name"] for f in args["fields"]]
        assert all(f.name.endswith("（新）") for f in again.fields)


def test_type_code_unique_and_fields_frozen_once_used(world):
    t = approved_licence_type(world)
    with world.uow() as uow:
        with pytest.raises(Conflict):
            cert_types.create(uow, world.dept_admin, **cert_types.from_sample(SAMPLE, t.code))
        certificates.enter(uow, world.clerk, t.id, basic(1), licence_values())
        uow.commit()
    with world.uow() as uow:
        with pytest.raises(ValidationError, match="fields cannot change"):
            cert_types.update(uow, world.dept_admin, t.id, fields=[{"name": "x", "column_name": "x"}])
        with pytest.raises(Conflict):
            cert_types.delete(uow, world.dept_admin, t.id)


def test_catalog_registration_review_reregistration_and_disable(world):
    t = approved_licence_type(world)
    with world.uow() as uow:
        with pytest.raises(ValidationError):
            catalogs.register(uow, world.dept_admin, t.id, "everyone")
        cat = catalogs.register(uow, world.dept_admin, t.id, "on_demand")
        assert cat.status is ReviewState.SUBMITTED and not catalogs.can_apply_for_use(cat)
        with pytest.raises(Conflict):
            catalogs.register(uow, world.dept_admin, t.id, "public")
        catalogs.review(uow, world.admin, cat.id, True)
        assert catalogs.can_apply_for_use(cat)
        cat = catalogs.register(uow, world.dept_admin, t.id, "none")  # re-registration goes back to review
        assert cat.version == 2 and cat.status is ReviewState.SUBMITTED
        catalogs.review(uow, world.admin, cat.id, True)
        assert cat.share_type is ShareType.NONE and not catalogs.can_apply_for_use(cat)
        catalogs.disable(uow, world.dept_admin, cat.id)
        with pytest.raises(IllegalTransition, match="cannot be restored"):
            catalogs.register(uow, world.dept_admin, t.id, "public")
        uow.commit()


def test_unapproved_type_cannot_be_registered(world):
    with world.uow() as uow:
        t = cert_types.create(uow, world.dept_admin, **cert_types.from_sample(SAMPLE, "LIC0002"))
        with pytest.raises(ValidationError, match="type review"):
            catalogs.register(uow, world.dept_admin, t.id, "public")


def test_matters_crud_links_and_isolation(world):
    t = approved_licence_type(world)
    other, other_admin = world.add_department("大庆市市场监督管理局", "11230600MB0000002X", "230600")
    with world.uow() as uow:
        m = matters.create(uow, world.clerk, code="230100-XK-001", name="企业设立登记", category="行政许可")
        with pytest.raises(Conflict):
            matters.create(uow, world.clerk, code="230100-XK-001", name="重复")
        with pytest.raises(ValidationError):
            matters.create(uow, world.clerk, code="bad code", name="")
        with pytest.raises(PermissionDenied):
            matters.create(uow, world.clerk, department_id=other.id, code="X2", name="别的部门")
        matters.create(uow, world.admin, department_id=other.id, code="X3", name="管理员代填")
        matters.link(uow, world.clerk, m.id, t.id, "issues")
        matters.link(uow, world.clerk, m.id, t.id, "uses")
        with pytest.raises(Conflict):
            matters.link(uow, world.clerk, m.id, t.id, "uses")
        uow.commit()
    with world.uow() as uow:
        assert matters.search(uow, world.clerk).total == 1
        assert matters.search(uow, world.admin).total == 2
        with pytest.raises(NotFound):
            matters.get(uow, other_admin, m.id)
        assert [l.kind.value for l in matters.links(uow, world.clerk, m.id)] == ["issues", "uses"]
        # the issuing matter can now be named on a certificate
        c = certificates.enter(uow, world.clerk, t.id, basic(1, matter_code="230100-XK-001"), licence_values())
        assert c.matter_name == "企业设立登记"
