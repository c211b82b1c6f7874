"""事项 pages (web/matters.py): list, new, edit, delete, Excel import, 事项用证 / 事项发证; roles and isolation."""

from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook

from issuance import matters
from issuance.matter_import import SHEET, build_template
from issuance.models import Matter, MatterTypeLink

from tests.helpers import approved_licence_type, csrf, web_app
from tests.test_web_types import OTHER, client_of, post


@pytest.fixture
def app(world):
    return web_app(world.platform)


@pytest.fixture
def other(world):
    dept, head = world.add_department(*OTHER)
    world.add_user("clerk_b", "clerk", dept.id)
    return dept, head


def new_matter(world, actor, code, name="企业设立登记") -> int:
    with world.uow() as uow:
        m = matters.create(uow, actor, code=code, name=name)
        uow.commit()
        return m.id


def matter_row(world, mid):
    with world.uow() as uow:
        m = uow.session.get(Matter, mid)
        return None if m is None else (m.code, m.name, m.department_id)


def link_count(world) -> int:
    with world.uow() as uow:
        return uow.session.query(MatterTypeLink).count()


def workbook(rows) -> bytes:
    wb = load_workbook(io.BytesIO(build_template()))
    for r in rows:
        wb[SHEET].append(r)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def upload(c, data: bytes):
    return c.post("/matters/import", data={"csrf_token": csrf(c, "/matters"),
                                           "file": (io.BytesIO(data), "matters.xlsx")},
                  content_type="multipart/form-data")


def test_anonymous_is_sent_to_login(app, world):
    mid = new_matter(world, world.clerk, "ANON-1")
    c = app.test_client()
    for path in ("/matters", "/matters/new", f"/matters/{mid}/edit", "/matters/import/template.xlsx",
                 "/matters/import/report.xlsx", "/matters/uses", "/matters/issues"):
        r = c.get(path)
        assert r.status_code == 302 and "/login" in r.headers["Location"], path
    token = csrf(c, "/login")
    for path in (f"/matters/{mid}/delete", "/matters/new", "/matters/import", "/matters/links/uses",
                 "/matters/links/1/delete"):
        r = c.post(path, data={"csrf_token": token})
        assert r.status_code == 302 and "/login" in r.headers["Location"], path
    assert matter_row(world, mid) is not None


def test_reviewer_is_refused(app, world):
    mid = new_matter(world, world.clerk, "ROLE-1")
    c = client_of(app, "reviewer1")
    for path in ("/matters", "/matters/new", f"/matters/{mid}/edit", "/matters/import/template.xlsx",
                 "/matters/uses", "/matters/issues"):
        assert c.get(path).status_code == 403, path
    assert post(c, f"/matters/{mid}/delete").status_code == 403
    assert post(c, "/matters/links/uses", {"matter_id": mid, "type_id": 1}).status_code == 403
    assert matter_row(world, mid) is not None


def test_another_department_cannot_see_or_change_a_matter(app, world, other):
    mid = new_matter(world, world.clerk, "ISO-1", "本部门事项")
    t = approved_licence_type(world, "MLNK1")
    with world.uow() as uow:
        link_id = matters.link(uow, world.clerk, mid, t.id, "uses").id
        uow.commit()
    c = client_of(app, "clerk_b")
    assert "ISO-1" not in c.get("/matters").get_data(as_text=True)
    assert "ISO-1" not in c.get("/matters/uses").get_data(as_text=True)
    assert c.get(f"/matters/{mid}/edit").status_code == 404
    assert post(c, f"/matters/{mid}/edit", {"code": "ISO-1", "name": "改名"}).status_code == 404
    assert post(c, f"/matters/{mid}/delete").status_code == 404
    assert post(c, f"/matters/links/{link_id}/delete").status_code == 404
    assert post(c, "/matters/links/issues", {"matter_id": mid, "type_id": t.id}).status_code == 404
    assert matter_row(world, mid) == ("ISO-1", "本部门事项", world.dept.id) and link_count(world) == 1
    admin = client_of(app, "admin")
    assert "ISO-1" in admin.get("/matters").get_data(as_text=True)  # the admin sees every department's


def test_new_edit_delete(app, world):
    c = client_of(app, "clerk1")
    assert 'id="matter-form"' in c.get("/matters/new").get_data(as_text=True)
    r = post(c, "/matters/new", {"code": "XK-001", "name": "食品经营许可", "category": "行政许可"})
    assert r.status_code == 302
    with world.uow() as uow:
        m = uow.session.query(Matter).filter_by(code="XK-001").one()
        mid = m.id
        assert m.department_id == world.dept.id  # the creator's department
    r = post(c, f"/matters/{mid}/edit", {"code": "XK-001", "name": "食品经营许可（变更）"})
    assert r.status_code == 302 and matter_row(world, mid)[1] == "食品经营许可（变更）"
    listing = c.get("/matters").get_data(as_text=True)
    assert f'action="/matters/{mid}/delete" class="inline" data-confirm="删除操作不能恢复，确定删除吗？"' in listing
    assert post(c, f"/matters/{mid}/delete").status_code == 302 and matter_row(world, mid) is None


def test_bad_input_next_to_the_field(app, world):
    new_matter(world, world.clerk, "DUP-1")
    c = client_of(app, "clerk1")
    with world.uow() as uow:
        n = uow.session.query(Matter).count()
    r = post(c, "/matters/new", {"code": "bad code!", "name": ""})
    html = r.get_data(as_text=True)
    assert r.status_code == 400 and 'id="code-error"' in html and 'id="name-error"' in html
    r = post(c, "/matters/new", {"code": "DUP-1", "name": "重复"})
    assert r.status_code == 400 and "事项编码已存在" in r.get_data(as_text=True)
    with world.uow() as uow:
        assert uow.session.query(Matter).count() == n


def test_list_filters_sorts_pages(app, world, other):
    for code in ("B-2", "A-1", "C-3"):
        new_matter(world, world.clerk, code, f"事项{code}")
    new_matter(world, other[1], "Z-9", "外部门事项")
    c = client_of(app, "clerk1")
    page = c.get("/matters?sort=-code").get_data(as_text=True)
    assert page.index("C-3") < page.index("B-2") < page.index("A-1") and "Z-9" not in page
    page = c.get("/matters?text=B-2").get_data(as_text=True)
    assert "B-2" in page and "A-1" not in page
    page = c.get("/matters?size=2&sort=code&page=2").get_data(as_text=True)
    assert "C-3" in page and "A-1" not in page
    admin = client_of(app, "admin")
    page = admin.get(f"/matters?department={other[0].id}").get_data(as_text=True)
    assert "Z-9" in page and "A-1" not in page


def test_import_all_or_nothing_with_error_report(app, world):
    c = client_of(app, "clerk1")
    r = c.get("/matters/import/template.xlsx")
    assert r.status_code == 200 and r.data[:2] == b"PK"
    assert 'id="download-template"' in c.get("/matters").get_data(as_text=True)
    bad = workbook([["IMP-1", "事项一"], ["IMP-2", ""], ["IMP-1", "重复"]])
    r = upload(c, bad)
    html = r.get_data(as_text=True)
    assert r.status_code == 400 and 'id="import-errors"' in html and "row 4" in html
    with world.uow() as uow:
        assert uow.session.query(Matter).filter(Matter.code.like("IMP-%")).count() == 0
    report = c.get("/matters/import/report.xlsx")
    assert report.status_code == 200
    rows = list(load_workbook(io.BytesIO(report.data)).active.iter_rows(values_only=True))
    assert rows[0] == ("行号", "列", "问题") and {r[0] for r in rows[1:]} >= {4, 5}
    r = upload(c, b"not a workbook")
    assert r.status_code == 400 and 'id="file-error"' in r.get_data(as_text=True)
    r = upload(c, workbook([["IMP-1", "事项一"], ["IMP-2", "事项二"]]))
    assert r.status_code == 302
    with world.uow() as uow:
        assert uow.session.query(Matter).filter(Matter.code.like("IMP-%")).count() == 2
    assert c.get("/matters/import/report.xlsx").status_code == 404  # a success clears the old report


def test_links_uses_and_issues(app, world, other):
    mid = new_matter(world, world.clerk, "LNK-1", "设立登记")
    mine = approved_licence_type(world, "LNKT1", name="营业执照")
    c = client_of(app, "clerk1")
    page = c.get("/matters/uses").get_data(as_text=True)
    assert 'id="link-form"' in page and "LNK-1" in page
    r = post(c, "/matters/links/uses", {"matter_id": mid, "type_id": mine.id})
    assert r.status_code == 302 and link_count(world) == 1
    r = post(c, "/matters/links/uses", {"matter_id": mid, "type_id": mine.id})
    assert r.status_code == 400 and "已关联" in r.get_data(as_text=True) and link_count(world) == 1
    r = post(c, "/matters/links/uses", {"matter_id": "", "type_id": mine.id})
    assert r.status_code == 400 and 'id="matter_id-error"' in r.get_data(as_text=True)
    uses = c.get("/matters/uses?text=LNK").get_data(as_text=True)
    assert "营业执照" in uses and 'data-confirm="删除操作不能恢复，确定删除吗？"' in uses
    assert "LNK-1" not in c.get("/matters/issues?text=LNK").get_data(as_text=True).split('id="links-list"')[1]
    assert post(c, "/matters/links/issues", {"matter_id": mid, "type_id": mine.id}).status_code == 302
    with world.uow() as uow:
        link_id = uow.session.query(MatterTypeLink).filter_by(kind="uses").one().id
    assert post(c, f"/matters/links/{link_id}/delete", {"kind": "uses"}).status_code == 302
    assert link_count(world) == 1
    assert post(c, "/matters/links/bogus", {"matter_id": mid, "type_id": mine.id}).status_code == 404
