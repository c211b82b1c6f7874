"""证照类型管理 / 证照类型审核 pages (web/types.py) through Flask's client, with role and department isolation."""

from __future__ import annotations

import re

import pytest

from issuance import cert_types, certificates
from issuance.models import Catalog, CertificateType

from tests.conftest import PASSWORD
from tests.helpers import SAMPLE, approved_licence_type, basic, csrf, licence_values, login, web_app

OTHER = ("哈尔滨市公安局", "11230100MB0000002X")


@pytest.fixture
def app(world):
    return web_app(world.platform)


def client_of(app, username: str):
    """A client signed in as ``username``."""
    c = app.test_client()
    assert login(c, username, PASSWORD).status_code == 302
    return c


def post(c, path: str, data: dict | None = None, page: str = "/"):
    return c.post(path, data={"csrf_token": csrf(c, page), **(data or {})})


def draft_type(world, actor, code: str, name: str = "营业执照"):
    args = cert_types.from_sample(SAMPLE, code)
    args["name"] = name
    with world.uow() as uow:
        t = cert_types.create(uow, actor, **args)
        uow.commit()
        return t.id


def type_row(world, type_id):
    with world.uow() as uow:
        t = uow.session.get(CertificateType, type_id)
        return None if t is None else (t.name, t.status.value, [f.column_name for f in t.fields])


def count_types(world) -> int:
    with world.uow() as uow:
        return uow.session.query(CertificateType).count()


def type_form(**over) -> dict:
    data = {"name": "食品经营许可证", "code": "JY2301", "holder_type": "01", "review_interval_months": "12",
            "copy_validity_days": "30", "annual_review": "1",
            "fields-1-name": "经营者名称", "fields-1-column_name": "operator", "fields-1-value_type": "string",
            "fields-1-required": "1",
            "fields-4-name": "经营项目", "fields-4-column_name": "items", "fields-4-value_type": "enum",
            "fields-4-options": "预包装食品销售, 散装食品销售",
            "fields-5-name": "", "fields-5-column_name": ""}
    data.update(over)
    return data


@pytest.fixture
def other(world):
    dept, head = world.add_department(*OTHER)
    world.add_user("clerk_b", "clerk", dept.id)
    return dept, head


# --- access ---------------------------------------------------------------------------------------

def test_anonymous_is_sent_to_login_everywhere(app, world):
    tid = draft_type(world, world.clerk, "ANON1")
    c = app.test_client()
    for path in ("/types", "/types/new", f"/types/{tid}", f"/types/{tid}/edit", f"/types/{tid}/register",
                 "/types/review", f"/types/{tid}/review"):
        r = c.get(path)
        assert r.status_code == 302 and "/login" in r.headers["Location"], path
    token = csrf(c, "/login")
    for path in (f"/types/{tid}/submit", f"/types/{tid}/delete", "/types/new", f"/types/{tid}/review"):
        r = c.post(path, data={"csrf_token": token})
        assert r.status_code == 302 and "/login" in r.headers["Location"], path
    assert type_row(world, tid)[1] == "draft"


def test_reviewer_may_not_define_types_and_clerk_may_not_review(app, world):
    tid = draft_type(world, world.clerk, "ROLE1")
    rev = client_of(app, "reviewer1")
    for path in ("/types", "/types/new", f"/types/{tid}", f"/types/{tid}/edit", f"/types/{tid}/register"):
        assert rev.get(path).status_code == 403, path
    assert post(rev, f"/types/{tid}/delete").status_code == 403
    assert post(rev, f"/types/{tid}/submit").status_code == 403
    clerk = client_of(app, "clerk1")
    assert clerk.get("/types/review").status_code == 403
    assert clerk.get(f"/types/{tid}/review").status_code == 403
    assert post(clerk, f"/types/{tid}/review", {"decision": "approve"}).status_code == 403
    assert type_row(world, tid)[1] == "draft"


def test_another_department_cannot_see_or_change_a_type(app, world, other):
    tid = draft_type(world, world.clerk, "ISO1")
    before = type_row(world, tid)
    c = client_of(app, "clerk_b")
    for path in (f"/types/{tid}", f"/types/{tid}/edit", f"/types/{tid}/register"):
        assert c.get(path).status_code == 404, path
    assert post(c, f"/types/{tid}/edit", type_form(name="改名")).status_code == 404
    assert post(c, f"/types/{tid}/submit").status_code in (403, 404)
    assert post(c, f"/types/{tid}/delete").status_code in (403, 404)
    assert post(c, f"/types/{tid}/register", {"share_type": "public"}).status_code in (403, 404)
    assert type_row(world, tid) == before
    page = c.get("/types").get_data(as_text=True)
    assert "ISO1" not in page


# --- create, view, edit ---------------------------------------------------------------------------

def test_create_with_fields_then_view(app, world):
    c = client_of(app, "clerk1")
    page = c.get("/types/new").get_data(as_text=True)
    assert 'id="type-form"' in page and 'id="fields"' in page and 'id="add-field"' in page and 'id="submit"' in page
    assert page.count('name="fields-') >= 5 * 6  # spare rows work without JavaScript
    r = post(c, "/types/new", type_form(), "/types/new")
    assert r.status_code == 302
    tid = int(re.search(r"/types/(\d+)$", r.headers["Location"]).group(1))
    name, status, columns = type_row(world, tid)
    assert (name, status, columns) == ("食品经营许可证", "draft", ["operator", "items"])
    with world.uow() as uow:
        t = uow.session.get(CertificateType, tid)
        assert t.annual_review is True and t.department_id == world.dept.id
        assert t.fields[1].options == ["预包装食品销售", "散装食品销售"]
    view = c.get(f"/types/{tid}").get_data(as_text=True)
    assert "operator" in view and 'id="submit-review"' in view and "data-confirm" in view


def test_bad_input_is_shown_next_to_the_fields_and_nothing_is_written(app, world):
    c = client_of(app, "clerk1")
    n = count_types(world)
    r = post(c, "/types/new", type_form(name="", code="bad code", **{
        "fields-4-column_name": "operator", "fields-4-options": ""}), "/types/new")
    html = r.get_data(as_text=True)
    assert r.status_code == 400
    assert 'id="name-error"' in html and 'id="code-error"' in html
    assert "字段名重复" in html or "枚举类型请填写可选值" in html
    assert 'value="经营者名称"' in html  # what was typed is kept
    assert count_types(world) == n
    r = post(c, "/types/new", {"name": "x", "code": "X1"}, "/types/new")
    assert r.status_code == 400 and "至少需要一个信息项" in r.get_data(as_text=True)
    assert count_types(world) == n


def test_duplicate_code_is_a_field_error(app, world):
    draft_type(world, world.clerk, "JY2301")
    c = client_of(app, "clerk1")
    r = post(c, "/types/new", type_form(), "/types/new")
    assert r.status_code == 400 and "证照类型代码已被使用" in r.get_data(as_text=True)


def test_edit_replaces_fields_and_locks_them_once_certificates_exist(app, world):
    c = client_of(app, "clerk1")
    tid = draft_type(world, world.clerk, "EDIT1")
    form = c.get(f"/types/{tid}/edit").get_data(as_text=True)
    assert 'value="ENTNAME"' in form
    r = post(c, f"/types/{tid}/edit", type_form(code="EDIT1", name="新名称"))
    assert r.status_code == 302
    assert type_row(world, tid) == ("新名称", "draft", ["operator", "items"])
    # an approved type with a certificate keeps its fields
    t = approved_licence_type(world, "LOCK1")
    with world.uow() as uow:
        certificates.enter(uow, world.clerk, t.id, basic(1), licence_values())
        uow.commit()
    form = c.get(f"/types/{t.id}/edit").get_data(as_text=True)
    assert 'id="fields-locked"' in form and 'name="fields-1-name"' not in form
    r = post(c, f"/types/{t.id}/edit", {"name": "营业执照（新）", "code": "LOCK1", "holder_type": "01"})
    assert r.status_code == 302
    name, status, columns = type_row(world, t.id)
    assert name == "营业执照（新）" and status == "approved" and "ENTNAME" in columns


# --- list -----------------------------------------------------------------------------------------

def test_list_filters_sorts_and_pages_on_the_server(app, world, other):
    for i, name in enumerate(["甲证", "乙证", "丙证"]):
        draft_type(world, world.clerk, f"LST{i}", name)
    draft_type(world, other[1], "FOREIGN1", "外部门证")
    c = client_of(app, "clerk1")
    page = c.get("/types?text=LST1").get_data(as_text=True)
    assert "LST1" in page and "LST0" not in page
    page = c.get("/types?sort=code&size=2").get_data(as_text=True)
    assert page.index("LST0") < page.index("LST1") and "LST2" not in page and "共 3 条" in page
    page = c.get("/types?sort=-code&size=2&page=2").get_data(as_text=True)
    assert "LST0" in page and "LST2" not in page
    assert "FOREIGN1" not in c.get("/types?size=50").get_data(as_text=True)
    assert c.get("/types?status=nonsense").status_code == 400
    assert c.get("/types?page=0").status_code == 400
    admin = client_of(app, "admin")
    assert "FOREIGN1" in admin.get("/types?size=50").get_data(as_text=True)


# --- submit, review, register, delete -------------------------------------------------------------

def test_submit_review_reject_with_reason_then_approve(app, world):
    c = client_of(app, "clerk1")
    tid = draft_type(world, world.clerk, "REV1")
    assert post(c, f"/types/{tid}/submit").status_code == 302
    assert type_row(world, tid)[1] == "submitted"
    assert post(c, f"/types/{tid}/edit", type_form(code="REV1")).status_code == 409  # under review
    admin = client_of(app, "admin")
    listing = admin.get("/types/review").get_data(as_text=True)
    assert "REV1" in listing
    page = admin.get(f"/types/{tid}/review").get_data(as_text=True)
    assert 'id="review-form"' in page and 'id="approve"' in page and 'id="reject"' in page and 'name="reason"' in page
    r = post(admin, f"/types/{tid}/review", {"decision": "reject", "reason": ""})
    assert r.status_code == 400 and 'id="reason-error"' in r.get_data(as_text=True)
    assert type_row(world, tid)[1] == "submitted"
    r = post(admin, f"/types/{tid}/review", {"decision": "reject", "reason": "信息项不全"})
    assert r.status_code == 302 and type_row(world, tid)[1] == "draft"
    view = c.get(f"/types/{tid}").get_data(as_text=True)
    assert "信息项不全" in view and 'data-state="rejected"' in view  # back to draft, shown as 已驳回
    assert re.search(rf'<tr[^>]*>(?:(?!</tr>).)*REV1(?:(?!</tr>).)*data-state="rejected"', c.get("/types").get_data(
        as_text=True), re.S)
    post(c, f"/types/{tid}/submit")
    assert 'data-state="rejected"' not in c.get(f"/types/{tid}").get_data(as_text=True)
    r = post(admin, f"/types/{tid}/review", {"decision": "approve"})
    assert r.status_code == 302 and type_row(world, tid)[1] == "approved"
    assert post(admin, f"/types/{tid}/review", {"decision": "approve"}).status_code == 409


def test_register_as_catalog(app, world):
    t = approved_licence_type(world, "REG1")
    c = client_of(app, "clerk1")
    page = c.get(f"/types/{t.id}/register").get_data(as_text=True)
    assert 'id="catalog-form"' in page and 'id="share-on_demand"' in page and "用证申请后需经发证部门审核" in page
    r = post(c, f"/types/{t.id}/register", {"share_type": ""})
    assert r.status_code == 400 and 'id="share_type-error"' in r.get_data(as_text=True)
    r = post(c, f"/types/{t.id}/register", {"share_type": "on_demand", "description": "按需共享"})
    assert r.status_code == 302
    with world.uow() as uow:
        cat = uow.session.query(Catalog).filter_by(type_id=t.id).one()
        assert (cat.share_type.value, cat.status.value) == ("on_demand", "submitted")
    draft = draft_type(world, world.clerk, "REG2")
    r = post(c, f"/types/{draft}/register", {"share_type": "public"})
    assert r.status_code == 400 and "审核通过后才能注册" in r.get_data(as_text=True)


def test_delete_asks_first_and_removes(app, world):
    c = client_of(app, "clerk1")
    tid = draft_type(world, world.clerk, "DEL1")
    listing = c.get("/types").get_data(as_text=True)
    assert f'action="/types/{tid}/delete" class="inline" data-confirm="删除操作不能恢复，确定删除吗？"' in listing
    assert post(c, f"/types/{tid}/delete").status_code == 302
    assert type_row(world, tid) is None


def test_designer_links_only_when_the_designer_exists(app, world):
    c = client_of(app, "clerk1")
    tid = draft_type(world, world.clerk, "DSG1")
    page = c.get(f"/types/{tid}").get_data(as_text=True)
    assert ('id="design"' in page) == ("designer.edit" in app.view_functions)
