"""照面设计 through Flask's client: the designer page, saving, backgrounds, the rendered preview and
the read-only view, with every route's role and department checks (real app, database, CSRF)."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
from PIL import Image, PngImagePlugin
from sqlalchemy import select

from issuance import cert_types
from issuance.models import AuditEntry, CertificateType
from ofd.design import BASIC_ITEMS, default_for
from tests.conftest import PASSWORD
from tests.helpers import SAMPLE, approved_licence_type, login, web_app

OTHER_CODE = "11100000000013338W099"


@pytest.fixture
def client(world):
    return web_app(world.platform).test_client()


@pytest.fixture
def licence(world):
    """The market bureau's business licence type (no design yet)."""
    return approved_licence_type(world).id


@pytest.fixture
def police(world):
    """A second department with a clerk and a type of its own."""
    dept, head = world.add_department("哈尔滨市公安局", "11230100MB0000002X")
    world.add_user("clerk_b", "clerk", dept.id)
    args = cert_types.from_sample(SAMPLE, OTHER_CODE)
    args["name"] = "居住证"
    with world.uow() as uow:
        t = cert_types.create(uow, head, **args)
        uow.commit()
        return t.id


def files_dir(world) -> Path:
    return Path(world.platform.settings.data_dir) / "files"


def token(client) -> str:
    """The session's CSRF token (every signed-in page carries it in the language forms)."""
    html = client.get("/account/profile").get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def as_user(client, username):
    r = login(client, username, PASSWORD)
    assert r.status_code == 302
    return token(client)


def stored_design(world, type_id):
    with world.uow() as uow:
        return uow.session.get(CertificateType, type_id).surface_design


def page_data(html: str) -> dict:
    return json.loads(re.search(r'<script type="application/json" id="designer-data">(.*?)</script>', html, re.S)
                      .group(1))


def png(size=(300, 200), colour=(30, 90, 200), text_chunk=False) -> bytes:
    out = io.BytesIO()
    info = PngImagePlugin.PngInfo()
    if text_chunk:
        info.add_text("Comment", "secret-metadata")
    Image.new("RGB", size, colour).save(out, "PNG", pnginfo=info)
    return out.getvalue()


def design_with(*elements, background=None, width=297, height=210) -> dict:
    return {"version": 1, "width": width, "height": height, "background": background, "elements": list(elements)}


FIELD = {"kind": "field", "source": "ENTNAME", "label": "名称", "box": {"x": 30, "y": 40, "width": 120, "height": 10},
         "style": {"font": "sans", "size_pt": 14, "colour": "#000000", "bold": True, "align": "left"}}


def upload(client, type_id, data, tok, name="bg.png"):
    return client.post(f"/types/{type_id}/design/background", data={"background": (io.BytesIO(data), name)},
                       headers={"X-CSRFToken": tok}, content_type="multipart/form-data")


# --- who may open what ---------------------------------------------------------------------------

ROUTES = [("get", "/design"), ("post", "/design/save"), ("post", "/design/background"), ("post", "/design/preview"),
          ("get", "/design/view"), ("get", "/design/assets/" + "a" * 64)]


@pytest.mark.parametrize("method,suffix", ROUTES)
def test_every_route_needs_login(client, world, licence, method, suffix):
    r = getattr(client, method)(f"/types/{licence}{suffix}")
    if method == "post":  # without a session CSRF refuses first (400); with a token: see the next test
        assert r.status_code in (302, 400) and r.status_code != 200
    else:
        assert r.status_code == 302 and "/login" in r.headers["Location"]
    assert stored_design(world, licence) is None


def test_anonymous_post_with_a_token_is_sent_to_login(client, licence, world):
    tok = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").get_data(as_text=True)).group(1)
    for suffix in ("/design/save", "/design/preview"):
        r = client.post(f"/types/{licence}{suffix}", json=design_with(FIELD), headers={"X-CSRFToken": tok})
        assert r.status_code == 302 and "/login" in r.headers["Location"]
    assert stored_design(world, licence) is None


def test_reviewer_may_view_but_not_design(client, world, licence):
    tok = as_user(client, "reviewer1")
    assert client.get(f"/types/{licence}/design").status_code == 403
    assert client.post(f"/types/{licence}/design/save", json=design_with(FIELD),
                       headers={"X-CSRFToken": tok}).status_code == 403
    assert client.post(f"/types/{licence}/design/preview", json=design_with(FIELD),
                       headers={"X-CSRFToken": tok}).status_code == 403
    assert upload(client, licence, png(), tok).status_code == 403
    assert stored_design(world, licence) is None
    assert not (files_dir(world) / "design-uploads").exists()
    r = client.get(f"/types/{licence}/design/view")
    assert r.status_code == 200 and 'id="no-design"' in r.get_data(as_text=True)
    assert 'id="edit-design"' not in r.get_data(as_text=True)


def test_another_department_can_neither_see_nor_change_the_design(client, world, licence, police):
    # the market bureau designs its type and uploads a background
    tok = as_user(client, "clerk1")
    ref = upload(client, licence, png(), tok).get_json()["ref"]
    saved = design_with(FIELD, background=ref)
    assert client.post(f"/types/{licence}/design/save", json=saved, headers={"X-CSRFToken": tok}).status_code == 200
    before = stored_design(world, licence)
    client.post("/logout", data={"csrf_token": tok})

    other = web_app(world.platform).test_client()
    tok_b = as_user(other, "clerk_b")
    sha = ref.removeprefix("file:")
    assert other.get(f"/types/{licence}/design").status_code == 403
    assert other.get(f"/types/{licence}/design/view").status_code == 403
    assert other.get(f"/types/{licence}/design/assets/{sha}").status_code == 403
    r = other.post(f"/types/{licence}/design/save", json=design_with(), headers={"X-CSRFToken": tok_b})
    assert r.status_code == 403
    assert other.post(f"/types/{licence}/design/preview", json=saved, headers={"X-CSRFToken": tok_b}).status_code == 403
    assert upload(other, licence, png(colour=(1, 2, 3)), tok_b).status_code == 403
    assert stored_design(world, licence) == before
    assert sorted(p.name for p in (files_dir(world) / "design-uploads" / str(licence)).iterdir()) == [sha]
    # nor may its own type borrow the market bureau's background by naming its hash
    r = other.post(f"/types/{police}/design/preview", json=design_with(background=ref), headers={"X-CSRFToken": tok_b})
    assert r.status_code == 400 and "design.background" in r.get_json()["errors"]
    assert other.get(f"/types/{police}/design/assets/{sha}").status_code == 404
    # its own type it designs
    assert other.get(f"/types/{police}/design").status_code == 200


def test_unknown_type_is_404(client, licence):
    tok = as_user(client, "clerk1")
    assert client.get("/types/999999/design").status_code == 404
    assert client.get("/types/999999/design/view").status_code == 404
    assert client.post("/types/999999/design/save", json=design_with(), headers={"X-CSRFToken": tok}).status_code == 404


def test_platform_admin_may_design_any_type(client, world, police):
    tok = as_user(client, "admin")
    assert client.get(f"/types/{police}/design").status_code == 200
    r = client.post(f"/types/{police}/design/save", json=design_with(FIELD), headers={"X-CSRFToken": tok})
    assert r.status_code == 200 and r.get_json()["ok"] is True
    assert stored_design(world, police)["elements"][0]["source"] == "ENTNAME"


# --- the designer page ----------------------------------------------------------------------------

def test_designer_page_has_canvas_palette_inspector_and_default_design(client, licence):
    as_user(client, "clerk1")
    r = client.get(f"/types/{licence}/design")
    html = r.get_data(as_text=True)
    assert r.status_code == 200
    for element_id in ("designer", "palette", "inspector", "preview", "save", "background-upload", "designer-data"):
        assert f'id="{element_id}"' in html, element_id
    for source in list(BASIC_ITEMS) + [f["columnName"] for f in SAMPLE["fields"]]:
        assert f'data-source="{source}"' in html, source
    for kind in ("text", "qr", "seal"):
        assert f'data-kind="{kind}"' in html
    assert "部门默认印章" in html and "designer.js" in html and "designer.css" in html
    assert " style=" not in html  # the CSP blocks style attributes
    data = page_data(html)
    assert data["saved"] is False
    assert data["design"] == default_for([(f["columnName"], f["name"]) for f in SAMPLE["fields"]]).to_json()
    assert data["urls"]["save"] == f"/types/{licence}/design/save"
    assert data["urls"]["asset"] == f"/types/{licence}/design/assets/"


def test_save_stores_the_design_and_the_page_shows_it(client, world, licence):
    tok = as_user(client, "clerk1")
    design = design_with(FIELD, {"kind": "qr", "x": 20, "y": 160, "size": 25}, {"kind": "seal", "x": 200, "y": 140})
    r = client.post(f"/types/{licence}/design/save", json=design, headers={"X-CSRFToken": tok})
    assert r.status_code == 200 and r.get_json() == {"ok": True, "elements": 3, "message": "照面设计已保存"}
    stored = stored_design(world, licence)
    assert stored["elements"][0]["box"] == {"x": 30.0, "y": 40.0, "width": 120.0, "height": 10.0}
    assert stored["elements"][0]["style"]["font"] == "sans" and stored["elements"][2]["seal_id"] is None
    with world.uow() as uow:
        audit = uow.session.execute(select(AuditEntry).where(AuditEntry.action == "certificate_type.surface_design")
                                    ).scalars().all()
        assert [a.subject_id for a in audit] == [licence]
    data = page_data(client.get(f"/types/{licence}/design").get_data(as_text=True))
    assert data["saved"] is True and data["design"] == stored


def test_bad_design_is_refused_with_field_errors_and_nothing_is_written(client, world, licence):
    tok = as_user(client, "clerk1")
    good = design_with(FIELD)
    assert client.post(f"/types/{licence}/design/save", json=good, headers={"X-CSRFToken": tok}).status_code == 200
    before = stored_design(world, licence)
    outside = dict(FIELD, box={"x": 280, "y": 40, "width": 120, "height": 10})
    r = client.post(f"/types/{licence}/design/save", json=design_with(outside), headers={"X-CSRFToken": tok})
    assert r.status_code == 400 and r.get_json()["ok"] is False
    assert "beyond the page" in " ".join(r.get_json()["errors"].values())
    bad_font = dict(FIELD, style=dict(FIELD["style"], font="comic"))
    r = client.post(f"/types/{licence}/design/save", json=design_with(bad_font), headers={"X-CSRFToken": tok})
    assert r.status_code == 400 and "design.elements.0.style.font" in r.get_json()["errors"]
    unknown = dict(FIELD, source="NO_SUCH_COLUMN")
    r = client.post(f"/types/{licence}/design/save", json=design_with(unknown), headers={"X-CSRFToken": tok})
    assert r.status_code == 400 and "NO_SUCH_COLUMN" in r.get_json()["errors"]["design.elements"]
    r = client.post(f"/types/{licence}/design/save", data="not json", headers={"X-CSRFToken": tok},
                    content_type="application/json")
    assert r.status_code == 400 and "design" in r.get_json()["errors"]
    assert stored_design(world, licence) == before


def test_save_without_the_csrf_token_is_refused(client, world, licence):
    as_user(client, "clerk1")
    r = client.post(f"/types/{licence}/design/save", json=design_with(FIELD))
    assert r.status_code == 400
    assert stored_design(world, licence) is None


# --- backgrounds ----------------------------------------------------------------------------------

def test_background_is_re_encoded_stored_by_hash_and_served_to_the_department(client, world, licence):
    tok = as_user(client, "clerk1")
    original = png(text_chunk=True)
    r = upload(client, licence, original, tok, name="../../etc/passwd.png")
    assert r.status_code == 200
    ref = r.get_json()["ref"]
    assert re.fullmatch(r"file:[0-9a-f]{64}", ref)
    stored = files_dir(world) / ref.removeprefix("file:")
    data = stored.read_bytes()
    assert data != original and b"secret-metadata" not in data  # re-encoded: nothing but pixels
    import hashlib
    assert hashlib.sha256(data).hexdigest() == ref.removeprefix("file:")
    with Image.open(io.BytesIO(data)) as img:
        assert img.format == "PNG" and img.size == (300, 200) and img.convert("RGB").getpixel((5, 5)) == (30, 90, 200)
    got = client.get(r.get_json()["url"])
    assert got.status_code == 200 and got.mimetype == "image/png" and got.data == data
    # the reviewer of the department sees it too, and the saved design keeps using it
    assert client.post(f"/types/{licence}/design/save", json=design_with(background=ref),
                       headers={"X-CSRFToken": tok}).status_code == 200
    reviewer = web_app(world.platform).test_client()
    as_user(reviewer, "reviewer1")
    assert reviewer.get(r.get_json()["url"]).data == data


def test_jpeg_stays_jpeg(client, world, licence):
    tok = as_user(client, "clerk1")
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 10, 10)).save(out, "JPEG")
    r = upload(client, licence, out.getvalue(), tok, name="bg.jpg")
    assert r.status_code == 200
    got = client.get(r.get_json()["url"])
    assert got.mimetype == "image/jpeg" and got.data.startswith(b"\xff\xd8\xff")


def _gif() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (10, 10)).save(out, "GIF")
    return out.getvalue()


def _bomb() -> bytes:
    """A small file that decodes to 48 million pixels."""
    out = io.BytesIO()
    Image.new("1", (8000, 6000)).save(out, "PNG", optimize=True)
    return out.getvalue()


@pytest.mark.parametrize("make,message", [
    (lambda: b"", "请选择图片文件"),
    (lambda: b"GIF89a not really", "底图只能是 PNG 或 JPEG 图片"),
    (_gif, "底图只能是 PNG 或 JPEG 图片"),
    (lambda: b"\x89PNG\r\n\x1a\n" + b"\0" * 100, "底图只能是 PNG 或 JPEG 图片"),
    (lambda: b"\x89PNG" + b"\0" * (5 * 1024 * 1024), "底图文件不能超过 5 MB"),
    (_bomb, "图片尺寸过大"),
])
def test_bad_backgrounds_are_refused_and_nothing_is_stored(client, world, licence, make, message):
    tok = as_user(client, "clerk1")
    before = sorted(p.name for p in files_dir(world).iterdir())
    r = upload(client, licence, make(), tok)
    assert r.status_code == 400 and r.get_json() == {"ok": False, "errors": {"background": message}}
    assert sorted(p.name for p in files_dir(world).iterdir()) == before


def test_asset_serves_only_images_of_the_types_design(client, world, licence):
    tok = as_user(client, "clerk1")
    # a file stored by the pipeline for something else is not served through a design
    foreign = files_dir(world) / ("b" * 64)
    foreign.write_bytes(png())
    assert client.get(f"/types/{licence}/design/assets/{'b' * 64}").status_code == 404
    assert client.get(f"/types/{licence}/design/assets/..%2Fsecret").status_code == 404
    r = client.post(f"/types/{licence}/design/preview", json=design_with(background="file:" + "b" * 64),
                    headers={"X-CSRFToken": tok})
    assert r.status_code == 400


# --- preview and view -----------------------------------------------------------------------------

def _dark_pixels(img, box_mm, px):
    x, y, w, h = box_mm
    crop = img.crop((round(x * px), round(y * px), round((x + w) * px), round((y + h) * px))).convert("L")
    return sum(1 for v in crop.tobytes() if v < 100)


def _red_pixels(img, box_mm, px):
    x, y, w, h = box_mm
    crop = img.crop((round(x * px), round(y * px), round((x + w) * px), round((y + h) * px)))
    pixels = crop.load()
    return sum(1 for i in range(crop.width) for j in range(crop.height)
               if pixels[i, j][0] > 180 and pixels[i, j][1] < 80 and pixels[i, j][2] < 80)


def test_preview_is_the_rendered_face_with_background_text_seal_and_qr(client, world, licence):
    tok = as_user(client, "clerk1")
    ref = upload(client, licence, png(colour=(30, 90, 200)), tok).get_json()["ref"]
    design = design_with(FIELD, {"kind": "qr", "x": 20, "y": 160, "size": 25}, {"kind": "seal", "x": 220, "y": 140},
                         background=ref)
    r = client.post(f"/types/{licence}/design/preview", json=design, headers={"X-CSRFToken": tok})
    assert r.status_code == 200 and r.mimetype == "image/png"
    img = Image.open(io.BytesIO(r.data)).convert("RGB")
    px = 150 / 25.4
    assert img.size == (round(297 * px), round(210 * px))            # the page at the PNG rendition's 150 dpi
    assert img.getpixel((round(150 * px), round(100 * px))) == (30, 90, 200)  # the background, where nothing is
    assert _dark_pixels(img, (30, 40, 120, 10), px) > 50              # the field's text is drawn
    assert _red_pixels(img, (220, 140, 42, 42), px) > 2000           # the seal, stamped at its slot
    assert _red_pixels(img, (20, 20, 150, 100), px) == 0
    qr = img.crop((round(20 * px), round(160 * px), round(45 * px), round(185 * px))).convert("L")
    assert min(qr.tobytes()) < 50 and max(qr.tobytes()) > 200        # black and white modules
    assert stored_design(world, licence) is None                      # previewing saves nothing


def test_preview_of_a_bad_design_gives_its_errors(client, licence):
    tok = as_user(client, "clerk1")
    r = client.post(f"/types/{licence}/design/preview", json=design_with({"kind": "qr", "x": 290, "y": 0}),
                    headers={"X-CSRFToken": tok})
    assert r.status_code == 400 and r.get_json()["ok"] is False and r.get_json()["errors"]


def test_view_shows_the_saved_design_rendered(client, world, licence):
    tok = as_user(client, "clerk1")
    html = client.get(f"/types/{licence}/design/view").get_data(as_text=True)
    assert 'id="no-design"' in html and 'id="edit-design"' in html
    client.post(f"/types/{licence}/design/save", json=design_with(FIELD, {"kind": "qr", "x": 20, "y": 160}),
                headers={"X-CSRFToken": tok})
    r = client.get(f"/types/{licence}/design/view")
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and 'id="no-design"' not in html
    src = re.search(r'id="design-picture" src="data:image/png;base64,([^"]+)"', html).group(1)
    import base64
    img = Image.open(io.BytesIO(base64.b64decode(src)))
    assert img.format == "PNG" and img.size == (round(297 * 150 / 25.4), round(210 * 150 / 25.4))
    summary = re.search(r'<table class="kv" id="design-summary">(.*?)</table>', html, re.S).group(1)
    assert "297.0 × 210.0" in summary and "<td>1</td>" in summary
    # the admin sees it too
    admin = web_app(world.platform).test_client()
    as_user(admin, "admin")
    assert 'id="design-picture"' in admin.get(f"/types/{licence}/design/view").get_data(as_text=True)


def test_save_refuses_another_types_background_by_hash(client, world, licence, police):
    admin_tok = as_user(client, "admin")
    ref = upload(client, police, png(colour=(9, 9, 9)), admin_tok).get_json()["ref"]  # uploaded for the police type
    client.post("/logout", data={"csrf_token": admin_tok})
    market = web_app(world.platform).test_client()
    tok = as_user(market, "clerk1")
    r = market.post(f"/types/{licence}/design/save", json=design_with(background=ref), headers={"X-CSRFToken": tok})
    assert r.status_code == 400 and "design.background" in r.get_json()["errors"]
    assert stored_design(world, licence) is None
    assert market.get(f"/types/{licence}/design/assets/{ref.removeprefix('file:')}").status_code == 404


def test_designer_offers_the_departments_seals_and_previews_the_chosen_one(client, world, licence, police):
    seal_registry = pytest.importorskip("issuance.seal_registry")
    from issuance import digital_certificates as dcerts

    square = io.BytesIO()
    Image.new("RGB", (200, 200), (0, 160, 0)).save(square, "PNG")  # a green square, unlike any generated seal
    with world.uow() as uow:
        cert = dcerts.issue(uow, world.dept_admin, world.platform.ca, "印章证书")
        uow.session.flush()
        seal = seal_registry.create(uow, world.dept_admin, world.platform.ca, "电子证照专用章", cert.id, "official",
                                    picture=square.getvalue())
        uow.commit()
        seal_id = seal.id
    tok = as_user(client, "clerk1")
    html = client.get(f"/types/{licence}/design").get_data(as_text=True)
    assert f'<option value="{seal_id}">电子证照专用章</option>' in html
    assert page_data(html)["seals"] == [{"id": seal_id, "name": "电子证照专用章"}]
    design = design_with({"kind": "seal", "seal_id": seal_id, "x": 100, "y": 60, "size": 40})
    r = client.post(f"/types/{licence}/design/preview", json=design, headers={"X-CSRFToken": tok})
    assert r.status_code == 200
    img = Image.open(io.BytesIO(r.data)).convert("RGB")
    px = 150 / 25.4
    assert img.getpixel((round(120 * px), round(80 * px))) == (0, 160, 0)
    assert client.post(f"/types/{licence}/design/save", json=design, headers={"X-CSRFToken": tok}).status_code == 200
    assert stored_design(world, licence)["elements"][0]["seal_id"] == seal_id
    # the police type may not name the market bureau's seal
    admin = web_app(world.platform).test_client()
    admin_tok = as_user(admin, "admin")
    assert "电子证照专用章" not in admin.get(f"/types/{police}/design").get_data(as_text=True)
    r = admin.post(f"/types/{police}/design/save", json=design, headers={"X-CSRFToken": admin_tok})
    assert r.status_code == 400 and "design.elements.0.seal_id" in r.get_json()["errors"]
    assert stored_design(world, police) is None
