"""证书 and 印章 pages through Flask's client: real app, database and CA; CSRF enforced."""

from __future__ import annotations

import io
import re

import pytest
from PIL import Image

from issuance import digital_certificates as dcerts
from issuance import seal_registry
from issuance.models.signing import DigitalCertificate, Seal
from tests.conftest import PASSWORD
from tests.helpers import csrf, login, web_app

OTHER = ("哈尔滨市公安局", "11230100MB0000002X")


@pytest.fixture
def site(world):
    """The world, a second department with a certificate and a seal, and the app."""
    other, head = world.add_department(*OTHER)
    world.other, world.other_head = other, head
    with world.uow() as uow:
        own = dcerts.issue(uow, world.dept_admin, world.platform.ca, "本部门证书")
        foreign = dcerts.issue(uow, head, world.platform.ca, "他部门证书")
        own_seal = seal_registry.create(uow, world.dept_admin, world.platform.ca, "本部门印章", own.id, "official",
                                        text=world.dept.name)
        foreign_seal = seal_registry.create(uow, head, world.platform.ca, "他部门印章", foreign.id, "official",
                                            text=other.name)
        uow.commit()
        world.cert_id, world.foreign_cert_id = own.id, foreign.id
        world.seal_id, world.foreign_seal_id = own_seal.id, foreign_seal.id
    world.app = web_app(world.platform)
    return world


def client_of(site, username=None):
    c = site.app.test_client()
    if username:
        r = login(c, username, PASSWORD)
        assert r.status_code == 302, r.get_data(as_text=True)[:300]
    return c


def head_name(site) -> str:
    return site.dept_admin.username


def post(c, url, data=None, page="/", **kw):
    data = dict(data or {})
    data["csrf_token"] = csrf(c, page)
    return c.post(url, data=data, **kw)


def routes(site, cert_id, seal_id):
    """Every route of both blueprints: (method, url)."""
    return [("GET", "/digital-certificates"), ("GET", "/digital-certificates/new"),
            ("POST", "/digital-certificates/new"),
            ("GET", f"/digital-certificates/{cert_id}"), ("GET", f"/digital-certificates/{cert_id}/certificate.cer"),
            ("GET", f"/digital-certificates/{cert_id}/edit"), ("POST", f"/digital-certificates/{cert_id}/edit"),
            ("POST", f"/digital-certificates/{cert_id}/delete"),
            ("GET", "/seals"), ("GET", "/seals/new"), ("POST", "/seals/new"), ("GET", f"/seals/{seal_id}"),
            ("GET", f"/seals/{seal_id}/picture.png"), ("GET", f"/seals/{seal_id}/edit"),
            ("POST", f"/seals/{seal_id}/edit"), ("POST", f"/seals/{seal_id}/delete")]


def state(site):
    with site.uow() as uow:
        certs = {c.id: (c.name, c.status) for c in uow.session.query(DigitalCertificate)}
        seals = {s.id: (s.name, s.status) for s in uow.session.query(Seal)}
    return certs, seals


# --- roles and departments -------------------------------------------------------------------------

def test_anonymous_users_are_sent_to_login_on_every_route(site):
    c = client_of(site)
    for method, url in routes(site, site.cert_id, site.seal_id):
        r = c.get(url) if method == "GET" else c.post(url, data={"csrf_token": csrf(c)})
        assert r.status_code == 302 and "/login" in r.headers["Location"], (method, url, r.status_code)


@pytest.mark.parametrize("username", ["clerk1", "reviewer1"])
def test_clerks_and_reviewers_get_403_everywhere_and_change_nothing(site, username):
    before = state(site)
    c = client_of(site, username)
    for method, url in routes(site, site.cert_id, site.seal_id):
        r = c.get(url) if method == "GET" else post(c, url, {"name": "x", "status": "cancelled"})
        assert r.status_code == 403, (method, url, r.status_code)
    assert state(site) == before
    nav = c.get("/").get_data(as_text=True)
    assert "/digital-certificates" not in nav and 'href="/seals"' not in nav


def test_another_departments_admin_gets_404_on_our_records_and_changes_nothing(site):
    before = state(site)
    c = client_of(site, site.other_head.username)
    for method, url in routes(site, site.cert_id, site.seal_id):
        if url.endswith(("/digital-certificates", "/new", "/seals")):
            continue
        r = c.get(url) if method == "GET" else post(c, url, {"name": "改名", "status": "cancelled"})
        assert r.status_code == 404, (method, url, r.status_code)
    assert state(site) == before
    listing = c.get("/digital-certificates").get_data(as_text=True)
    assert "他部门证书" in listing and "本部门证书" not in listing
    listing = c.get("/seals").get_data(as_text=True)
    assert "他部门印章" in listing and "本部门印章" not in listing
    # our certificate is not a choice on their seal form either
    r = post(c, "/seals/new", {"name": "盗用", "style": "official", "source": "generate", "text": "某某",
                               "size_mm": "42", "certificate_id": str(site.cert_id)}, page="/seals/new")
    assert r.status_code == 400 and 'id="certificate_id-error"' in r.get_data(as_text=True)
    assert state(site) == before


def test_the_platform_admin_sees_every_department(site):
    c = client_of(site, "admin")
    page = c.get("/seals").get_data(as_text=True)
    assert "本部门印章" in page and "他部门印章" in page
    assert c.get(f"/digital-certificates/{site.foreign_cert_id}").status_code == 200


# --- 证书 pages --------------------------------------------------------------------------------------

def test_add_view_download_edit_a_certificate(site):
    c = client_of(site, head_name(site))
    page = c.get("/digital-certificates/new").get_data(as_text=True)
    assert 'id="cert-form"' in page and 'id="submit"' in page and 'name="csrf_token"' in page
    r = post(c, "/digital-certificates/new", {"name": "新证书", "remark": "备注", "years": "2"},
             page="/digital-certificates/new")
    assert r.status_code == 302
    cert_id = int(re.search(r"/digital-certificates/(\d+)$", r.headers["Location"]).group(1))
    with site.uow() as uow:
        row = uow.session.get(DigitalCertificate, cert_id)
        assert row.department_id == site.dept.id and row.name == "新证书"
        der = row.certificate_der
        serial_hex = format(int(row.serial), "X")
    view = c.get(f"/digital-certificates/{cert_id}").get_data(as_text=True)
    assert serial_hex in view and 'id="cert-fingerprint"' in view and site.dept.name in view
    r = c.get(f"/digital-certificates/{cert_id}/certificate.cer")
    assert r.status_code == 200 and r.data == der and "attachment" in r.headers["Content-Disposition"]
    r = post(c, f"/digital-certificates/{cert_id}/edit", {"name": "改后的证书", "remark": ""},
             page=f"/digital-certificates/{cert_id}/edit")
    assert r.status_code == 302
    with site.uow() as uow:
        assert uow.session.get(DigitalCertificate, cert_id).name == "改后的证书"


def test_bad_certificate_input_is_shown_next_to_the_field_with_400(site):
    c = client_of(site, head_name(site))
    before = state(site)
    r = post(c, "/digital-certificates/new", {"name": "", "years": "3"}, page="/digital-certificates/new")
    page = r.get_data(as_text=True)
    assert r.status_code == 400 and 'id="name-error"' in page and "证书名称为 1 到 64 个字符" in page
    r = post(c, "/digital-certificates/new", {"name": "本部门证书", "years": "3"}, page="/digital-certificates/new")
    assert r.status_code == 400 and 'id="name-error"' in r.get_data(as_text=True)
    r = post(c, f"/digital-certificates/{site.cert_id}/edit", {"name": "x" * 65},
             page=f"/digital-certificates/{site.cert_id}/edit")
    assert r.status_code == 400 and 'id="name-error"' in r.get_data(as_text=True)
    assert state(site) == before


def test_certificate_list_filters_sorts_pages_and_deletes_with_confirmation(site):
    with site.uow() as uow:
        for n in ("甲", "乙", "丙"):
            dcerts.issue(uow, site.dept_admin, site.platform.ca, f"{n}证书")
        uow.commit()
    c = client_of(site, head_name(site))
    page = c.get("/digital-certificates?text=乙").get_data(as_text=True)
    assert "乙证书" in page and "甲证书" not in page
    page = c.get("/digital-certificates?sort=name&size=2").get_data(as_text=True)
    names = re.findall(r'class="cert-name">([^<]+)<', page)
    assert len(names) == 2 and names == sorted(names) and "共 4 条" in page and 'rel="next"' in page
    assert 'data-confirm="删除操作不能恢复，确定删除吗？"' in page
    assert c.get("/digital-certificates?sort=key_enc").status_code == 400
    assert c.get("/digital-certificates?page=0").status_code == 400
    # used by a seal: revoked, not deleted
    r = post(c, f"/digital-certificates/{site.cert_id}/delete", page="/digital-certificates")
    assert r.status_code == 302
    with site.uow() as uow:
        assert uow.session.get(DigitalCertificate, site.cert_id).status == "revoked"
    page = c.get("/digital-certificates?status=revoked").get_data(as_text=True)
    assert "本部门证书" in page and "甲证书" not in page
    unused = next(i for i, (n, _s) in state(site)[0].items() if n == "甲证书")
    assert post(c, f"/digital-certificates/{unused}/delete", page="/digital-certificates").status_code == 302
    assert unused not in state(site)[0]


# --- 印章 pages --------------------------------------------------------------------------------------

def test_seal_form_has_the_stable_ids_and_lists_only_own_valid_certificates(site):
    c = client_of(site, head_name(site))
    page = c.get("/seals/new").get_data(as_text=True)
    for needle in ('id="seal-form"', 'name="name"', 'name="style"', 'type="file" id="picture"',
                   'id="generate"', 'id="submit"', 'enctype="multipart/form-data"'):
        assert needle in page, needle
    assert "本部门证书" in page and "他部门证书" not in page and 'id="no-certificate"' not in page
    with site.uow() as uow:
        dcerts.revoke(uow, site.dept_admin, site.platform.ca, site.cert_id)
        uow.commit()
    page = c.get("/seals/new").get_data(as_text=True)
    assert 'id="no-certificate"' in page and 'href="/digital-certificates/new"' in page


def test_generate_a_seal_and_view_it_with_the_viewer_tools(site):
    c = client_of(site, head_name(site))
    r = post(c, "/seals/new", {"name": "生成的章", "style": "union", "source": "generate", "text": "某某工会",
                               "bottom_text": "", "size_mm": "40", "certificate_id": str(site.cert_id)},
             page="/seals/new")
    assert r.status_code == 302, r.get_data(as_text=True)[:2000]
    seal_id = int(re.search(r"/seals/(\d+)$", r.headers["Location"]).group(1))
    page = c.get(f"/seals/{seal_id}").get_data(as_text=True)
    for needle in ('id="seal-viewer"', 'id="zoom-in"', 'id="zoom-out"', 'id="reset"', 'id="rotate"', "seals.js",
                   "本部门证书"):
        assert needle in page, needle
    assert "style=" not in page.split("<main>")[1]  # the CSP forbids inline styles
    r = c.get(f"/seals/{seal_id}/picture.png")
    assert r.status_code == 200 and r.mimetype == "image/png"
    with Image.open(io.BytesIO(r.data)) as im:
        assert im.format == "PNG"
    with site.uow() as uow:
        s = uow.session.get(Seal, seal_id)
        assert (s.department_id, s.style, s.width_mm, s.source) == (site.dept.id, "union", 40, "generated")


def test_upload_a_seal_picture_with_transparent_background(site):
    c = client_of(site, head_name(site))
    img = Image.new("RGBA", (120, 120), (0, 0, 0, 0))
    for x in range(20, 100):
        img.putpixel((x, 60), (200, 0, 0, 255))
    buf = io.BytesIO()
    img.save(buf, "PNG")
    data = {"name": "上传的章", "style": "official", "source": "upload", "size_mm": "42",
            "certificate_id": str(site.cert_id), "csrf_token": csrf(c, "/seals/new"),
            "picture": (io.BytesIO(buf.getvalue()), "../../etc/seal.png")}
    r = c.post("/seals/new", data=data, content_type="multipart/form-data")
    assert r.status_code == 302, r.get_data(as_text=True)[:2000]
    with site.uow() as uow:
        s = uow.session.query(Seal).filter_by(name="上传的章").one()
        assert s.source == "uploaded"
        with Image.open(io.BytesIO(s.picture)) as im:
            assert im.convert("RGBA").getpixel((0, 0))[3] > 0 and im.height < 10  # cropped to the line


@pytest.mark.parametrize("picture, message", [
    (b"GIF89a" + b"\0" * 64, "请上传 PNG 或 JPEG 图片"),
    (b"\x89PNG\r\n\x1a\n" + b"\0" * 64, "请上传 PNG 或 JPEG 图片"),
    (b"\xff\xd8\xff" + b"\0" * (5 * 1024 * 1024), "图片不能超过 5 MB"),
    (None, "请选择印章图片"),
])
def test_bad_uploads_are_refused_next_to_the_picture_field(site, picture, message):
    c = client_of(site, head_name(site))
    before = state(site)
    data = {"name": "坏图", "style": "official", "source": "upload", "size_mm": "42",
            "certificate_id": str(site.cert_id), "csrf_token": csrf(c, "/seals/new")}
    if picture is not None:
        data["picture"] = (io.BytesIO(picture), "seal.png")
    r = c.post("/seals/new", data=data, content_type="multipart/form-data")
    page = r.get_data(as_text=True)
    assert r.status_code in (400, 413), r.status_code
    if r.status_code == 400:
        assert 'id="picture-error"' in page and message in page
    assert state(site) == before


def test_bad_seal_input_is_shown_next_to_each_field(site):
    c = client_of(site, head_name(site))
    before = state(site)
    r = post(c, "/seals/new", {"name": "", "style": "official", "source": "generate", "text": "",
                               "size_mm": "99", "certificate_id": ""}, page="/seals/new")
    page = r.get_data(as_text=True)
    assert r.status_code == 400
    for f in ("name", "size_mm", "certificate_id"):
        assert f'id="{f}-error"' in page, f
    r = post(c, "/seals/new", {"name": "日期错", "style": "official", "source": "generate", "text": "某某",
                               "size_mm": "42", "certificate_id": str(site.cert_id), "valid_to": "2200-01-01"},
             page="/seals/new")
    assert r.status_code == 400 and 'id="valid_to-error"' in r.get_data(as_text=True)
    r = post(c, "/seals/new", {"name": "日期错", "style": "official", "source": "generate", "text": "某某",
                               "size_mm": "42", "certificate_id": str(site.cert_id), "valid_to": "not-a-date"},
             page="/seals/new")
    assert r.status_code == 400 and 'id="valid_to-error"' in r.get_data(as_text=True)
    assert state(site) == before


def test_seal_edit_and_delete(site):
    c = client_of(site, head_name(site))
    page = c.get(f"/seals/{site.seal_id}/edit").get_data(as_text=True)
    assert 'id="seal-form"' in page and "本部门印章" in page
    r = post(c, f"/seals/{site.seal_id}/edit", {"name": "改名印章", "status": "frozen"},
             page=f"/seals/{site.seal_id}/edit")
    assert r.status_code == 302
    assert state(site)[1][site.seal_id] == ("改名印章", "frozen")
    r = post(c, f"/seals/{site.seal_id}/edit", {"name": "", "status": "bogus"}, page=f"/seals/{site.seal_id}/edit")
    page = r.get_data(as_text=True)
    assert r.status_code == 400 and 'id="name-error"' in page and 'id="status-error"' in page
    post(c, f"/seals/{site.seal_id}/edit", {"name": "改名印章", "status": "cancelled"}, page="/seals")
    r = post(c, f"/seals/{site.seal_id}/edit", {"name": "改名印章", "status": "valid"}, page="/seals")
    assert r.status_code == 409 and state(site)[1][site.seal_id] == ("改名印章", "cancelled")
    page = c.get("/seals").get_data(as_text=True)
    assert 'data-confirm="删除操作不能恢复，确定删除吗？"' in page and f'id="thumb-{site.seal_id}"' in page
    r = post(c, f"/seals/{site.seal_id}/delete", page="/seals")
    assert r.status_code == 302 and site.seal_id not in state(site)[1]


def test_seal_list_filters_sorts_and_pages_on_the_server(site):
    with site.uow() as uow:
        for n, style in (("甲章", "party"), ("乙章", "union"), ("丙章", "party")):
            seal_registry.create(uow, site.dept_admin, site.platform.ca, n, site.cert_id, style, text="某某")
        uow.commit()
    c = client_of(site, head_name(site))
    page = c.get("/seals?style=party").get_data(as_text=True)
    names = re.findall(r'class="seal-name">([^<]+)<', page)
    assert sorted(names) == ["丙章", "甲章"]
    page = c.get("/seals?sort=-name&size=2").get_data(as_text=True)
    names = re.findall(r'class="seal-name">([^<]+)<', page)
    assert len(names) == 2 and names == sorted(names, reverse=True) and "共 4 条" in page
    page = c.get("/seals?sort=-name&size=2&page=2").get_data(as_text=True)
    assert len(re.findall(r'class="seal-name">', page)) == 2
    assert c.get("/seals?status=bogus").status_code == 400
