"""Public verification (/verify): the QR page, uploads, batches, JSON, rate limits, privacy, CSRF.

Real parts throughout: an initialised data directory (SQLite, LevelDB local store), certificates
entered, reviewed and issued through the pipeline with a surface design (sealed OFDs on disk),
one of them revoked on the ledger, and the Flask app of the platform driven by its test client.
The issued world is built once per module (issuing is the slow part); every test makes its own
app, so rate-limit counters start from zero in each.
"""

from __future__ import annotations

import io
import re
import zipfile
from contextlib import contextmanager
from types import SimpleNamespace
from urllib.parse import quote, urlsplit

import pytest

from certledger.config import PublicSettings, load_settings
from certledger.datadir import init_data_dir
from certledger.runtime import Platform
from issuance import lifecycle
from issuance.anchoring import Worker
from issuance.pipeline import issue
from issuance.public_verification import (BatchRefused, FileRefused, mask_code, mask_name, verify_file,
                                          verify_identifier, verify_identifiers)
from ofd.qr import verification_url
from tests.conftest import FAST_HASHING, make_world
from tests.helpers import approved_licence_type, valid_uscc
from tests.test_pipeline import issuing, ofd_file, with_design
from web.app import create_app

UNKNOWN = "1.2.156.3005.2.11100000000013338W032.11230100MB0000001X.9999999.001.Z"


@pytest.fixture(scope="module")
def issued(tmp_path_factory):
    """Three issued certificates of a type with a surface design; the second one revoked."""
    d = tmp_path_factory.mktemp("public") / "data"
    init_data_dir(d)
    platform = Platform(load_settings(d, environ=FAST_HASHING))
    world = make_world(platform)
    t = approved_licence_type(world)
    with_design(world, t)
    good, revoked, other = issuing(world, t, [1, 2, 3])
    assert issue(platform, [good.id, revoked.id, other.id], workers=0).ok
    with world.uow() as uow:
        lifecycle.revoke(uow, world.clerk, revoked.id, "吊销营业执照")
        uow.commit()
    Worker(platform.session_factory, platform.ledger).drain()
    yield SimpleNamespace(world=world, platform=platform, good=good, revoked=revoked, other=other,
                          codes=[valid_uscc(i) for i in (1, 2, 3)])
    platform.close()


@pytest.fixture
def client(issued):
    return create_app(issued.platform).test_client()


@contextmanager
def public_settings(platform, **changes):
    """The platform's [public] settings changed for one test (the world is shared by the module)."""
    before = platform.settings
    platform.settings = before.model_copy(update={"public": PublicSettings(**{**before.public.model_dump(), **changes})})
    try:
        yield
    finally:
        platform.settings = before


def qr_path(identifier: str) -> str:
    """The path the certificate's QR code points at (ofd.qr), as a phone would request it."""
    return urlsplit(verification_url("http://127.0.0.1:8000", identifier)).path


def csrf(client, path="/verify") -> str:
    html = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def upload(client, data: bytes, name: str, token: str | None = None):
    form = {"file": (io.BytesIO(data), name)}
    if token is not None:
        form["csrf_token"] = token
    return client.post("/verify/file", data=form, content_type="multipart/form-data")


def tampered_ofd(data: bytes) -> bytes:
    from ofd.package import Package
    from ofd.writer import zip_package

    files = Package.load(data).files
    page = "Doc_0/Pages/Page_0/Content.xml"
    files[page] = files[page] + b" "
    return zip_package(files)


def check_row(html: str, name: str) -> str:
    return re.search(rf'<tr class="(check-ok|check-fail)" data-check="{name}">', html).group(1)


# --- the service ----------------------------------------------------------------------------------

def test_masks_keep_only_the_ends():
    assert mask_code("91230100000000001X") == "9123**********001X"
    assert mask_code("ABCDE") == "A***E" and mask_code("AB") == "**"
    assert mask_name("哈尔滨某某科技有限公司") == "哈*********司" and mask_name("张三") == "张*"


def test_service_batch_dedupes_and_bounds(issued):
    p = issued.platform
    verdicts = verify_identifiers(p, [issued.good.identifier, " ", UNKNOWN, issued.good.identifier + " "])
    assert [v.identifier for v in verdicts] == [issued.good.identifier, UNKNOWN]
    assert verdicts[0].valid and verdicts[0].summary.holder_code_masked == mask_code(issued.codes[0])
    assert not verdicts[1].valid and not verdicts[1].found and verdicts[1].checks[0].name == "data"
    with pytest.raises(BatchRefused) as e:
        verify_identifiers(p, [f"{UNKNOWN}{i}" for i in range(101)])
    assert e.value.reason == "too_many"
    with pytest.raises(BatchRefused):
        verify_identifiers(p, ["", "  "])
    with pytest.raises(FileRefused) as f:
        verify_file(p, b"%PDF-1.7" + b"\0" * (10 * 1024 * 1024), "big.pdf")
    assert f.value.reason == "size"
    v = verify_identifier(p, issued.revoked.identifier)
    assert v.found and not v.valid and v.summary.status == "revoked"
    # the public answer carries no surface field value and no full holder code
    text = str(verify_identifier(p, issued.good.identifier).as_dict())
    assert issued.codes[0] not in text and "南岗区" not in text and "企业1" not in text


# --- the QR page ------------------------------------------------------------------------------------

def test_qr_page_of_a_valid_certificate(client, issued):
    r = client.get(qr_path(issued.good.identifier))
    html = r.get_data(as_text=True)
    assert r.status_code == 200
    assert 'class="verdict verdict-valid"' in html and ">有效<" in html
    for label in ("链上记录", "数据摘要", "默克尔证明", "签发机构授权", "证照状态", "有效期", "版式文件签章"):
        assert label in html, label
    assert check_row(html, "document") == "check-ok" and check_row(html, "proof") == "check-ok"
    assert "哈尔滨市市场监督管理局" in html and 'id="certificate-summary"' in html
    assert re.search(r'id="ledger-block">[^<]*：\d+<', html)
    # privacy: the holder code (also the licence number) only masked, no field value, holder name masked
    assert issued.codes[0] not in html and mask_code(issued.codes[0]) in html
    assert "企业1" not in html and "南岗区" not in html and "张三" not in html
    assert "Content-Security-Policy" in r.headers and "<style" not in html
    assert not re.search(r"<script(?![^>]*\bsrc=)", html)  # scripts only from the app's files, none inline


def test_qr_page_of_a_revoked_certificate_names_the_failing_check(client, issued):
    html = client.get(qr_path(issued.revoked.identifier)).get_data(as_text=True)
    assert 'class="verdict verdict-invalid"' in html and ">无效<" in html
    assert check_row(html, "status") == "check-fail"
    status_detail = re.search(r'data-check="status">.*?<td class="detail">(.*?)</td>', html, re.S).group(1)
    assert status_detail == "已注销"  # the domain's English "revoked (注销)" said in the page's language
    assert 'id="certificate-status">已注销<' in html
    assert issued.codes[1] not in html


def test_unknown_identifier_is_a_404_page_saying_so(client):
    r = client.get(f"/verify/{UNKNOWN}")
    html = r.get_data(as_text=True)
    assert r.status_code == 404 and ">无效<" in html and check_row(html, "data") == "check-fail"
    assert "本平台没有该标识的证照" in html and "no certificate with this identifier" not in html


def test_english_switch(client, issued):
    path = qr_path(issued.good.identifier)
    token = csrf(client, path)
    r = client.post("/lang/en", data={"csrf_token": token, "next": path})
    assert r.status_code == 302 and r.headers["Location"].endswith(path)
    html = client.get(path).get_data(as_text=True)
    assert ">Valid<" in html and "Ledger record" in html and "Certificate details" in html and "有效<" not in html


def test_hostile_identifier_in_the_url_is_escaped(client):
    hostile = '"><script>alert(1)'
    r = client.get("/verify/" + quote(hostile, safe=""))
    html = r.get_data(as_text=True)
    assert r.status_code == 404
    assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)" in html


# --- uploads ----------------------------------------------------------------------------------------

def test_upload_of_the_sealed_ofd_is_valid(client, issued):
    data = ofd_file(issued.world, issued.good.identifier).read_bytes()
    r = upload(client, data, "证照.ofd", csrf(client))
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and 'verdict-valid' in html, html
    assert check_row(html, "document") == "check-ok" and issued.good.identifier in html
    assert issued.codes[0] not in html


def test_upload_of_a_tampered_ofd_is_invalid(client, issued):
    data = tampered_ofd(ofd_file(issued.world, issued.good.identifier).read_bytes())
    html = upload(client, data, "tampered.ofd", csrf(client)).get_data(as_text=True)
    assert 'verdict-invalid' in html and check_row(html, "document") == "check-fail"


def test_upload_of_the_signed_pdf_is_valid(client, issued):
    from issuance.renditions import rendition

    pdf = rendition(issued.platform, issued.other.identifier, "pdf").read_bytes()
    html = upload(client, pdf, "证照.pdf", csrf(client)).get_data(as_text=True)
    assert 'verdict-valid' in html and check_row(html, "document") == "check-ok", html


def test_upload_of_another_kind_of_file_is_refused_next_to_the_field(client):
    r = upload(client, b"just some text, named like a PDF", "x.pdf", csrf(client))
    html = r.get_data(as_text=True)
    assert r.status_code == 415
    assert re.search(r'id="file-error">仅支持 OFD 或 PDF 格式的电子证照文件<', html)
    r = upload(client, b"", "", csrf(client))
    assert r.status_code == 400 and 'id="file-error"' in r.get_data(as_text=True)


def test_upload_over_the_size_limit_is_refused(client, issued):
    with public_settings(issued.platform, max_file_mb=1):
        big = b"PK\x03\x04" + b"\0" * (1024 * 1024)
        r = upload(client, big, "big.ofd", csrf(client))
        assert r.status_code == 413 and re.search(r'id="file-error">文件超过 1 MB', r.get_data(as_text=True))
        r = client.post("/verify/api/file", data=big + b"\0" * 128 * 1024, content_type="application/octet-stream")
        assert r.status_code == 413 and r.get_json()["head"]["status"] == "413"


def test_a_zip_bomb_is_refused_by_the_package_loader(client, issued):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("OFD.xml", b"<ofd/>")
        zf.writestr("Doc_0/bomb.xml", b"\0" * (30 * 1024 * 1024))
    r = upload(client, buf.getvalue(), "bomb.ofd", csrf(client))
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and "verdict-invalid" in html and "zip bomb" in html


# --- batches --------------------------------------------------------------------------------------------

def test_batch_with_an_unknown_identifier(client, issued):
    lines = "\n".join([issued.good.identifier, UNKNOWN, "", issued.good.identifier, issued.revoked.identifier])
    r = client.post("/verify/batch", data={"identifiers": lines, "csrf_token": csrf(client)})
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and 'id="batch-total">共 3 个证照标识，1 个有效' in html
    rows = re.findall(r'<tr class="(check-ok|check-fail)">\s*<td>(.*?)</td>', html, re.S)
    assert [(cls, re.sub(r"<[^>]+>", "", cell)) for cls, cell in rows] == [
        ("check-ok", issued.good.identifier), ("check-fail", UNKNOWN), ("check-fail", issued.revoked.identifier)]
    assert "证照数据：本平台没有该标识的证照" in html
    assert not any(code in html for code in issued.codes)


def test_batch_over_the_limit_or_empty_is_refused_next_to_the_field(client, issued):
    with public_settings(issued.platform, max_batch=2):
        lines = "\n".join([issued.good.identifier, issued.other.identifier, UNKNOWN])
        r = client.post("/verify/batch", data={"identifiers": lines, "csrf_token": csrf(client)})
        html = r.get_data(as_text=True)
        assert r.status_code == 400 and 'id="batch-error">一次最多验证 2 个证照标识<' in html
        assert UNKNOWN in html  # what was typed is kept
    r = client.post("/verify/batch", data={"identifiers": " \n", "csrf_token": csrf(client)})
    assert r.status_code == 400 and 'id="batch-error"' in r.get_data(as_text=True)


# --- JSON ---------------------------------------------------------------------------------------------------

def test_json_endpoints_answer_in_the_envelope(client, issued):
    r = client.get(f"/verify/api/{issued.good.identifier}")
    body = r.get_json()
    assert r.status_code == 200 and body["head"] == {"status": "0", "message": "接口调用成功"}
    data = body["data"]
    assert data["valid"] is True and data["verifyResult"] == "true" and data["ledgerBlock"] >= 1
    assert {c["name"] for c in data["checks"]} >= {"ledger", "digest", "proof", "issuer", "status", "document"}
    assert data["certificate"]["certificateHolderCode"] == mask_code(issued.codes[0])
    assert data["certificate"]["issueDept"] == "哈尔滨市市场监督管理局" and data["certificate"]["status"] == "effective"
    assert issued.codes[0] not in r.get_data(as_text=True) and "Set-Cookie" not in r.headers

    r = client.get(f"/verify/api/{UNKNOWN}")
    assert r.status_code == 200 and r.get_json()["data"]["verifyResult"] == "false"

    # no CSRF token, no session: the JSON endpoints are for programs
    r = client.post("/verify/api/batch", json={"identifiers": [issued.revoked.identifier, UNKNOWN, UNKNOWN]})
    body = r.get_json()
    assert r.status_code == 200 and body["head"]["status"] == "0" and body["data"]["total"] == 2
    first, second = body["data"]["dataList"]
    assert first["valid"] is False and any(c["name"] == "status" and not c["ok"] for c in first["checks"])
    assert second["identifier"] == UNKNOWN and second["certificate"] is None
    assert "Set-Cookie" not in r.headers

    ofd = ofd_file(issued.world, issued.good.identifier).read_bytes()
    r = client.post("/verify/api/file?filename=c.ofd", data=ofd, content_type="application/octet-stream")
    assert r.status_code == 200 and r.get_json()["data"]["valid"] is True
    r = client.post("/verify/api/file", data={"file": (io.BytesIO(tampered_ofd(ofd)), "t.ofd")},
                    content_type="multipart/form-data")
    assert r.status_code == 200 and r.get_json()["data"]["valid"] is False


def test_json_refusals_are_enveloped_too(client):
    r = client.post("/verify/api/batch", json={"identifiers": "not a list"})
    assert r.status_code == 400 and r.get_json()["head"]["status"] == "400"
    r = client.post("/verify/api/batch", json={"identifiers": [f"{UNKNOWN}{i}" for i in range(101)]})
    assert r.status_code == 400 and "100" in r.get_json()["head"]["message"]
    r = client.post("/verify/api/file", data=b"plain text", content_type="text/plain")
    assert r.status_code == 415 and r.get_json()["head"]["status"] == "415"
    r = client.get("/verify/api/batch")
    assert r.status_code == 405 and r.headers["Allow"] == "POST" and r.get_json()["head"]["status"] == "405"
    r = client.get("/verify/api/a/b")
    assert r.status_code == 404 and r.get_json()["head"]["status"] == "404"


# --- rate limits -------------------------------------------------------------------------------------

def test_rate_limit_answers_429_page_and_envelope(client, issued):
    with public_settings(issued.platform, verify_rate="3/minute", batch_rate="2/minute"):
        for _ in range(3):
            assert client.get(f"/verify/{issued.good.identifier}").status_code == 200
        r = client.get(f"/verify/{issued.good.identifier}")
        assert r.status_code == 429 and 'id="rate-limited"' in r.get_data(as_text=True)
        assert int(r.headers["Retry-After"]) > 0
        r = client.get(f"/verify/api/{issued.good.identifier}")  # the same bucket: single verifications
        assert r.status_code == 429 and r.get_json()["head"]["status"] == "429"
        # batches have their own bucket, and it runs out on its own
        for _ in range(2):
            assert client.post("/verify/api/batch", json={"identifiers": [UNKNOWN]}).status_code == 200
        assert client.post("/verify/api/batch", json={"identifiers": [UNKNOWN]}).status_code == 429
        # another client is not affected
        r = client.get(f"/verify/api/{issued.good.identifier}", environ_base={"REMOTE_ADDR": "10.0.0.9"})
        assert r.status_code == 200


# --- CSRF -----------------------------------------------------------------------------------------------------

def test_forms_without_a_csrf_token_are_refused(client, issued):
    r = client.post("/verify/batch", data={"identifiers": issued.good.identifier})
    assert r.status_code == 400 and "页面已过期" in r.get_data(as_text=True)
    data = ofd_file(issued.world, issued.good.identifier).read_bytes()
    r = upload(client, data, "c.ofd")
    assert r.status_code == 400 and "页面已过期" in r.get_data(as_text=True)


def test_lookup_form_goes_to_the_qr_page(client, issued):
    r = client.get("/verify", query_string={"identifier": f" {issued.good.identifier} "})
    assert r.status_code == 302 and r.headers["Location"].endswith(qr_path(issued.good.identifier))
    html = client.get("/verify").get_data(as_text=True)
    assert 'id="file-form"' in html and 'id="batch-form"' in html and 'enctype="multipart/form-data"' in html
