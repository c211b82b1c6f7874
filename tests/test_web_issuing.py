"""审核 pages (web/issuing.py) through Flask's client against a real platform: the review queue
(filter, sort, page), approve, 驳回 with a reason, 发起签发, and 开始签发 running the real pipeline
in the background with its progress polled as JSON (green done, red failed with its error, grey
skipped), with role and department isolation on every route."""

from __future__ import annotations

import re
import time

import pytest
from sqlalchemy import update

from issuance import cert_types, certificates
from issuance.certificates import Entry
from issuance.models import Certificate, CertificateStatus as S, CertificateType
from ofd.design import default_for
from tests.conftest import PASSWORD
from tests.helpers import approved_licence_type, basic, csrf, licence_values, login, web_app

COLUMNS = [("ENTNAME", "名称"), ("dom", "住所"), ("name", "法定代表人"), ("opscope", "经营范围")]
STEPS = ["encrypt", "layout", "sign", "seal", "anchor", "effective"]


def entered(world, t_id, seeds, actor=None) -> list[int]:
    actor = actor or world.clerk
    with world.uow() as uow:
        certs = certificates.enter_many(uow, actor, t_id, [Entry(basic(i), licence_values(f"企业{i}")) for i in seeds])
        uow.commit()
        return [c.id for c in certs]


def to(world, ids, status: S, reviewer=None, clerk=None) -> None:
    """Move drafts forward: submitted, approved (entry review) or issuing (issuance review)."""
    reviewer, clerk = reviewer or world.reviewer, clerk or world.clerk
    with world.uow() as uow:
        certificates.submit_many(uow, clerk, ids)
        if status in (S.APPROVED, S.ISSUING):
            certificates.review_many(uow, reviewer, ids, certificates.ENTRY_REVIEW, True)
        if status is S.ISSUING:
            certificates.review_many(uow, reviewer, ids, certificates.ISSUANCE_REVIEW, True)
        uow.commit()


def status_of(world, cid):
    with world.uow() as uow:
        return uow.session.get(Certificate, cid).status


@pytest.fixture
def iw(world):
    world.t = approved_licence_type(world)
    dept_b, admin_b = world.add_department("哈尔滨市教育局", "11230100MB0000002X")
    world.reviewer_b = world.add_user("reviewer_b", "reviewer", dept_b.id)
    return world


@pytest.fixture
def app(world):
    return web_app(world.platform)


@pytest.fixture
def client(app):
    return app.test_client()


def post(client, path, data=None, **kw):
    token = csrf(client, "/account/profile")
    return client.post(path, data={**(data or {}), "csrf_token": token}, **kw)


def wait_runs(app, timeout=60.0) -> None:
    bg = app.extensions.get("issuing_background")
    assert bg is not None, "no run was started"
    assert bg.join(timeout), "the issuance run did not end"


def routes(cid):
    return [("GET", "/issuing"), ("GET", f"/issuing/{cid}"), ("POST", f"/issuing/{cid}/approve"),
            ("GET", f"/issuing/{cid}/reject"), ("POST", f"/issuing/{cid}/reject"),
            ("POST", f"/issuing/{cid}/start-issuance"), ("POST", "/issuing/batch"),
            ("GET", f"/issuing/progress?ids={cid}"), ("GET", f"/issuing/progress.json?ids={cid}"),
            ("POST", "/issuing/run")]


# --- role and department isolation ---------------------------------------------------------------

def test_anonymous_is_sent_to_login_everywhere(iw, client):
    (cid,) = entered(iw, iw.t.id, [1])
    to(iw, [cid], S.SUBMITTED)
    for method, path in routes(cid):
        r = client.get(path) if method == "GET" else client.post(
            path, data={"csrf_token": csrf(client), "ids": str(cid), "action": "approve", "reason": "x"})
        assert r.status_code == 302 and "/login" in r.headers["Location"], (method, path, r.status_code)
    assert status_of(iw, cid) is S.SUBMITTED


def test_a_clerk_may_not_review(iw, client):
    (cid,) = entered(iw, iw.t.id, [1])
    to(iw, [cid], S.SUBMITTED)
    login(client, "clerk1", PASSWORD)
    for method, path in routes(cid):
        r = client.get(path) if method == "GET" else post(client, path, {"ids": str(cid), "action": "approve",
                                                                          "reason": "x"})
        assert r.status_code == 403, (method, path, r.status_code)
    assert status_of(iw, cid) is S.SUBMITTED


def test_a_reviewer_of_another_department_sees_and_changes_nothing(iw, client):
    sub, appr, issuing = entered(iw, iw.t.id, [1, 2, 3])
    to(iw, [sub], S.SUBMITTED)
    to(iw, [appr], S.APPROVED)
    to(iw, [issuing], S.ISSUING)
    login(client, "reviewer_b", PASSWORD)
    html = client.get("/issuing").get_data(as_text=True)
    assert "共 0 条" in html and "企业1" not in html
    for cid in (sub, appr, issuing):
        assert client.get(f"/issuing/{cid}").status_code == 404
        assert client.get(f"/issuing/{cid}/reject").status_code == 404
        assert post(client, f"/issuing/{cid}/reject", {"reason": "不行"}).status_code == 404
        assert post(client, f"/issuing/{cid}/approve").status_code == 404
        assert post(client, f"/issuing/{cid}/start-issuance").status_code == 404
        assert client.get(f"/issuing/progress?ids={cid}").status_code == 404
        assert client.get(f"/issuing/progress.json?ids={cid}").status_code == 404
        assert post(client, "/issuing/run", {"ids": str(cid)}).status_code == 404
    assert post(client, "/issuing/batch", {"ids": [str(sub)], "action": "approve"}).status_code == 404
    assert post(client, "/issuing/batch", {"ids": [str(appr)], "action": "start"}).status_code == 404
    assert [status_of(iw, c) for c in (sub, appr, issuing)] == [S.SUBMITTED, S.APPROVED, S.ISSUING]
    bg = client.application.extensions.get("issuing_background")
    assert bg is None or bg.runs == 0  # no pipeline run was started


# --- the review list ------------------------------------------------------------------------------

def row_of(html: str, cid: int) -> str:
    return re.search(rf'<tr data-id="{cid}".*?</tr>', html, re.S).group(0)


def listed(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'<tr data-id="(\d+)"', html.split('id="review-list"', 1)[1])]


def test_the_queue_filters_sorts_pages_and_offers_the_actions_of_each_stage(iw, client):
    ids = entered(iw, iw.t.id, range(1, 27))
    draft = ids[25]
    to(iw, ids[:20], S.SUBMITTED)
    to(iw, ids[20:24], S.APPROVED)
    to(iw, [ids[24]], S.ISSUING)
    login(client, "reviewer1", PASSWORD)
    html = client.get("/issuing").get_data(as_text=True)
    assert "共 25 条" in html and len(listed(html)) == 20 and draft not in listed(html)
    assert len(listed(client.get("/issuing?page=2").get_data(as_text=True))) == 5
    assert listed(client.get("/issuing?stage=issuance&sort=holder").get_data(as_text=True)) == sorted(
        ids[20:24], key=lambda i: f"企业{ids.index(i) + 1}")
    assert listed(client.get("/issuing?stage=issuing").get_data(as_text=True)) == [ids[24]]
    assert listed(client.get("/issuing?text=企业7&stage=entry").get_data(as_text=True)) == [ids[6]]
    asc = listed(client.get("/issuing?sort=created_at&size=200").get_data(as_text=True))
    assert asc == sorted(asc) and len(asc) == 25
    assert client.get("/issuing?stage=nonsense").status_code == 400
    assert client.get("/issuing?sort=password").status_code == 400
    html = client.get("/issuing?size=200").get_data(as_text=True)
    r_sub, r_appr, r_iss = row_of(html, ids[0]), row_of(html, ids[20]), row_of(html, ids[24])
    assert "approve" in r_sub and "start-issuance" not in r_sub and 'class="btn small danger reject"' in r_sub
    assert 'class="btn small start-issuance"' in r_appr and 'data-confirm="是否确认发起签发流程？"' in r_appr
    assert "reject" in r_appr and 'class="btn small approve"' not in r_appr
    assert "/issuing/progress?ids=" in r_iss and "reject" not in r_iss


def test_approve_then_reject_with_a_reason_that_is_required(iw, client):
    a, b = entered(iw, iw.t.id, [1, 2])
    to(iw, [a, b], S.SUBMITTED)
    login(client, "reviewer1", PASSWORD)
    assert post(client, f"/issuing/{a}/approve").status_code == 302
    assert status_of(iw, a) is S.APPROVED
    page = client.get(f"/issuing/{b}/reject").get_data(as_text=True)
    assert 'id="reject-form"' in page and 'data-confirm="是否确认驳回证照签发请求？"' in page and 'name="reason"' in page
    r = post(client, f"/issuing/{b}/reject", {"reason": "  "})
    assert r.status_code == 400 and 'id="reason-error"' in r.get_data(as_text=True)
    assert status_of(iw, b) is S.SUBMITTED
    assert post(client, f"/issuing/{b}/reject", {"reason": "持证主体名称有误"}).status_code == 302
    assert status_of(iw, b) is S.DRAFT  # back to the clerk
    # the issuance review rejects back to entry review
    assert post(client, f"/issuing/{a}/reject", {"reason": "编号重复"}).status_code == 302
    assert status_of(iw, a) is S.SUBMITTED
    clerk = web_app(iw.platform).test_client()
    login(clerk, "clerk1", PASSWORD)
    rows = dict(re.findall(r'<tr data-id="(\d+)".*?data-state="(\w+)"', clerk.get("/entry").get_data(as_text=True),
                           re.S))
    assert rows[str(b)] == "rejected" and rows[str(a)] == "submitted"  # the clerk sees what came back
    # a draft waits in no review: neither approve nor reject
    assert post(client, f"/issuing/{b}/approve").status_code == 409
    assert client.get(f"/issuing/{b}/reject").status_code == 409


def test_view_shows_the_certificate_and_its_actions(iw, client):
    (cid,) = entered(iw, iw.t.id, [1])
    to(iw, [cid], S.APPROVED)
    login(client, "reviewer1", PASSWORD)
    html = client.get(f"/issuing/{cid}").get_data(as_text=True)
    assert 'id="certificate"' in html and "企业1" in html and "哈尔滨市南岗区某路1号" in html
    assert 'id="start-issuance"' in html and 'data-confirm="是否确认发起签发流程？"' in html


# --- issuance ---------------------------------------------------------------------------------------

def steps_on_page(html: str) -> dict[str, str]:
    return dict(re.findall(r'<li class="step step-\w+" data-step="(\w+)" data-status="(\w+)"', html))


def test_start_issuance_then_run_in_the_background_until_effective(iw, app, client):
    (cid,) = entered(iw, iw.t.id, [1])
    to(iw, [cid], S.APPROVED)
    login(client, "reviewer1", PASSWORD)
    r = post(client, f"/issuing/{cid}/start-issuance")
    assert r.status_code == 302 and f"/issuing/progress?ids={cid}" in r.headers["Location"]
    assert status_of(iw, cid) is S.ISSUING
    html = client.get(f"/issuing/progress?ids={cid}").get_data(as_text=True)
    assert 'id="progress"' in html and 'id="start"' in html and "issuing.js" in html
    # no surface design: the document steps are skipped (跳过); the local store names the chain step
    assert steps_on_page(html) == {"encrypt": "pending", "layout": "skipped", "sign": "skipped",
                                   "seal": "skipped", "anchor": "pending", "effective": "pending"}
    assert "跳过" in html and "本地存储" in html and "上链" not in html
    started = time.monotonic()
    r = post(client, "/issuing/run", {"ids": str(cid)}, headers={"Accept": "application/json"})
    assert r.status_code == 202 and r.get_json()["started"] == [cid]
    assert time.monotonic() - started < 5  # the request does not wait for the pipeline
    wait_runs(app)
    data = client.get(f"/issuing/progress.json?ids={cid}").get_json()
    assert data["running"] is False
    (c,) = data["certificates"]
    assert c["status"] == "effective" and c["failed"] is None
    assert [(s["step"], s["status"]) for s in c["steps"]] == [
        ("encrypt", "done"), ("layout", "skipped"), ("sign", "skipped"), ("seal", "skipped"),
        ("anchor", "done"), ("effective", "done")]
    assert c["steps"][4]["label"] == "本地存储"
    html = client.get(f"/issuing/progress?ids={cid}").get_data(as_text=True)
    assert 'class="step step-done" data-step="anchor" data-status="done"' in html
    assert re.search(r'<button type="submit" class="btn primary" id="start" disabled>', html)
    assert status_of(iw, cid) is S.EFFECTIVE and iw.platform.ledger.status(c["identifier"]) is not None
    # a certificate no longer issuing cannot be run again
    assert post(client, "/issuing/run", {"ids": str(cid)}).status_code == 409


def test_a_failed_step_turns_red_with_its_error_and_the_flow_stops_there(iw, app, client):
    with iw.uow() as uow:  # a surface design, then damaged in the database: the layout step must fail
        cert_types.save_surface_design(uow, iw.dept_admin, iw.t.id, default_for(COLUMNS).to_json())
        uow.commit()
    with iw.uow() as uow:
        uow.session.execute(update(CertificateType).where(CertificateType.id == iw.t.id).values(
            surface_design={"version": 1, "elements": [{"kind": "hologram"}]}))
        uow.commit()
    (cid,) = entered(iw, iw.t.id, [1])
    to(iw, [cid], S.ISSUING)
    login(client, "reviewer1", PASSWORD)
    r = post(client, "/issuing/run", {"ids": str(cid)})  # without JavaScript: back to the page
    assert r.status_code == 302 and f"/issuing/progress?ids={cid}" in r.headers["Location"]
    wait_runs(app)
    data = client.get(f"/issuing/progress.json?ids={cid}").get_json()
    (c,) = data["certificates"]
    steps = {s["step"]: s for s in c["steps"]}
    assert c["failed"] == "layout" and c["status"] == "issuing"
    assert steps["encrypt"]["status"] == "done" and steps["layout"]["status"] == "failed"
    assert "surface design" in steps["layout"]["error"] or "hologram" in steps["layout"]["error"]
    assert [steps[s]["status"] for s in ("sign", "seal", "anchor", "effective")] == ["pending"] * 4
    html = client.get(f"/issuing/progress?ids={cid}").get_data(as_text=True)
    assert 'class="step step-failed" data-step="layout" data-status="failed"' in html
    assert steps["layout"]["error"][:20] in html
    assert re.search(r'id="start">', html)  # may be started again once the cause is fixed
    assert iw.platform.ledger.status(c["identifier"]) is None


def test_batch_approve_and_batch_start_lead_to_one_progress_page(iw, app, client):
    a, b, c = entered(iw, iw.t.id, [1, 2, 3])
    to(iw, [a, b, c], S.SUBMITTED)
    login(client, "reviewer1", PASSWORD)
    html = client.get("/issuing").get_data(as_text=True)
    assert 'id="batch-form"' in html and 'id="start-selected"' in html
    assert post(client, "/issuing/batch", {"ids": [str(a), str(b)], "action": "approve"}).status_code == 302
    assert [status_of(iw, i) for i in (a, b, c)] == [S.APPROVED, S.APPROVED, S.SUBMITTED]
    # all or nothing: c waits in another stage
    assert post(client, "/issuing/batch", {"ids": [str(a), str(c)], "action": "start"}).status_code == 409
    assert status_of(iw, a) is S.APPROVED
    r = post(client, "/issuing/batch", {"ids": [str(a), str(b)], "action": "start"})
    assert r.status_code == 302
    assert r.headers["Location"].endswith((f"ids={a}%2C{b}", f"ids={a},{b}"))
    html = client.get(f"/issuing/progress?ids={a},{b}").get_data(as_text=True)
    assert html.count('data-step="encrypt"') == 2
    assert post(client, "/issuing/run", {"ids": f"{a},{b}"}).status_code == 302
    wait_runs(app)
    data = client.get(f"/issuing/progress.json?ids={a},{b}").get_json()
    assert [x["status"] for x in data["certificates"]] == ["effective", "effective"]
    assert post(client, "/issuing/batch", {"ids": ["x"], "action": "start"}).status_code == 400
