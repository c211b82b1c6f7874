"""录入 pages (web/entry.py) through Flask's client against a real platform: the entry form built
from a type, the list (filter, sort, page), edit/view/delete/submit, batch submit, Excel import,
and role and department isolation on every route."""

from __future__ import annotations

import io
import re
from datetime import date

import pytest
from openpyxl import load_workbook
from PIL import Image
from sqlalchemy import func, select

from issuance import cert_types, certificates
from issuance.certificate_import import SHEET
from issuance.certificates import Entry
from issuance.models import Certificate, CertificateStatus as S
from tests.conftest import PASSWORD
from tests.helpers import csrf, login, valid_uscc, web_app

FIELDS = [
    {"name": "企业名称", "column_name": "ENTNAME", "value_type": "string", "required": True},
    {"name": "注册资本", "column_name": "regcap", "value_type": "number"},
    {"name": "成立日期", "column_name": "estdate", "value_type": "date", "required": True},
    {"name": "等级", "column_name": "grade", "value_type": "enum", "options": "甲级,乙级,丙级"},
    {"name": "负责人身份证号", "column_name": "idn", "value_type": "id_number"},
    {"name": "机构代码", "column_name": "orgcode", "value_type": "uscc"},
    {"name": "备注", "column_name": "remark", "value_type": "text"},
    {"name": "照片", "column_name": "photo", "value_type": "image"},
]
ID_NUMBER = "11010519491231002X"


def approved_type(world, actor, code: str) -> int:
    with world.uow() as uow:
        t = cert_types.create(uow, actor, fields=FIELDS, name=f"资质证书{code}", code=code)
        cert_types.submit(uow, actor, t.id)
        uow.commit()
        tid = t.id
    with world.uow() as uow:
        cert_types.review(uow, world.admin, tid, True)
        uow.commit()
    return tid


def enter(world, actor, type_id: int, seed: int, **over) -> int:
    b = {"holder": f"企业{seed:03d}", "holder_code": valid_uscc(seed), "number": f"ZZ-{seed:05d}",
         "issue_date": "2024-03-01"}
    b.update(over)
    with world.uow() as uow:
        c = certificates.enter_many(uow, actor, type_id, [Entry(b, {"ENTNAME": f"企业{seed}", "estdate": "2019-02-03"})])[0]
        uow.commit()
        return c.id


def status_of(world, cert_id: int):
    with world.uow() as uow:
        c = uow.session.get(Certificate, cert_id)
        return None if c is None else c.status


def count(world) -> int:
    with world.uow() as uow:
        return uow.session.execute(select(func.count()).select_from(Certificate)).scalar()


@pytest.fixture
def ew(world):
    """The world with a type in each of two departments and a clerk of the second."""
    world.type_id = approved_type(world, world.dept_admin, "QUAL01")
    dept_b, admin_b = world.add_department("哈尔滨市教育局", "11230100MB0000002X")
    world.dept_b = dept_b
    world.clerk_b = world.add_user("clerk_b", "clerk", dept_b.id)
    world.type_b = approved_type(world, admin_b, "QUAL02")
    return world


@pytest.fixture
def client(world):
    return web_app(world.platform).test_client()


def post(client, path, data=None, page=None, **kw):
    token = csrf(client, page or "/entry")
    return client.post(path, data={**(data or {}), "csrf_token": token}, **kw)


def png_bytes(w=8, h=8) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (w, h), (200, 10, 10)).save(out, "PNG")
    return out.getvalue()


def form_data(seed: int = 7, **over) -> dict:
    d = {"holder": "哈尔滨某某科技有限公司", "holder_type": "01", "holder_code": valid_uscc(seed),
         "number": f"WEB-{seed:04d}", "issue_date": "2024-03-01", "valid_from": "2024-03-01", "valid_to": "2029-02-28",
         "area_code": "", "matter_code": "", "name": "",
         "f_ENTNAME": "哈尔滨某某科技有限公司", "f_regcap": "500", "f_estdate": "2019-02-03", "f_grade": "甲级",
         "f_idn": ID_NUMBER, "f_orgcode": valid_uscc(99), "f_remark": "第一行\n第二行"}
    d.update(over)
    return d


# --- role and department isolation ---------------------------------------------------------------

def routes(type_id: int, cert_id: int):
    return [("GET", "/entry"), ("GET", f"/entry/new/{type_id}"), ("POST", f"/entry/new/{type_id}"),
            ("GET", f"/entry/{cert_id}"), ("GET", f"/entry/{cert_id}/edit"), ("POST", f"/entry/{cert_id}/edit"),
            ("POST", f"/entry/{cert_id}/delete"), ("POST", f"/entry/{cert_id}/submit"), ("POST", "/entry/submit"),
            ("GET", f"/entry/import/{type_id}/template.xlsx"), ("GET", f"/entry/import/{type_id}"),
            ("POST", f"/entry/import/{type_id}")]


def test_anonymous_is_sent_to_login_everywhere(ew, client):
    cid = enter(ew, ew.clerk, ew.type_id, 1)
    for method, path in routes(ew.type_id, cid):
        if method == "GET":
            r = client.get(path)
        else:  # a CSRF token of the anonymous session: the login redirect must come first
            token = csrf(client, "/login")
            r = client.post(path, data={"csrf_token": token})
        assert r.status_code == 302 and "/login" in r.headers["Location"], (method, path, r.status_code)
    assert status_of(ew, cid) is S.DRAFT


def test_reviewer_may_not_enter(ew, client):
    cid = enter(ew, ew.clerk, ew.type_id, 1)
    login(client, "reviewer1", PASSWORD)
    for method, path in routes(ew.type_id, cid):
        r = client.get(path) if method == "GET" else post(client, path, page="/account/profile")
        assert r.status_code == 403, (method, path, r.status_code)
    assert status_of(ew, cid) is S.DRAFT and count(ew) == 1


def test_clerk_of_another_department_cannot_see_or_touch_a_record(ew, client):
    cid = enter(ew, ew.clerk, ew.type_id, 1)
    login(client, "clerk_b", PASSWORD)
    assert client.get(f"/entry/{cid}").status_code == 404
    assert client.get(f"/entry/{cid}/edit").status_code == 404
    assert post(client, f"/entry/{cid}/edit", form_data(holder="偷改")).status_code == 404
    assert post(client, f"/entry/{cid}/delete").status_code == 404
    assert post(client, f"/entry/{cid}/submit").status_code == 404
    assert post(client, "/entry/submit", {"ids": [str(cid)]}).status_code == 404
    # another department's type: no form, no entry, no template, no import
    assert client.get(f"/entry/new/{ew.type_id}").status_code == 403
    assert post(client, f"/entry/new/{ew.type_id}", form_data()).status_code == 403
    assert client.get(f"/entry/import/{ew.type_id}/template.xlsx").status_code == 403
    # the list shows only its own department's certificates and types
    html = client.get("/entry").get_data(as_text=True)
    assert "ZZ-00001" not in html and "资质证书QUAL01" not in html and "资质证书QUAL02" in html
    with ew.uow() as uow:
        c = uow.session.get(Certificate, cid)
        assert c.status is S.DRAFT and c.holder == "企业001"
    assert count(ew) == 1


# --- the form -------------------------------------------------------------------------------------

def test_form_is_built_from_the_type_and_a_full_entry_is_stored(ew, client):
    login(client, "clerk1", PASSWORD)
    html = client.get(f"/entry/new/{ew.type_id}").get_data(as_text=True)
    assert 'id="entry-form"' in html and 'enctype="multipart/form-data"' in html and 'id="submit"' in html
    for name in ("holder", "holder_code", "number", "issue_date", "valid_to", "f_ENTNAME", "f_regcap", "f_estdate"):
        assert f'name="{name}"' in html, name
    assert re.search(r'<textarea id="f_remark" name="f_remark"', html)
    assert re.search(r'<select id="f_grade" name="f_grade">.*?甲级.*?乙级', html, re.S)
    assert 'type="date" id="f_estdate"' in html and 'type="file" id="f_photo"' in html
    data = form_data(f_photo=(io.BytesIO(png_bytes()), "../../etc/passwd.png"))
    r = post(client, f"/entry/new/{ew.type_id}", data, content_type="multipart/form-data")
    assert r.status_code == 302 and "/entry/" in r.headers["Location"]
    with ew.uow() as uow:
        c = uow.session.execute(select(Certificate)).scalar_one()
        values = certificates.values_of(uow, c)
        assert c.status is S.DRAFT and c.number == "WEB-0007" and c.valid_to == date(2029, 2, 28)
        assert certificates.holder_code_of(uow, c) == valid_uscc(7)
        assert values["grade"] == "甲级" and values["regcap"] == "500" and values["idn"] == ID_NUMBER
        assert values["photo"].startswith("data:image/png;base64,") and values["remark"] == "第一行\n第二行"
        cid = c.id
    page = client.get(f"/entry/{cid}").get_data(as_text=True)
    assert "WEB-0007" in page and 'src="data:image/png;base64,' in page and ID_NUMBER in page


def test_bad_input_is_shown_next_to_each_field_and_nothing_is_written(ew, client):
    login(client, "clerk1", PASSWORD)
    r = post(client, f"/entry/new/{ew.type_id}", form_data(holder="", holder_code="123", valid_to="2020-01-01",
                                                            f_ENTNAME="", f_regcap="abc", f_idn="110105194912310021"))
    assert r.status_code == 400
    html = r.get_data(as_text=True)
    for name in ("holder", "holder_code", "valid_to", "f_ENTNAME", "f_regcap", "f_idn"):
        assert f'id="{name}-error"' in html, name
    assert "请填写持证主体" in html and "请填写企业名称" in html
    assert 'value="WEB-0007"' in html  # what was typed stays
    assert count(ew) == 0


def test_an_image_that_is_not_a_picture_or_too_big_is_refused(ew, client):
    login(client, "clerk1", PASSWORD)
    r = post(client, f"/entry/new/{ew.type_id}", form_data(f_photo=(io.BytesIO(b"GIF89a not really"), "x.png")),
             content_type="multipart/form-data")
    assert r.status_code == 400 and 'id="f_photo-error"' in r.get_data(as_text=True)
    big = png_bytes() + b"\0" * (2 * 1024 * 1024)
    r = post(client, f"/entry/new/{ew.type_id}", form_data(f_photo=(io.BytesIO(big), "x.png")),
             content_type="multipart/form-data")
    assert r.status_code in (400, 413)
    assert count(ew) == 0


def test_a_duplicate_number_is_reported_on_the_number(ew, client):
    enter(ew, ew.clerk, ew.type_id, 1, number="WEB-0007")
    login(client, "clerk1", PASSWORD)
    r = post(client, f"/entry/new/{ew.type_id}", form_data())
    assert r.status_code == 400 and 'id="number-error"' in r.get_data(as_text=True)
    assert count(ew) == 1


def test_edit_a_draft_and_keep_its_image_but_not_after_submission(ew, client):
    login(client, "clerk1", PASSWORD)
    post(client, f"/entry/new/{ew.type_id}", form_data(f_photo=(io.BytesIO(png_bytes()), "p.png")),
         content_type="multipart/form-data")
    with ew.uow() as uow:
        cid = uow.session.execute(select(Certificate.id)).scalar_one()
    html = client.get(f"/entry/{cid}/edit").get_data(as_text=True)
    assert 'value="WEB-0007"' in html and f'value="{valid_uscc(7)}"' in html
    r = post(client, f"/entry/{cid}/edit", form_data(holder="改名后的公司", f_grade="乙级"),
             content_type="multipart/form-data")
    assert r.status_code == 302
    with ew.uow() as uow:
        c = uow.session.get(Certificate, cid)
        v = certificates.values_of(uow, c)
        assert c.holder == "改名后的公司" and v["grade"] == "乙级" and v["photo"].startswith("data:image/png")
    r = post(client, f"/entry/{cid}/edit", form_data(holder=""))
    assert r.status_code == 400 and 'id="holder-error"' in r.get_data(as_text=True)
    assert post(client, f"/entry/{cid}/submit").status_code == 302
    assert status_of(ew, cid) is S.SUBMITTED
    assert client.get(f"/entry/{cid}/edit").status_code == 409
    assert post(client, f"/entry/{cid}/edit", form_data(holder="再改")).status_code == 409
    with ew.uow() as uow:
        assert uow.session.get(Certificate, cid).holder == "改名后的公司"


# --- the list -------------------------------------------------------------------------------------

def ids_in(html: str) -> list[int]:
    body = html.split('id="certificates"', 1)[1]
    return [int(i) for i in re.findall(r'<tr data-id="(\d+)"', body)]


def test_list_filters_sorts_and_pages_on_the_server(ew, client):
    made = [enter(ew, ew.clerk, ew.type_id, i) for i in range(1, 26)]
    enter(ew, ew.clerk_b, ew.type_b, 90)  # another department: never listed
    with ew.uow() as uow:
        certificates.submit(uow, ew.clerk, made[0])
        uow.commit()
    login(client, "clerk1", PASSWORD)
    html = client.get("/entry").get_data(as_text=True)
    assert len(ids_in(html)) == 20 and "共 25 条" in html and 'rel="next"' in html
    assert 'id="types"' in html and f'href="/entry/new/{ew.type_id}"' in html
    assert len(ids_in(client.get("/entry?page=2").get_data(as_text=True))) == 5
    assert ids_in(client.get("/entry?sort=holder&size=3").get_data(as_text=True)) == made[:3]
    assert ids_in(client.get("/entry?sort=-holder&size=3").get_data(as_text=True)) == made[::-1][:3]
    assert ids_in(client.get("/entry?text=ZZ-00012").get_data(as_text=True)) == [made[11]]
    assert ids_in(client.get("/entry?status=submitted").get_data(as_text=True)) == [made[0]]
    assert ids_in(client.get(f"/entry?type_id={ew.type_b}").get_data(as_text=True)) == []
    assert client.get("/entry?page=0").status_code == 400
    assert client.get("/entry?sort=secret").status_code == 400


def test_row_actions_follow_the_state_and_delete_asks_first(ew, client):
    draft = enter(ew, ew.clerk, ew.type_id, 1)
    sent = enter(ew, ew.clerk, ew.type_id, 2)
    with ew.uow() as uow:
        certificates.submit(uow, ew.clerk, sent)
        uow.commit()
    login(client, "clerk1", PASSWORD)
    html = client.get("/entry").get_data(as_text=True)
    rows = {m.group(1): m.group(0) for m in re.finditer(r'<tr data-id="(\d+)".*?</tr>', html, re.S)}
    d, s = rows[str(draft)], rows[str(sent)]
    assert "submit-review" in d and f'/entry/{draft}/edit' in d and 'data-confirm="删除操作不能恢复，确定删除吗？"' in d
    assert "submit-review" not in s and f'/entry/{sent}/edit' not in s and "/delete" in s
    assert post(client, f"/entry/{draft}/delete").status_code == 302
    assert status_of(ew, draft) is None


def test_issued_certificates_cannot_be_deleted_or_edited(ew, client):
    from issuance.pipeline import issue

    cid = enter(ew, ew.clerk, ew.type_id, 1)
    with ew.uow() as uow:
        certificates.submit(uow, ew.clerk, cid)
        certificates.review_entry(uow, ew.reviewer, cid, True)
        certificates.review_issuance(uow, ew.reviewer, cid, True)
        uow.commit()
    assert issue(ew.platform, [cid], workers=0).ok
    login(client, "clerk1", PASSWORD)
    row = re.search(rf'<tr data-id="{cid}".*?</tr>', client.get("/entry").get_data(as_text=True), re.S).group(0)
    assert "/delete" not in row and "/edit" not in row
    assert post(client, f"/entry/{cid}/delete").status_code == 409
    assert client.get(f"/entry/{cid}/edit").status_code == 409
    assert status_of(ew, cid) is S.EFFECTIVE


def test_batch_submit_of_selected_drafts(ew, client):
    a, b, c = (enter(ew, ew.clerk, ew.type_id, i) for i in (1, 2, 3))
    login(client, "clerk1", PASSWORD)
    html = client.get("/entry").get_data(as_text=True)
    assert 'id="batch-submit-form"' in html and f'name="ids" value="{a}" form="batch-submit-form"' in html
    r = post(client, "/entry/submit", {"ids": [str(a), str(b)]})
    assert r.status_code == 302
    assert [status_of(ew, i) for i in (a, b, c)] == [S.SUBMITTED, S.SUBMITTED, S.DRAFT]
    # all or nothing: one already submitted refuses the whole batch
    assert post(client, "/entry/submit", {"ids": [str(c), str(a)]}).status_code == 409
    assert status_of(ew, c) is S.DRAFT


# --- Excel import ---------------------------------------------------------------------------------

def test_import_template_and_all_or_nothing_upload(ew, client):
    login(client, "clerk1", PASSWORD)
    r = client.get(f"/entry/import/{ew.type_id}/template.xlsx")
    assert r.status_code == 200 and r.data[:2] == b"PK"
    wb = load_workbook(io.BytesIO(r.data))
    ws = wb[SHEET]
    headers = [c.value for c in ws[1]]
    good = {h: None for h in headers}

    def row(seed, **over):
        vals = {"持证主体": f"导入企业{seed}", "持证主体代码": valid_uscc(seed), "证照编号": f"IMP-{seed}",
                "企业名称（ENTNAME）": "导入企业", "成立日期（estdate）": "2019-02-03"}
        vals.update(over)
        return [next((v for k, v in vals.items() if h.rstrip("*") == k), None) for h in good]

    ws.append(row(1))
    ws.append(row(2, **{"持证主体代码": "bad"}))
    bad = io.BytesIO()
    wb.save(bad)
    r = post(client, f"/entry/import/{ew.type_id}",
             {"file": (io.BytesIO(bad.getvalue()), "x.xlsx")}, content_type="multipart/form-data")
    html = r.get_data(as_text=True)
    assert r.status_code == 400 and 'id="import-problems"' in html and 'id="file-error"' in html
    assert count(ew) == 0
    ws.delete_rows(3)
    fixed = io.BytesIO()
    wb.save(fixed)
    r = post(client, f"/entry/import/{ew.type_id}",
             {"file": (io.BytesIO(fixed.getvalue()), "x.xlsx")}, content_type="multipart/form-data")
    assert r.status_code == 302
    assert count(ew) == 1
    r = post(client, f"/entry/import/{ew.type_id}", {"file": (io.BytesIO(b"not a zip"), "x.xlsx")},
             content_type="multipart/form-data")
    assert r.status_code == 400 and count(ew) == 1
