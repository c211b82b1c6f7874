"""证照管理 / 证照年审 / 证照维护 through Flask's client: real app, database, pipeline and local ledger.

Certificates are entered and reviewed by the domain, issued by the real pipeline (local store),
and then driven through the pages: list, view (surface picture, ledger history), edit and
delete before issuance, loss and revocation with a reason, annual review, and the admin's
maintenance list with the business-process timeline. Every route is checked for anonymous
access, refused roles and another department's records.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select, update

from issuance import certificates, lifecycle, process
from issuance.anchoring import Worker
from issuance.certificates import Entry
from issuance.errors import NotFound
from issuance.models import AuditEntry, Certificate, CertificateStatus as S
from issuance.pipeline import issue
from ofd.design import default_for
from tests.conftest import PASSWORD
from tests.helpers import approved_licence_type, basic, csrf, licence_values, login, web_app

COLUMNS = [("ENTNAME", "名称"), ("dom", "住所"), ("name", "法定代表人"), ("opscope", "经营范围")]
OTHER_TYPE = "11100000000013338W099"
CONFIRM = "删除操作不能恢复，确定删除吗？"


# --- builders ------------------------------------------------------------------------------------

@pytest.fixture
def app(world):
    return web_app(world.platform)


def client_for(app, username):
    c = app.test_client()
    r = login(c, username, PASSWORD)
    assert r.status_code == 302, r.get_data(as_text=True)
    return c


def post(c, url, data=None, token_from="/certificates/annual"):
    """POST with the CSRF token of the client's session (taken from a page it can open)."""
    token = csrf(c, token_from if c.get(token_from).status_code == 200 else "/account/profile")
    return c.post(url, data={"csrf_token": token, **(data or {})})


def with_design(world, t, admin=None):
    from issuance import cert_types

    with world.uow() as uow:
        cert_types.save_surface_design(uow, admin or world.dept_admin, t.id, default_for(COLUMNS).to_json())
        uow.commit()


def enter(world, t, seed, clerk=None, **over):
    with world.uow() as uow:
        c = certificates.enter(uow, clerk or world.clerk, t.id, basic(seed, **over), licence_values(f"企业{seed}"))
        uow.commit()
        return c.id


def issued(world, t, seed, clerk=None, reviewer=None, **over) -> int:
    """Entered, both reviews passed, issued by the pipeline: an effective certificate's id."""
    cid = enter(world, t, seed, clerk, **over)
    with world.uow() as uow:
        certificates.submit(uow, clerk or world.clerk, cid)
        certificates.review_entry(uow, reviewer or world.reviewer, cid, True)
        certificates.review_issuance(uow, reviewer or world.reviewer, cid, True)
        uow.commit()
    report = issue(world.platform, [cid], workers=0)
    assert report.ok, report
    return cid


def drain(world):
    report = Worker(world.platform.session_factory, world.platform.ledger).drain()
    assert report.error == "", report


def cert(world, cid) -> Certificate | None:
    with world.platform.session_factory() as s:
        return s.get(Certificate, cid)


def ids_in(html: str, table: str = "certificates") -> list[int]:
    body = html.split(f'id="{table}"', 1)[1].split("</table>", 1)[0]
    return [int(i) for i in re.findall(r'<tr data-id="(\d+)"', body)]


@pytest.fixture
def other(world):
    """A second department with its own approved type, a clerk, and an effective certificate."""
    dept, head = world.add_department("大庆市市场监督管理局", "11230600MB0000002X", "230600")
    clerk = world.add_user("clerk2", "clerk", dept.id)
    from issuance import cert_types
    from tests.helpers import SAMPLE

    args = cert_types.from_sample(SAMPLE, OTHER_TYPE)
    args["annual_review"] = True
    with world.uow() as uow:
        t = cert_types.create(uow, head, **args)
        cert_types.submit(uow, head, t.id)
        uow.commit()
    with world.uow() as uow:
        cert_types.review(uow, world.admin, t.id, True)
        uow.commit()
    eff = issued(world, t, 500, clerk=clerk, reviewer=head, next_review_due="2099-01-01")
    draft = enter(world, t, 501, clerk=clerk)
    return {"dept": dept, "head": head, "clerk": clerk, "type": t, "effective": eff, "draft": draft}


# every route of the blueprint: (method, url template); {id} is a certificate id
ROUTES = [
    ("GET", "/certificates"), ("GET", "/certificates/annual"), ("GET", "/certificates/maintenance"),
    ("GET", "/certificates/{id}"), ("GET", "/certificates/{id}/surface.png"),
    ("GET", "/certificates/{id}/edit"), ("POST", "/certificates/{id}/edit"),
    ("POST", "/certificates/{id}/delete"),
    ("GET", "/certificates/{id}/loss"), ("POST", "/certificates/{id}/loss"),
    ("GET", "/certificates/{id}/revoke"), ("POST", "/certificates/{id}/revoke"),
    ("GET", "/certificates/{id}/annual-review"), ("POST", "/certificates/{id}/annual-review"),
    ("GET", "/certificates/{id}/process"),
]


def test_every_route_is_registered_and_guarded(app):
    rules = {r.rule for r in app.url_map.iter_rules() if r.endpoint.startswith("certs.")}
    assert {u.replace("{id}", "<int:cert_id>") for _, u in ROUTES} == rules
    for name, fn in app.view_functions.items():
        if name.startswith("certs."):
            assert hasattr(fn, "guard"), name


# --- access: anonymous, roles, departments --------------------------------------------------------

def test_anonymous_is_sent_to_login_on_every_route(world, app):
    t = approved_licence_type(world)
    cid = enter(world, t, 1)
    c = app.test_client()
    token = csrf(c)  # a session with a token but nobody signed in
    for method, url in ROUTES:
        url = url.format(id=cid)
        r = c.get(url) if method == "GET" else c.post(url, data={"csrf_token": token, "reason": "x"})
        assert r.status_code == 302 and "/login" in r.headers["Location"], (method, url, r.status_code)
    assert cert(world, cid).status is S.DRAFT


def test_roles_the_seed_does_not_allow_are_refused(world, app):
    t = approved_licence_type(world)
    cid = enter(world, t, 1)
    reviewer = client_for(app, "reviewer1")
    for method, url in [("GET", "/certificates/{id}/edit"), ("POST", "/certificates/{id}/edit"),
                        ("POST", "/certificates/{id}/delete"), ("GET", "/certificates/{id}/loss"),
                        ("POST", "/certificates/{id}/loss"), ("GET", "/certificates/{id}/revoke"),
                        ("POST", "/certificates/{id}/revoke"), ("GET", "/certificates/maintenance"),
                        ("GET", "/certificates/{id}/process")]:
        url = url.format(id=cid)
        r = reviewer.get(url) if method == "GET" else post(reviewer, url, {"reason": "x", "holder": "改"})
        assert r.status_code == 403, (method, url, r.status_code)
    clerk = client_for(app, "clerk1")
    assert clerk.get("/certificates/maintenance").status_code == 403
    assert clerk.get(f"/certificates/{cid}/process").status_code == 403
    # a user with no role in any department sees none of the department's pages
    world.add_user("nobody", "clerk", None)
    nobody = client_for(app, "nobody")
    for url in ("/certificates", "/certificates/annual", f"/certificates/{cid}"):
        assert nobody.get(url).status_code == 403, url
    # what the roles may do, they can: reviewer lists and views; the admin opens everything
    assert reviewer.get("/certificates").status_code == 200
    assert reviewer.get(f"/certificates/{cid}").status_code == 200
    assert reviewer.get("/certificates/annual").status_code == 200
    admin = client_for(app, "admin")
    for url in ("/certificates", "/certificates/maintenance", f"/certificates/{cid}", f"/certificates/{cid}/edit",
                f"/certificates/{cid}/process"):
        assert admin.get(url).status_code == 200, url
    with world.uow() as uow:
        c = uow.session.get(Certificate, cid)
        assert c.status is S.DRAFT and c.holder == "企业1"


def test_another_departments_certificates_are_not_found_and_stay_unchanged(world, app, other):
    eff, draft = other["effective"], other["draft"]
    before = {i: (cert(world, i).status, cert(world, i).holder, cert(world, i).next_review_due) for i in (eff, draft)}
    clerk = client_for(app, "clerk1")
    for cid in (eff, draft):
        for method, url in ROUTES[3:-1]:  # the routes of one certificate (process is admin only: 403)
            url = url.format(id=cid)
            data = {"reason": "不是我的", "holder": "改名", "holder_code": "x", "number": "1",
                    "next_due": (date.today() + timedelta(days=400)).isoformat()}
            r = clerk.get(url) if method == "GET" else post(clerk, url, data)
            assert r.status_code == 404, (method, url, r.status_code)
        assert clerk.get(f"/certificates/{cid}/process").status_code == 403
    # nor are they listed, whatever the filter
    page = clerk.get("/certificates?text=企业50").get_data(as_text=True)
    assert ids_in(page) == []
    assert ids_in(clerk.get("/certificates/annual").get_data(as_text=True), "annual-certificates") == []
    after = {i: (cert(world, i).status, cert(world, i).holder, cert(world, i).next_review_due) for i in (eff, draft)}
    assert after == before
    with world.uow() as uow:  # nothing was recorded against them either
        n = uow.session.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.subject_kind == "certificate", AuditEntry.subject_id.in_([eff, draft]),
            AuditEntry.actor_name == "clerk1"))
        assert n == 0
    # the domain refuses the business process of another department's certificate
    with world.uow() as uow, pytest.raises(NotFound):
        process.process_of(uow, world.clerk, eff)


# --- 证照管理: list, view, edit, delete ---------------------------------------------------------

def test_list_filters_sorts_and_pages_on_the_server(world, app):
    t = approved_licence_type(world)
    ids = [enter(world, t, s) for s in (1, 2, 3)]
    with world.uow() as uow:  # one of them under review
        certificates.submit(uow, world.clerk, ids[2])
        uow.commit()
    clerk = client_for(app, "clerk1")
    page = clerk.get("/certificates").get_data(as_text=True)
    assert ids_in(page) == list(reversed(ids))  # newest first by default
    assert 'id="filters"' in page and 'name="holder_code"' in page
    assert ids_in(clerk.get("/certificates?sort=holder").get_data(as_text=True)) == ids
    assert ids_in(clerk.get("/certificates?sort=-holder").get_data(as_text=True)) == list(reversed(ids))
    assert ids_in(clerk.get("/certificates?text=企业2").get_data(as_text=True)) == [ids[1]]
    assert ids_in(clerk.get("/certificates?status=submitted").get_data(as_text=True)) == [ids[2]]
    assert ids_in(clerk.get(f"/certificates?type_id={t.id}&status=draft&sort=holder").get_data(as_text=True)) == ids[:2]
    code = basic(3)["holder_code"]
    assert ids_in(clerk.get(f"/certificates?holder_code={code}").get_data(as_text=True)) == [ids[2]]
    p1 = clerk.get("/certificates?sort=holder&size=2").get_data(as_text=True)
    p2 = clerk.get("/certificates?sort=holder&size=2&page=2").get_data(as_text=True)
    assert ids_in(p1) == ids[:2] and ids_in(p2) == [ids[2]] and "共 3 条" in p1 and 'rel="next"' in p1
    assert clerk.get("/certificates?page=0").status_code == 400
    assert clerk.get("/certificates?type_id=abc").status_code == 400
    # deletes ask first
    assert f'data-confirm="{CONFIRM}"' in page and f'id="delete-{ids[0]}"' in page


def test_view_of_a_draft_shows_data_values_and_no_surface_yet(world, app):
    t = approved_licence_type(world)
    with_design(world, t)
    cid = enter(world, t, 7)
    clerk = client_for(app, "clerk1")
    html = clerk.get(f"/certificates/{cid}").get_data(as_text=True)
    assert 'id="certificate"' in html and "企业7" in html
    assert basic(7)["holder_code"] in html  # decrypted for the department's staff
    assert "哈尔滨市南岗区某路1号" in html and "软件开发" in html  # field values, decrypted
    assert "签发后生成照面" in html and 'id="surface"' not in html
    assert 'id="ledger-history"' in html and "暂无账本记录" in html
    assert 'id="edit"' in html and f'data-confirm="{CONFIRM}"' in html
    assert 'id="loss"' not in html and 'id="revoke"' not in html
    assert clerk.get(f"/certificates/{cid}/surface.png").status_code == 409  # not issued: no face
    assert clerk.get("/certificates/999999").status_code == 404


def test_edit_before_issuance_with_errors_next_to_fields_and_nothing_half_written(world, app):
    t = approved_licence_type(world)
    cid = enter(world, t, 1)
    clerk = client_for(app, "clerk1")
    form = clerk.get(f"/certificates/{cid}/edit").get_data(as_text=True)
    # the entry module's form (one edit form for a certificate), posting back here
    assert 'id="entry-form"' in form and 'id="submit"' in form and 'value="企业1"' in form
    assert f'action="/certificates/{cid}/edit"' in form
    good = {"holder": "企业一号", "holder_code": basic(1)["holder_code"], "number": basic(1)["number"],
            "issue_date": "2024-03-01", "valid_from": "2024-03-01", "valid_to": "2044-02-29",
            "f_ENTNAME": "企业一号", "f_dom": "哈尔滨市道里区新路2号", "f_name": "李四", "f_REPORTTYPE": "有限责任公司",
            "f_opscope": "软件开发", "f_estdate": "2019-02-03"}
    r = post(clerk, f"/certificates/{cid}/edit", {**good, "holder": "", "valid_to": "2020-01-01", "f_name": ""})
    html = r.get_data(as_text=True)
    assert r.status_code == 400
    assert re.search(r'id="holder-error">请填写持证主体', html)
    assert re.search(r'id="valid_to-error">有效期截止日期不能早于起始日期', html)
    assert 'id="f_dom"' in html and 'value="哈尔滨市道里区新路2号"' in html  # what was typed is kept
    with world.uow() as uow:
        c = uow.session.get(Certificate, cid)
        assert c.holder == "企业1" and certificates.values_of(uow, c)["dom"] == "哈尔滨市南岗区某路1号"
    r = post(clerk, f"/certificates/{cid}/edit", good)
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/certificates/{cid}")
    with world.uow() as uow:
        c = uow.session.get(Certificate, cid)
        assert c.holder == "企业一号" and certificates.values_of(uow, c)["dom"] == "哈尔滨市道里区新路2号"
    # under review: refused, unchanged
    with world.uow() as uow:
        certificates.submit(uow, world.clerk, cid)
        uow.commit()
    assert clerk.get(f"/certificates/{cid}/edit").status_code == 409
    assert post(clerk, f"/certificates/{cid}/edit", {**good, "holder": "再改"}).status_code == 409
    assert cert(world, cid).holder == "企业一号"


def test_delete_before_issuance_only(world, app):
    t = approved_licence_type(world)
    draft = enter(world, t, 1)
    eff = issued(world, t, 2)
    clerk = client_for(app, "clerk1")
    r = post(clerk, f"/certificates/{draft}/delete")
    assert r.status_code == 302 and r.headers["Location"].endswith("/certificates")
    assert cert(world, draft) is None
    r = post(clerk, f"/certificates/{eff}/delete")
    assert r.status_code == 409 and cert(world, eff).status is S.EFFECTIVE
    html = clerk.get(f"/certificates/{eff}").get_data(as_text=True)
    assert 'id="delete"' not in html and 'id="edit"' not in html


# --- issued: surface, ledger history, loss, revocation ---------------------------------------------

def test_issued_certificate_shows_its_surface_and_ledger_history_then_loss_and_revocation(world, app):
    t = approved_licence_type(world)
    with_design(world, t)
    cid = issued(world, t, 3)
    clerk = client_for(app, "clerk1")
    html = clerk.get(f"/certificates/{cid}").get_data(as_text=True)
    assert f'id="surface" src="/certificates/{cid}/surface.png"' in html
    png = clerk.get(f"/certificates/{cid}/surface.png")
    assert png.status_code == 200 and png.mimetype == "image/png" and png.data.startswith(b"\x89PNG\r\n\x1a\n")
    history = html.split('id="ledger-history"', 1)[1].split("</table>", 1)[0]
    assert 'data-event="issue"' in history and "签发上链" in history and "local:" in history
    assert 'id="ledger-status"' in html and 'data-state="effective"' in html.split('id="ledger-status"')[1][:400]

    # 挂失: the form asks first and needs a reason
    form = clerk.get(f"/certificates/{cid}/loss").get_data(as_text=True)
    assert re.search(r'<form[^>]+id="loss-form"[^>]+data-confirm="[^"]+"', form) and 'id="submit"' in form
    assert 'name="reason"' in form
    r = post(clerk, f"/certificates/{cid}/loss", {"reason": "   "})
    assert r.status_code == 400 and re.search(r'id="reason-error">请填写原因', r.get_data(as_text=True))
    assert cert(world, cid).status is S.EFFECTIVE
    r = post(clerk, f"/certificates/{cid}/loss", {"reason": "营业执照遗失"})
    assert r.status_code == 302 and cert(world, cid).status is S.LOST
    html = clerk.get(f"/certificates/{cid}").get_data(as_text=True)
    assert "等待上链" in html and "营业执照遗失" in html  # queued, not yet on the ledger
    drain(world)
    html = clerk.get(f"/certificates/{cid}").get_data(as_text=True)
    history = html.split('id="ledger-history"', 1)[1].split("</table>", 1)[0]
    assert 'data-event="report_loss"' in history and "营业执照遗失" in history and "clerk1" in history
    assert "等待上链" not in history

    # 注销 from lost, with its own form and reason
    form = clerk.get(f"/certificates/{cid}/revoke").get_data(as_text=True)
    assert re.search(r'<form[^>]+id="revoke-form"[^>]+data-confirm="[^"]+"', form) and 'id="submit"' in form
    r = post(clerk, f"/certificates/{cid}/revoke", {"reason": ""})
    assert r.status_code == 400 and 'id="reason-error"' in r.get_data(as_text=True)
    assert cert(world, cid).status is S.LOST
    r = post(clerk, f"/certificates/{cid}/revoke", {"reason": "企业注销"})
    assert r.status_code == 302 and cert(world, cid).status is S.REVOKED
    assert cert(world, cid).status_change_reason == "企业注销"
    drain(world)
    html = clerk.get(f"/certificates/{cid}").get_data(as_text=True)
    assert 'data-event="revoke"' in html and 'id="loss"' not in html and 'id="revoke"' not in html
    assert world.platform.ledger.status(cert(world, cid).identifier).status.value == "revoked"
    # a revoked certificate cannot be revoked again (409) and its face is still shown
    assert post(clerk, f"/certificates/{cid}/revoke", {"reason": "再次"}).status_code == 409
    assert clerk.get(f"/certificates/{cid}/surface.png").status_code == 200


def test_type_without_design_says_so_instead_of_a_surface(world, app):
    t = approved_licence_type(world)
    cid = issued(world, t, 4)
    clerk = client_for(app, "clerk1")
    html = clerk.get(f"/certificates/{cid}").get_data(as_text=True)
    assert 'id="surface-none"' in html and 'id="surface"' not in html
    assert clerk.get(f"/certificates/{cid}/surface.png").status_code == 404


# --- 证照年审 ------------------------------------------------------------------------------------

def test_annual_review_list_filters_and_review(world, app):
    t = approved_licence_type(world, annual_review=True)
    later = issued(world, t, 1, next_review_due="2099-01-01")
    soon = issued(world, t, 2, next_review_due=(date.today() + timedelta(days=10)).isoformat())
    late = issued(world, t, 3, next_review_due=(date.today() + timedelta(days=20)).isoformat())
    plain = approved_licence_type(world, "11100000000013338W050")
    issued(world, plain, 4)  # a type without annual review is not listed
    with world.uow() as uow:  # one becomes overdue: its due date passed and the job ran
        uow.session.execute(update(Certificate).where(Certificate.id == late).values(
            next_review_due=date.today() - timedelta(days=3)))
        assert lifecycle.mark_overdue(uow) == 1
        uow.commit()
    reviewer = client_for(app, "reviewer1")
    page = reviewer.get("/certificates/annual").get_data(as_text=True)
    assert ids_in(page, "annual-certificates") == [late, soon, later]  # by due date
    assert ids_in(reviewer.get("/certificates/annual?sort=-next_review_due").get_data(as_text=True),
                  "annual-certificates") == [later, soon, late]
    assert ids_in(reviewer.get("/certificates/annual?overdue=1").get_data(as_text=True), "annual-certificates") == [late]
    due = (date.today() + timedelta(days=15)).isoformat()
    assert ids_in(reviewer.get(f"/certificates/annual?due_before={due}").get_data(as_text=True),
                  "annual-certificates") == [late, soon]
    assert ids_in(reviewer.get("/certificates/annual?status=review_overdue").get_data(as_text=True),
                  "annual-certificates") == [late]
    assert reviewer.get("/certificates/annual?due_before=nonsense").status_code == 400

    form = reviewer.get(f"/certificates/{late}/annual-review").get_data(as_text=True)
    assert 'id="annual-form"' in form and 'id="next_due"' in form and 'id="submit"' in form
    r = post(reviewer, f"/certificates/{late}/annual-review", {"next_due": "2001-01-01", "remark": "x"})
    assert r.status_code == 400 and 'id="next_due-error"' in r.get_data(as_text=True)
    r = post(reviewer, f"/certificates/{late}/annual-review", {"next_due": "", "remark": "x"})
    assert r.status_code == 400 and 'id="next_due-error"' in r.get_data(as_text=True)
    assert cert(world, late).status is S.REVIEW_OVERDUE
    nxt = date.today() + timedelta(days=365)
    r = post(reviewer, f"/certificates/{late}/annual-review", {"next_due": nxt.isoformat(), "remark": "年检合格"})
    assert r.status_code == 302
    c = cert(world, late)
    assert c.status is S.EFFECTIVE and c.next_review_due == nxt
    drain(world)
    html = reviewer.get(f"/certificates/{late}?from=annual").get_data(as_text=True)
    assert 'data-event="annual_review"' in html and "年检合格" in html
    # the seed's 查看 from the annual list keeps 证照年审 highlighted
    assert re.search(r'class="sub active" href="/certificates/annual"', html)
    # a certificate of a type without annual review cannot be reviewed
    with world.uow() as uow:
        other = uow.session.scalar(select(Certificate.id).where(Certificate.type_id == plain.id))
    r = post(reviewer, f"/certificates/{other}/annual-review", {"next_due": nxt.isoformat()})
    assert r.status_code == 400 and 'id="form-error"' in r.get_data(as_text=True)


# --- 证照维护 (admin): all departments, delete, business process -----------------------------------

def test_maintenance_lists_every_department_with_a_department_filter(world, app, other):
    t = approved_licence_type(world)
    mine = enter(world, t, 1)
    admin = client_for(app, "admin")
    page = admin.get("/certificates/maintenance").get_data(as_text=True)
    assert set(ids_in(page)) == {mine, other["effective"], other["draft"]}
    assert "<h1>证照维护</h1>" in page and "<title>证照维护" in page  # one list template, two pages
    assert 'id="filter-department_id"' in page and 'id="filter-type_id"' not in page
    assert "<h1>证照管理</h1>" in admin.get("/certificates").get_data(as_text=True)
    assert "大庆市市场监督管理局" in page and "哈尔滨市市场监督管理局" in page
    assert set(ids_in(admin.get(f"/certificates/maintenance?department_id={other['dept'].id}")
                      .get_data(as_text=True))) == {other["effective"], other["draft"]}
    assert ids_in(admin.get(f"/certificates/maintenance?department_id={world.dept.id}")
                  .get_data(as_text=True)) == [mine]
    by_dept = ids_in(admin.get("/certificates/maintenance?sort=issue_dept").get_data(as_text=True))
    by_dept_desc = ids_in(admin.get("/certificates/maintenance?sort=-issue_dept").get_data(as_text=True))
    # grouped by department (which one comes first depends on the database's collation), reversed by '-'
    assert (by_dept[0], by_dept_desc[-1]) == (mine, mine) or (by_dept[-1], by_dept_desc[0]) == (mine, mine)
    # delete where the domain allows, asking first; not an issued one
    assert f'data-confirm="{CONFIRM}"' in page and f'id="delete-{other["draft"]}"' in page
    assert f'id="delete-{other["effective"]}"' not in page
    r = post(admin, f"/certificates/{other['draft']}/delete", token_from="/certificates/maintenance")
    assert r.status_code == 302 and r.headers["Location"].endswith("/certificates/maintenance")
    assert cert(world, other["draft"]) is None
    r = post(admin, f"/certificates/{other['effective']}/delete", token_from="/certificates/maintenance")
    assert r.status_code == 409 and cert(world, other["effective"]).status is S.EFFECTIVE
    # the admin's view of another department's certificate stays under 证照维护
    html = admin.get(f"/certificates/{other['effective']}").get_data(as_text=True)
    assert re.search(r'class="sub active" href="/certificates/maintenance"', html) and 'id="process-link"' in html


def test_business_process_timeline(world, app):
    t = approved_licence_type(world)
    with_design(world, t)
    cid = issued(world, t, 9)
    clerk = client_for(app, "clerk1")
    post(clerk, f"/certificates/{cid}/loss", {"reason": "遗失"})
    drain(world)
    with world.uow() as uow:
        steps = process.process_of(uow, world.admin, cid)
    codes = [s.code for s in steps]
    expected = ["entry", "entry_review.submit", "entry_review.approve", "issuance_review.approve",
                "pipeline.encrypt", "pipeline.layout", "pipeline.sign", "pipeline.seal", "pipeline.anchor",
                "pipeline.effective", "certificate.report_loss", "ledger.report_loss"]
    for code in expected:
        assert code in codes, (code, codes)
    assert "ledger.issue" in codes
    pos = {c: codes.index(c) for c in expected}
    assert [pos[c] for c in expected[:4]] == sorted(pos[c] for c in expected[:4])  # reviews in order
    assert pos["entry"] == 0 and pos["pipeline.effective"] < pos["certificate.report_loss"]
    by = {s.code: s for s in steps}
    assert by["entry"].actor == "clerk1" and by["entry_review.approve"].actor == "reviewer1"
    assert by["ledger.report_loss"].block and by["ledger.report_loss"].ref.startswith("local:")
    assert by["certificate.report_loss"].reason == "遗失"
    assert [s.at for s in steps if s.at] == sorted(s.at for s in steps if s.at)

    admin = client_for(app, "admin")
    html = admin.get(f"/certificates/{cid}/process").get_data(as_text=True)
    timeline = html.split('id="process"', 1)[1].split("</ol>", 1)[0]
    for label in ("证照录入", "提交审核", "录入审核通过", "签发审核通过", "证照加密", "生成版式文件", "电子签名",
                  "电子印章", "本地存储", "生效", "挂失"):
        assert label in timeline, label
    assert "clerk1" in timeline and "reviewer1" in timeline and "遗失" in timeline
    assert admin.get("/certificates/999999/process").status_code == 404


def test_business_process_shows_a_rejection_with_its_reason(world):
    t = approved_licence_type(world)
    with world.uow() as uow:
        [c] = certificates.enter_many(uow, world.clerk, t.id, [Entry(basic(1), licence_values())])
        uow.commit()
        cid = c.id
    with world.uow() as uow:
        certificates.submit(uow, world.clerk, cid)
        certificates.review_entry(uow, world.reviewer, cid, False, "地址不全")
        uow.commit()
    with world.uow() as uow:
        steps = process.process_of(uow, world.reviewer, cid)
    rejected = [s for s in steps if s.code == "entry_review.reject"]
    assert len(rejected) == 1 and rejected[0].status == "rejected" and rejected[0].reason == "地址不全"
    assert not any(s.source in ("pipeline", "ledger") for s in steps)
