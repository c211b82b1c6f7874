"""Technical details said in the reader's language: verification checks, the process timeline, DNs.

The domain keeps its English ``detail`` sentences (the CLI, the JSON API and the sharing interface
carry them unchanged); the pages render a Chinese (or, after the switch, English) sentence from
each check's ``code`` and ``params``, the business-process timeline shows the pipeline's notes as
labelled values, and a digital certificate's subject and issuer are listed attribute by attribute.
Real platform, real pipeline, local ledger; the issued certificates come from
tests/test_public_verification.py's module fixture.
"""

from __future__ import annotations

import io
import json
import re

import pytest

from issuance import digital_certificates as dcerts
from issuance.process import ProcessStep, detail_parts
from issuance.public_verification import verify_file, verify_identifier, verify_identifiers
from issuance.verification import Check
from sharing.service import verdict_answer
from tests.conftest import PASSWORD
from tests.helpers import login
from tests.test_pipeline import ofd_file
# ``issued`` (a fixture): three issued certificates with a surface design, the second one revoked
from tests.test_public_verification import UNKNOWN, csrf, issued, qr_path, tampered_ofd, upload  # noqa: F401
from web.app import create_app
from web.certs import process_detail
from web.verify import CHECK_SENTENCES, check_sentence


ENGLISH_DETAILS = ("anchored at", "leads to the anchored batch root", "effective (有效)", "batch of", "next review due",
                   "seal(s) and signature intact", "the data matches", "no end date", "valid 2")


@pytest.fixture
def app(issued):
    app = create_app(issued.platform)
    app.config["CAPTCHA_TEST_ANSWER"] = True
    return app


@pytest.fixture
def client(app):
    return app.test_client()


def logged_in(app, username: str):
    c = app.test_client()
    assert login(c, username, PASSWORD).status_code == 302
    return c


def details(html: str) -> dict[str, str]:
    """The 说明 column of the checks table, by check name."""
    return dict(re.findall(r'data-check="([a-z_]+)">.*?<td class="detail">(.*?)</td>', html, re.S))


def switch_to_english(client, path: str) -> None:
    r = client.post("/lang/en", data={"csrf_token": csrf(client, path), "next": path})
    assert r.status_code == 302


# --- the domain: every check names its sentence ----------------------------------------------------

def test_every_check_the_services_make_has_a_known_code(issued):
    from issuance.renditions import rendition

    p = issued.platform
    ofd = ofd_file(issued.world, issued.good.identifier).read_bytes()
    verdicts = [*verify_identifiers(p, [issued.good.identifier, issued.revoked.identifier, UNKNOWN, "x" * 200]),
                verify_identifier(p, ""),
                verify_file(p, ofd, "c.ofd"), verify_file(p, tampered_ofd(ofd), "t.ofd"),
                verify_file(p, rendition(p, issued.other.identifier, "pdf").read_bytes(), "c.pdf"),
                verify_file(p, b"%PDF-1.7 not really", "broken.pdf"),
                verify_file(p, b"PK\x03\x04 not a zip", "broken.ofd")]
    checks = [c for v in verdicts for c in v.checks]
    assert len(checks) > 20
    unknown = [(c.name, c.code, c.detail) for c in checks if c.code not in CHECK_SENTENCES]
    assert unknown == []
    codes = {c.code for c in checks}
    assert {"ledger.anchored", "digest.match", "proof.ok", "issuer.ok", "status.effective", "status.revoked",
            "validity.ok", "document.stored_ok", "document.ofd_ok", "document.ofd_bad", "document.pdf_ok",
            "data.unknown_malformed", "data.too_long", "data.no_identifier", "document.unreadable_ofd"} <= codes, codes
    # the English detail is untouched: what the CLI and the JSON answers carry
    good = verdicts[0]
    by = {c.name: c for c in good.checks}
    assert by["ledger"].detail == f"anchored at {by['ledger'].params['block']} by {by['ledger'].params['issuer']}"
    assert by["status"].detail == "effective (有效)" and by["proof"].detail == "leads to the anchored batch root"
    # params do not take part in equality or hashing: a Check is still a value
    assert hash(by["status"]) == hash(Check("status", True, "effective (有效)", "status.effective", {"x": 1}))


def test_a_check_without_a_known_sentence_shows_its_detail(app):
    with app.test_request_context("/verify"):
        assert check_sentence(Check("ledger", False, "something new", "ledger.not_yet_worded")) == "something new"
        assert check_sentence(Check("ledger", False, "legacy")) == "legacy"
        # params that do not fit the sentence: the detail, never an error page
        assert check_sentence(Check("ledger", True, "anchored at 5 by x", "ledger.anchored", {})) == "anchored at 5 by x"
        assert check_sentence(Check("ledger", True, "anchored at 5 by x", "ledger.anchored",
                                    {"block": 5, "issuer": "0xabc"})) == "已上链：区块 5，发证方 0xabc"
        assert check_sentence(Check("validity", True, "…", "validity.ok", {"start": "2024-03-01", "end": ""})) == \
            "有效期 2024-03-01 至 长期"


# --- the pages ------------------------------------------------------------------------------------------

def test_the_qr_page_says_every_check_in_chinese(client, issued):
    html = client.get(qr_path(issued.good.identifier)).get_data(as_text=True)
    said = details(html)
    assert set(said) >= {"document", "ledger", "digest", "proof", "issuer", "status", "validity"}
    assert said["ledger"].startswith("已上链：区块 ") and "发证方" in said["ledger"]
    assert said["digest"] == "证照数据与链上存证的摘要一致" and said["proof"] == "可推导出链上存证的批次根"
    assert said["status"] == "有效" and said["validity"].startswith("有效期 ")
    assert re.fullmatch(r".+，本批次共 \d+ 个证照", said["issuer"]), said["issuer"]
    assert said["document"].endswith("电子印章完好，所载数据与本记录一致")
    for english in ENGLISH_DETAILS:
        assert english not in html, english


def test_the_english_switch_says_them_in_english(client, issued):
    path = qr_path(issued.revoked.identifier)
    switch_to_english(client, path)
    said = details(client.get(path).get_data(as_text=True))
    assert said["ledger"].startswith("Anchored on the ledger: block ")
    assert said["status"] == "Revoked"
    assert said["digest"] == "The data matches the anchored digest"
    assert not any(re.search(r"[\u4e00-\u9fff]", text) for name, text in said.items() if name != "issuer"), said


def test_a_failed_upload_and_a_batch_say_why_in_chinese(client, issued):
    data = tampered_ofd(ofd_file(issued.world, issued.good.identifier).read_bytes())
    html = upload(client, data, "tampered.ofd", csrf(client)).get_data(as_text=True)
    assert details(html)["document"].startswith("签章验证未通过：")  # the failing seal checks follow, as found
    r = client.post("/verify/batch", data={"identifiers": f"{issued.revoked.identifier}\n{UNKNOWN}",
                                           "csrf_token": csrf(client)})
    html = r.get_data(as_text=True)
    assert "证照状态：已注销" in html and "证照数据：本平台没有该标识的证照" in html
    assert "revoked (注销)" not in html and "no certificate with this identifier" not in html


# --- what programs read stays as it was --------------------------------------------------------------

def test_the_json_answer_is_unchanged(client, issued):
    body = client.get(f"/verify/api/{issued.good.identifier}").get_json()
    data = body["data"]
    assert set(data) == {"identifier", "valid", "ledgerBlock", "checks", "verifyResult", "certificate"}
    verdict = verify_identifier(issued.platform, issued.good.identifier)
    # exactly the domain's English sentences, with the four keys the API always had (no code, no params)
    assert data["checks"] == [{"name": c.name, "label": c.label, "ok": c.ok, "detail": c.detail}
                              for c in verdict.checks]
    ledger = next(c for c in data["checks"] if c["name"] == "ledger")
    assert ledger["detail"].startswith("anchored at ") and ledger["label"] == "链上记录"
    assert next(c for c in data["checks"] if c["name"] == "status")["detail"] == "effective (有效)"
    text = json.dumps(body, ensure_ascii=False)
    assert '"params"' not in text and '"code"' not in text and "已上链" not in text
    # the English page switch changes nothing of it either
    switch_to_english(client, qr_path(issued.good.identifier))
    assert client.get(f"/verify/api/{issued.good.identifier}").get_json()["data"]["checks"] == data["checks"]
    # the sharing interface's VerifyCertificate answer: the same four-plus-result keys, English detail
    shared = verdict_answer(verdict)
    assert all(set(c) == {"name", "label", "result", "detail"} for c in shared["checks"])
    assert [c["detail"] for c in shared["checks"]] == [c.detail for c in verdict.checks]


def test_a_file_answer_of_the_json_api_keeps_its_details(client, issued):
    ofd = ofd_file(issued.world, issued.good.identifier).read_bytes()
    r = client.post("/verify/api/file", data={"file": (io.BytesIO(ofd), "c.ofd")}, content_type="multipart/form-data")
    checks = r.get_json()["data"]["checks"]
    assert all(set(c) == {"name", "label", "ok", "detail"} for c in checks)
    assert next(c for c in checks if c["name"] == "document")["detail"].endswith("seal(s) and signature intact, "
                                                                                  "signer trusted")


# --- the business-process timeline ----------------------------------------------------------------------

def test_pipeline_notes_are_read_into_their_parts():
    assert detail_parts("sm3:" + "ab" * 32) == ("digest", {"digest": "sm3:" + "ab" * 32})
    assert detail_parts("certificate serial 4230ffa1") == ("serial", {"serial": "4230ffa1"})
    assert detail_parts("local:7f3a block 5 root 0123456789abcdef") == (
        "anchored", {"ref": "local:7f3a", "block": "5", "root": "0123456789abcdef"})
    assert detail_parts("already on the ledger at 12") == ("already_anchored", {"block": "12"})
    assert detail_parts("something else") == ("", {}) and detail_parts("") == ("", {})


def test_the_timeline_shows_the_notes_in_chinese_with_hashes_monospace(app, issued):
    admin = logged_in(app, "admin")
    r = admin.get(f"/certificates/{issued.good.id}/process")
    html = r.get_data(as_text=True)
    assert r.status_code == 200
    notes = dict(re.findall(r'<p class="tl-detail muted" data-detail="([a-z_]+)">(.*?)</p>', html, re.S))
    assert re.fullmatch(r'摘要 <span class="mono">sm3:[0-9a-f]{64}</span>', notes["digest"]), notes
    assert re.fullmatch(r'签名证书序列号 <span class="mono">[0-9a-f]+</span>', notes["serial"]), notes
    assert re.fullmatch(r'区块 \d+ · 批次根 <span class="mono">[0-9a-f]{16}…</span> · '
                        r'存证凭据 <span class="mono">local:\S+</span>', notes["anchored"]), notes
    for english in ("certificate serial", " block ", " root ", "already on the ledger"):
        assert english not in html, english
    switch_to_english(admin, f"/certificates/{issued.good.id}/process")
    html = admin.get(f"/certificates/{issued.good.id}/process").get_data(as_text=True)
    assert 'Digest <span class="mono">sm3:' in html and "Signing certificate serial" in html and "Batch root" in html


def test_an_unknown_note_is_shown_as_it_is(app):
    with app.test_request_context("/"):
        raw = ProcessStep("pipeline", "pipeline.anchor", None, detail="a future note", detail_kind="")
        assert process_detail(raw) == []
        broken = ProcessStep("pipeline", "pipeline.anchor", None, detail="x", detail_kind="anchored", detail_params={})
        assert process_detail(broken) == []
        annual = ProcessStep("audit", "certificate.annual_review", None, detail="2027-01-01", detail_kind="next_due",
                             detail_params={"date": "2027-01-01"})
        assert process_detail(annual) == [("下次年审日期", "2027-01-01", False)]


def test_the_timeline_stays_closed_to_others(app, issued):
    path = f"/certificates/{issued.good.id}/process"
    r = app.test_client().get(path)
    assert r.status_code == 302 and "/login" in r.headers["Location"]
    assert logged_in(app, "clerk1").get(path).status_code == 403


# --- the digital certificate's names ----------------------------------------------------------------------

@pytest.fixture
def digital_cert(issued):
    world = issued.world
    with world.uow() as uow:
        row = dcerts.issue(uow, world.dept_admin, issued.platform.ca, "措辞测试证书")
        uow.commit()
        cert_id = row.id
    yield cert_id
    with world.uow() as uow:
        dcerts.delete(uow, world.dept_admin, issued.platform.ca, cert_id)
        uow.commit()


def test_subject_and_issuer_are_listed_with_chinese_attribute_labels(app, issued, digital_cert):
    c = logged_in(app, issued.world.dept_admin.username)
    path = f"/digital-certificates/{digital_cert}"
    html = c.get(path).get_data(as_text=True)
    subject = html.split('id="cert-subject">', 1)[1].split("</dd>\n", 1)[0]
    pairs = dict(re.findall(r"<dt>(.*?)</dt><dd>(.*?)</dd>", subject))
    assert pairs["通用名称 CN"] == issued.world.dept.name and pairs["组织 O"] == issued.world.dept.name
    assert pairs["组织单位 OU"] == issued.world.dept.code and pairs["国家 C"] == "CN"
    issuer = html.split('id="cert-issuer">', 1)[1].split("</dd>\n", 1)[0]
    assert "通用名称 CN" in issuer and '<dl class="dn">' in issuer
    assert "Common Name" not in html and "Organization:" not in html and "Country:" not in html
    switch_to_english(c, path)
    html = c.get(path).get_data(as_text=True)
    assert "Common name (CN)" in html and "Organizational unit (OU)" in html and "通用名称" not in html


def test_name_parts_keep_every_attribute_most_specific_first():
    from certledger.crypto import x509 as X

    parts = dcerts.name_parts(X.name("某部门", organization="某组织", unit="U1", province="黑龙江", locality="哈尔滨"))
    assert parts == (("common_name", "某部门"), ("organizational_unit_name", "U1"), ("organization_name", "某组织"),
                     ("locality_name", "哈尔滨"), ("state_or_province_name", "黑龙江"), ("country_name", "CN"))


def test_another_department_cannot_open_the_certificate(app, issued, digital_cert):
    _, other_admin = issued.world.add_department("大庆市市场监督管理局", "11230600MB0000002X", "230600")
    c = logged_in(app, other_admin.username)
    r = c.get(f"/digital-certificates/{digital_cert}")
    assert r.status_code == 404 and issued.world.dept.code not in r.get_data(as_text=True)
    assert app.test_client().get(f"/digital-certificates/{digital_cert}").status_code == 302
    assert logged_in(app, "clerk1").get(f"/digital-certificates/{digital_cert}").status_code == 403
