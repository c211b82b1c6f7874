"""The department module's pages (部门): onboarding, usage list, client systems, usage approval, records.

Real app, real database, CSRF enforced; every route is checked for login, role and department
isolation, and every refused change is checked to have left the record as it was.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from sqlalchemy import select

from issuance import catalogs, client_systems, departments, usage
from issuance.models import ClientSystem, Department, UsageApplication
from issuance.models import UsageStatus as U
from issuance.models.org import ReviewState as R

from tests.conftest import PASSWORD
from tests.helpers import approved_licence_type, csrf, login, web_app

PUB, DEM, NON = "DPUB01", "DDEM01", "DNON01"
MARKET, POLICE, TAX = "哈尔滨市市场监督管理局", "哈尔滨市公安局", "哈尔滨市税务局"


def _committed(world, action, *args, **kwargs):
    with world.uow() as uow:
        result = action(uow, *args, **kwargs)
        uow.commit()
        return getattr(result, "id", result)


def _catalog(world, code: str, share: str, name: str) -> int:
    t = approved_licence_type(world, code, name=name)
    cat_id = _committed(world, catalogs.register, world.dept_admin, t.id, share)
    _committed(world, catalogs.review, world.admin, cat_id, True)
    return cat_id


@dataclass
class D:
    """The world's market bureau (issuer of three catalogs) and the police bureau (applicant) with
    an approved system, one on-demand application waiting and one public one approved; the tax
    bureau is a third department that has nothing to do with either."""

    world: object
    pub: int
    dem: int
    non: int
    police: object
    police_head: object
    police_clerk: object
    police_reviewer: object
    system: int
    waiting: int        # police's application for the on-demand catalog (submitted)
    approved: int       # police's application for the public catalog (approved at once)
    tax: object
    tax_head: object
    tax_clerk: object
    market_head: str    # user names
    police_head_name: str


@pytest.fixture
def d(world) -> D:
    pub = _catalog(world, PUB, "public", "营业执照")
    dem = _catalog(world, DEM, "on_demand", "食品经营许可证")
    non = _catalog(world, NON, "none", "内部证明")
    police, head = world.add_department(POLICE, "11230100MB0000002X")
    clerk = world.add_user("clerk_b", "clerk", police.id)
    reviewer = world.add_user("reviewer_b", "reviewer", police.id)
    cs = _committed(world, client_systems.register, clerk, "公安业务系统", ["10.1.0.1"])
    _committed(world, client_systems.review, world.admin, cs, True)
    waiting = _committed(world, usage.apply, clerk, cs, dem, "办理户籍业务需核验食品经营许可证")
    approved = _committed(world, usage.apply, clerk, cs, pub, "办理户籍业务需核验营业执照")
    tax, tax_head = world.add_department(TAX, "11230100MB0000003X")
    tax_clerk = world.add_user("clerk_c", "clerk", tax.id)
    return D(world, pub, dem, non, police, head, clerk, reviewer, cs, waiting, approved, tax, tax_head, tax_clerk,
             world.dept_admin.username, head.username)


@pytest.fixture
def client(world):
    return web_app(world.platform).test_client()


def as_user(client, username: str):
    r = login(client, username, PASSWORD)
    assert r.status_code == 302, r.get_data(as_text=True)[:500]
    return client


def post(client, path: str, data: dict | None = None, page: str = "/departments"):
    body = dict(data or {})
    body["csrf_token"] = csrf(client, page)
    return client.post(path, data=body)


def text(r) -> str:
    return r.get_data(as_text=True)


def test_smoke_every_page_renders(client, d):
    as_user(client, "admin")
    for path in ["/departments", "/departments/new", f"/departments/{d.police.id}", f"/departments/{d.police.id}/edit",
                 "/departments/usage", "/departments/usage/apply", f"/departments/usage/{d.approved}",
                 f"/departments/usage/{d.approved}/call", "/departments/usage-review", "/departments/systems",
                 "/departments/systems/new", f"/departments/systems/{d.system}",
                 f"/departments/systems/{d.system}/edit", "/departments/records"]:
        r = client.get(path)
        assert r.status_code == 200, (path, text(r)[:3000])
    client.post("/lang/en", data={"csrf_token": csrf(client, "/"), "next": "/departments"})
    assert client.get("/departments/usage/apply").status_code == 200  # lazy labels in the other language
    assert client.get(f"/departments/usage/{d.approved}/call").status_code == 200


def _get(world, model, id_):
    with world.uow() as uow:
        row = uow.session.get(model, id_)
        if row is not None:
            uow.session.expunge(row)
        return row


def _count(world, model) -> int:
    from sqlalchemy import func

    with world.uow() as uow:
        return uow.session.execute(select(func.count()).select_from(model)).scalar_one()


def _rows(html: str, table_id: str) -> list[str]:
    """The data-id of each row of a list table."""
    body = html.split(f'id="{table_id}"', 1)[1].split("</table>", 1)[0]
    return re.findall(r'<tr data-id="(\d+)"', body)


# --- every route: login first ---------------------------------------------------------------------

def _routes(d: D) -> list[tuple[str, str]]:
    p, u, s = d.police.id, d.approved, d.system
    return [("GET", "/departments"), ("GET", "/departments/new"), ("POST", "/departments/new"),
            ("GET", f"/departments/{p}"), ("GET", f"/departments/{p}/edit"), ("POST", f"/departments/{p}/edit"),
            ("POST", f"/departments/{p}/review"), ("POST", f"/departments/{p}/delete"),
            ("GET", "/departments/usage"), ("GET", "/departments/usage/apply"), ("POST", "/departments/usage/apply"),
            ("GET", f"/departments/usage/{u}"), ("GET", f"/departments/usage/{u}/call"),
            ("POST", f"/departments/usage/{u}/delete"), ("POST", f"/departments/usage/{u}/review"),
            ("GET", "/departments/usage-review"), ("GET", "/departments/systems"),
            ("GET", "/departments/systems/new"), ("POST", "/departments/systems/new"),
            ("GET", f"/departments/systems/{s}"), ("GET", f"/departments/systems/{s}/edit"),
            ("POST", f"/departments/systems/{s}/edit"), ("POST", f"/departments/systems/{s}/delete"),
            ("POST", f"/departments/systems/{s}/resubmit"), ("POST", f"/departments/systems/{s}/disable"),
            ("POST", f"/departments/systems/{s}/review"), ("GET", "/departments/records"),
            ("GET", "/departments/records/1")]


def test_every_route_sends_the_anonymous_to_login(world, d):
    app = web_app(world.platform)
    app.config["WTF_CSRF_ENABLED"] = False  # so that the POSTs reach the login check
    client = app.test_client()
    for method, path in _routes(d):
        r = client.open(path, method=method)
        assert r.status_code == 302 and "/login" in r.headers["Location"], (method, path)


def test_every_route_has_a_guard(world, d):
    app = web_app(world.platform)
    endpoints = {r.endpoint for r in app.url_map.iter_rules() if r.endpoint.startswith("departments.")}
    assert len(endpoints) == 23
    for endpoint in endpoints:
        assert hasattr(app.view_functions[endpoint], "guard"), endpoint


def test_nav_names_exist(world, d, client):
    as_user(client, "admin")
    page = text(client.get("/departments"))
    for path in ("/departments/usage", "/departments/systems", "/departments/usage-review", "/departments/records"):
        assert f'href="{path}"' in page


# --- 部门进驻 -------------------------------------------------------------------------------------

def test_onboarding_list_filters_sorts_and_pages_on_the_server(client, d):
    as_user(client, "clerk_c")  # every signed-in user sees the list
    all_rows = _rows(text(client.get("/departments?sort=name")), "department-list")
    assert len(all_rows) == 3
    page = text(client.get("/departments?text=公安"))
    assert _rows(page, "department-list") == [str(d.police.id)] and TAX not in page.split('id="department-list"')[1]
    assert _rows(text(client.get("/departments?text=MB0000003")), "department-list") == [str(d.tax.id)]
    assert _rows(text(client.get("/departments?status=rejected")), "department-list") == []
    assert len(_rows(text(client.get("/departments?status=approved")), "department-list")) == 3
    by_code = _rows(text(client.get("/departments?sort=code")), "department-list")
    by_code_desc = _rows(text(client.get("/departments?sort=-code")), "department-list")
    assert by_code == [str(d.world.dept.id), str(d.police.id), str(d.tax.id)] and by_code_desc == by_code[::-1]
    second = text(client.get("/departments?sort=code&size=1&page=2"))
    assert _rows(second, "department-list") == [str(d.police.id)] and "共 3 条" in second
    assert _rows(text(client.get("/departments?region_code=110000")), "department-list") == []
    assert client.get("/departments?sort=password").status_code == 400
    assert client.get("/departments?page=0").status_code == 400


def test_first_user_onboards_the_department(client, world, d):
    from issuance import accounts

    with world.uow() as uow:
        accounts.create_user(uow, world.admin, world.platform.policy, "newcomer", PASSWORD)
        uow.commit()
    as_user(client, "newcomer")
    form = text(client.get("/departments/new"))
    assert 'id="department-form"' in form and 'id="submit"' in form and 'name="region_code"' in form
    before = _count(world, Department)
    r = post(client, "/departments/new", {"name": "", "code": "AB-1", "region_code": "12"}, "/departments/new")
    page = text(r)
    assert r.status_code == 400 and 'id="name-error"' in page and 'id="code-error"' in page
    assert 'id="region_code-error"' in page and "六位行政区划代码" in page
    assert _count(world, Department) == before
    r = post(client, "/departments/new", {"name": "哈尔滨市教育局", "code": "11230100MB0000001X",
                                          "region_code": "230100"}, "/departments/new")
    assert r.status_code == 400 and "已有部门登记" in text(r) and _count(world, Department) == before
    r = post(client, "/departments/new", {"name": "哈尔滨市教育局", "code": "11230100MB0000009X",
                                          "region_code": "230100", "contact_name": "李四",
                                          "address": "x" * 300}, "/departments/new")
    assert r.status_code == 400 and 'id="address-error"' in text(r) and _count(world, Department) == before
    r = post(client, "/departments/new", {"name": "哈尔滨市教育局", "code": "11230100MB0000009X",
                                          "region_code": "230100", "contact_name": "李四"}, "/departments/new")
    assert r.status_code == 302
    new_id = int(r.headers["Location"].rsplit("/", 1)[1])
    dept = _get(world, Department, new_id)
    assert dept.status is R.SUBMITTED and dept.contact_name == "李四"
    assert world.actor("newcomer").department_id == new_id  # the applicant acts for it, as its admin
    assert client.get("/departments/new").status_code == 403  # one department is enough


def test_a_department_member_cannot_open_the_onboarding_form(client, d):
    as_user(client, "clerk1")
    assert client.get("/departments/new").status_code == 403
    r = post(client, "/departments/new", {"name": "某局", "code": "ABC123", "region_code": "230100"})
    assert r.status_code == 403


def test_anyone_views_any_department(client, d):
    as_user(client, "clerk_c")
    page = text(client.get(f"/departments/{d.police.id}"))
    assert POLICE in page and 'id="edit"' not in page and 'id="review-form"' not in page and 'id="delete"' not in page
    assert client.get("/departments/99999").status_code == 404


def test_edit_own_department_only(client, world, d):
    as_user(client, d.police_head_name)
    form = text(client.get(f"/departments/{d.police.id}/edit"))
    assert 'id="department-form"' in form and POLICE in form
    r = post(client, f"/departments/{d.police.id}/edit", {"name": POLICE, "code": "11230100MB0000002X",
                                                           "region_code": "230100", "contact_phone": "0451-1234"})
    assert r.status_code == 302 and _get(world, Department, d.police.id).contact_phone == "0451-1234"
    r = post(client, f"/departments/{d.police.id}/edit", {"name": "", "code": "11230100MB0000002X",
                                                           "region_code": "230100"})
    assert r.status_code == 400 and 'id="name-error"' in text(r)
    assert _get(world, Department, d.police.id).name == POLICE
    # another department's admin: refused, nothing changed
    assert client.get(f"/departments/{d.tax.id}/edit").status_code == 403
    r = post(client, f"/departments/{d.tax.id}/edit", {"name": "改名", "code": "11230100MB0000003X",
                                                        "region_code": "230100"})
    assert r.status_code == 403 and _get(world, Department, d.tax.id).name == TAX


def test_a_clerk_cannot_edit_the_department(client, world, d):
    as_user(client, "clerk_b")
    assert client.get(f"/departments/{d.police.id}/edit").status_code == 403
    r = post(client, f"/departments/{d.police.id}/edit", {"name": "改名", "code": "11230100MB0000002X",
                                                           "region_code": "230100"})
    assert r.status_code == 403 and _get(world, Department, d.police.id).name == POLICE


def _applicant(world, username: str, name: str, code: str) -> int:
    from issuance import accounts

    with world.uow() as uow:
        accounts.create_user(uow, world.admin, world.platform.policy, username, PASSWORD)
        uow.commit()
    return _committed(world, departments.apply, world.actor(username), name=name, code=code, region_code="230100")


def test_admin_reviews_onboarding_and_the_applicant_resubmits(client, world, d):
    dept_id = _applicant(world, "edu_head", "哈尔滨市教育局", "EDU0001")
    as_user(client, "admin")
    page = text(client.get(f"/departments/{dept_id}"))
    assert 'id="review-form"' in page and 'id="approve"' in page and 'id="reject"' in page and 'name="reason"' in page
    r = post(client, f"/departments/{dept_id}/review", {"decision": "reject", "reason": ""})
    assert r.status_code == 400 and 'id="reason-error"' in text(r)
    assert _get(world, Department, dept_id).status is R.SUBMITTED
    r = post(client, f"/departments/{dept_id}/review", {"decision": "reject", "reason": "登记表缺少盖章"})
    assert r.status_code == 302 and _get(world, Department, dept_id).status is R.REJECTED
    assert "登记表缺少盖章" in text(client.get(f"/departments/{dept_id}"))
    client.post("/logout", data={"csrf_token": csrf(client, "/")})

    as_user(client, "edu_head")
    page = text(client.get(f"/departments/{dept_id}"))
    assert 'id="resubmit-link"' in page and 'id="review-form"' not in page
    assert 'id="resubmit"' in text(client.get(f"/departments/{dept_id}/edit"))
    r = post(client, f"/departments/{dept_id}/edit", {"name": "哈尔滨市教育局", "code": "EDU0001",
                                                       "region_code": "230100", "address": "南岗区", "resubmit": "1"})
    assert r.status_code == 302
    dept = _get(world, Department, dept_id)
    assert dept.status is R.SUBMITTED and dept.address == "南岗区"
    # only the admin reviews
    r = post(client, f"/departments/{dept_id}/review", {"decision": "approve"})
    assert r.status_code == 403 and _get(world, Department, dept_id).status is R.SUBMITTED
    client.post("/logout", data={"csrf_token": csrf(client, "/")})
    as_user(client, "admin")
    r = post(client, f"/departments/{dept_id}/review", {"decision": "approve"})
    assert r.status_code == 302 and _get(world, Department, dept_id).status is R.APPROVED
    r = post(client, f"/departments/{dept_id}/review", {"decision": "approve"})
    assert r.status_code == 409  # not waiting any more


def test_delete_is_for_the_admin_and_asks_first(client, world, d):
    as_user(client, d.police_head_name)
    r = post(client, f"/departments/{d.tax.id}/delete")
    assert r.status_code == 403 and _get(world, Department, d.tax.id) is not None
    client.post("/logout", data={"csrf_token": csrf(client, "/")})
    as_user(client, "admin")
    page = text(client.get(f"/departments/{d.tax.id}"))
    form = re.search(r'<form[^>]*action="/departments/%d/delete"[^>]*>' % d.tax.id, page).group(0)
    assert 'data-confirm="删除操作不能恢复，确定删除吗？"' in form
    r = post(client, f"/departments/{d.tax.id}/delete")
    assert r.status_code == 302 and _get(world, Department, d.tax.id) is None
    # a department with certificate types is refused, and stays
    r = post(client, f"/departments/{world.dept.id}/delete")
    assert r.status_code == 409 and _get(world, Department, world.dept.id) is not None


# --- 用证清单 -------------------------------------------------------------------------------------

def test_usage_list_is_the_departments_own(client, world, d):
    as_user(client, "clerk_b")
    page = text(client.get("/departments/usage"))
    assert set(_rows(page, "usage-list")) == {str(d.waiting), str(d.approved)}
    assert 'id="usage-apply"' in page and f'id="call-{d.approved}"' in page and f'id="call-{d.waiting}"' not in page
    form = re.search(r'<form[^>]*action="/departments/usage/%d/delete"[^>]*>' % d.waiting, page).group(0)
    assert 'data-confirm="删除操作不能恢复，确定删除吗？"' in form
    assert _rows(text(client.get("/departments/usage?status=submitted")), "usage-list") == [str(d.waiting)]
    assert _rows(text(client.get("/departments/usage?text=营业执照")), "usage-list") == [str(d.approved)]
    by_id = _rows(text(client.get("/departments/usage?sort=created_at")), "usage-list")
    assert by_id == sorted(by_id, key=int)
    assert _rows(text(client.get("/departments/usage?size=1&page=2&sort=created_at")), "usage-list") == [str(d.approved)]
    assert client.get("/departments/usage?status=nonsense").status_code == 400
    client.post("/logout", data={"csrf_token": csrf(client, "/")})
    as_user(client, "clerk_c")  # another department: its own (empty) list
    assert _rows(text(client.get("/departments/usage")), "usage-list") == []
    assert _rows(text(client.get(f"/departments/usage?client_system_id={d.system}")), "usage-list") == []


def test_usage_pages_refuse_a_reviewer(client, d):
    as_user(client, "reviewer_b")
    for path in ("/departments/usage", "/departments/usage/apply", f"/departments/usage/{d.approved}/call",
                 "/departments/systems", "/departments/systems/new"):
        assert client.get(path).status_code == 403, path
    r = post(client, f"/departments/usage/{d.approved}/delete")
    assert r.status_code == 403


def _second_system(world, d, name="公安第二系统") -> int:
    cs = _committed(world, client_systems.register, d.police_clerk, name, ["10.1.0.2"])
    _committed(world, client_systems.review, world.admin, cs, True)
    return cs


def test_apply_for_a_catalog(client, world, d):
    cs2 = _second_system(world, d)
    as_user(client, "clerk_b")
    form = text(client.get(f"/departments/usage/apply?catalog_id={d.dem}"))
    assert 'id="usage-form"' in form and 'id="submit"' in form
    assert f'<option value="{d.dem}" selected>' in form
    assert f'<option value="{d.non}"' not in form  # 不共享 is not offered
    before = _count(world, UsageApplication)
    r = post(client, "/departments/usage/apply", {"catalog_id": str(d.non), "client_system_id": str(cs2),
                                                   "reason": "需要"}, "/departments/usage/apply")
    assert r.status_code == 400 and 'id="catalog_id-error"' in text(r)
    r = post(client, "/departments/usage/apply", {"catalog_id": str(d.pub), "client_system_id": str(cs2),
                                                   "reason": ""}, "/departments/usage/apply")
    assert r.status_code == 400 and 'id="reason-error"' in text(r)
    r = post(client, "/departments/usage/apply", {"catalog_id": "", "client_system_id": "",
                                                   "reason": ""}, "/departments/usage/apply")
    page = text(r)
    assert r.status_code == 400 and 'id="catalog_id-error"' in page and 'id="client_system_id-error"' in page
    r = post(client, "/departments/usage/apply", {"catalog_id": str(d.pub), "client_system_id": str(d.system),
                                                   "reason": "重复"}, "/departments/usage/apply")
    assert r.status_code == 400 and "请勿重复申请" in text(r)
    assert _count(world, UsageApplication) == before
    r = post(client, "/departments/usage/apply", {"catalog_id": str(d.pub), "client_system_id": str(cs2),
                                                   "reason": "核验营业执照"}, "/departments/usage/apply")
    assert r.status_code == 302
    new_id = int(r.headers["Location"].rsplit("/", 1)[1])
    app = _get(world, UsageApplication, new_id)
    assert app.status is U.APPROVED and app.department_id == d.police.id  # 社会公示: approved at once
    assert "自动通过" in text(client.get(r.headers["Location"]))


def test_apply_through_another_departments_system_is_refused(client, world, d):
    as_user(client, "clerk_c")
    before = _count(world, UsageApplication)
    r = post(client, "/departments/usage/apply", {"catalog_id": str(d.dem), "client_system_id": str(d.system),
                                                   "reason": "借用"}, "/departments/usage/apply")
    assert r.status_code == 404 and _count(world, UsageApplication) == before


def test_call_parameters_for_the_applicant_only(client, world, d):
    as_user(client, "clerk_b")
    page = text(client.get(f"/departments/usage/{d.approved}/call"))
    account = _get(world, ClientSystem, d.system).account_id
    assert account and account in page and "GetCertificateDataByHolder" in page and DEM not in page
    assert PUB in page and 'href="/sharing/openapi.json"' in page and "&gt;&gt;&gt;&gt;详细接口说明" in page
    waiting = text(client.get(f"/departments/usage/{d.waiting}/call"))
    assert 'id="call-unavailable"' in waiting and account not in waiting
    client.post("/logout", data={"csrf_token": csrf(client, "/")})
    as_user(client, "clerk1")  # the issuing department does not get the applicant's AccountId
    assert client.get(f"/departments/usage/{d.approved}/call").status_code == 404
    assert account not in text(client.get(f"/departments/usage/{d.approved}"))
    client.post("/logout", data={"csrf_token": csrf(client, "/")})
    as_user(client, "clerk_c")
    assert client.get(f"/departments/usage/{d.approved}/call").status_code == 404


def test_usage_view_for_applicant_and_issuer_not_others(client, d):
    as_user(client, "clerk_b")
    page = text(client.get(f"/departments/usage/{d.waiting}"))
    assert "食品经营许可证" in page and 'id="review-form"' not in page and 'id="delete"' in page
    client.post("/logout", data={"csrf_token": csrf(client, "/")})
    as_user(client, "reviewer1")
    page = text(client.get(f"/departments/usage/{d.waiting}"))
    assert 'id="review-form"' in page and 'id="delete"' not in page
    client.post("/logout", data={"csrf_token": csrf(client, "/")})
    as_user(client, "clerk_c")
    assert client.get(f"/departments/usage/{d.waiting}").status_code == 404


def test_withdraw_by_the_applicant_only(client, world, d):
    as_user(client, "clerk_c")
    assert post(client, f"/departments/usage/{d.waiting}/delete").status_code == 404
    client.post("/logout", data={"csrf_token": csrf(client, "/")})
    as_user(client, "clerk1")  # the issuer may see it but not withdraw it
    assert post(client, f"/departments/usage/{d.waiting}/delete").status_code == 403
    assert _get(world, UsageApplication, d.waiting).status is U.SUBMITTED
    client.post("/logout", data={"csrf_token": csrf(client, "/")})
    as_user(client, "clerk_b")
    r = post(client, f"/departments/usage/{d.waiting}/delete")
    assert r.status_code == 302 and _get(world, UsageApplication, d.waiting).status is U.WITHDRAWN
    assert str(d.waiting) not in _rows(text(client.get("/departments/usage")), "usage-list")


# --- 用证申请审批 ---------------------------------------------------------------------------------

def test_review_list_is_the_issuers(client, d):
    as_user(client, "reviewer1")
    page = text(client.get("/departments/usage-review"))
    assert set(_rows(page, "usage-review-list")) == {str(d.waiting), str(d.approved)}
    assert f'id="review-{d.waiting}"' in page and f'id="review-{d.approved}"' not in page
    assert _rows(text(client.get("/departments/usage-review?status=submitted")), "usage-review-list") == [str(d.waiting)]
    assert _rows(text(client.get("/departments/usage-review?text=食品")), "usage-review-list") == [str(d.waiting)]
    by_status = _rows(text(client.get("/departments/usage-review?sort=status")), "usage-review-list")
    assert by_status == [str(d.approved), str(d.waiting)]  # approved < submitted
    client.post("/logout", data={"csrf_token": csrf(client, "/")})
    as_user(client, "reviewer_b")  # the applicant's reviewer: nothing to review
    assert _rows(text(client.get("/departments/usage-review")), "usage-review-list") == []
    client.post("/logout", data={"csrf_token": csrf(client, "/")})
    as_user(client, "clerk1")
    assert client.get("/departments/usage-review").status_code == 403


def test_issuer_approves_or_rejects_with_reason(client, world, d):
    as_user(client, "reviewer_b")  # the applicant's own reviewer cannot decide
    assert post(client, f"/departments/usage/{d.waiting}/review", {"decision": "approve"}).status_code == 403
    client.post("/logout", data={"csrf_token": csrf(client, "/")})
    as_user(client, d.police_head_name)
    assert post(client, f"/departments/usage/{d.waiting}/review", {"decision": "approve"}).status_code == 403
    client.post("/logout", data={"csrf_token": csrf(client, "/")})
    as_user(client, "clerk1")  # a clerk of the issuer has no review role
    assert post(client, f"/departments/usage/{d.waiting}/review", {"decision": "approve"}).status_code == 403
    client.post("/logout", data={"csrf_token": csrf(client, "/")})
    as_user(client, d.tax_head.username)  # a department that has nothing to do with it
    assert post(client, f"/departments/usage/{d.waiting}/review", {"decision": "approve"}).status_code == 404
    assert _get(world, UsageApplication, d.waiting).status is U.SUBMITTED
    client.post("/logout", data={"csrf_token": csrf(client, "/")})
    as_user(client, "reviewer1")
    r = post(client, f"/departments/usage/{d.waiting}/review", {"decision": "reject", "reason": "  "})
    assert r.status_code == 400 and 'id="reason-error"' in text(r)
    assert _get(world, UsageApplication, d.waiting).status is U.SUBMITTED
    r = post(client, f"/departments/usage/{d.waiting}/review", {"decision": "reject", "reason": "用途不符"})
    assert r.status_code == 302 and _get(world, UsageApplication, d.waiting).status is U.REJECTED
    assert "用途不符" in text(client.get(f"/departments/usage/{d.waiting}"))


# --- 系统清单 -------------------------------------------------------------------------------------

def test_system_list_is_the_departments_own(client, world, d):
    cs2 = _second_system(world, d, "甲系统")
    as_user(client, "clerk_b")
    page = text(client.get("/departments/systems"))
    assert set(_rows(page, "system-list")) == {str(d.system), str(cs2)} and 'id="new-system"' in page
    assert f'href="/departments/systems/{d.system}"' in page  # the name opens the system
    names = _rows(text(client.get("/departments/systems?sort=name")), "system-list")
    names_desc = _rows(text(client.get("/departments/systems?sort=-name")), "system-list")
    assert names == names_desc[::-1] and len(names) == 2
    assert _rows(text(client.get("/departments/systems?text=甲")), "system-list") == [str(cs2)]
    assert _rows(text(client.get("/departments/systems?status=submitted")), "system-list") == []
    client.post("/logout", data={"csrf_token": csrf(client, "/")})
    as_user(client, "clerk_c")
    assert _rows(text(client.get("/departments/systems")), "system-list") == []


def test_new_system_belongs_to_the_creators_department(client, world, d):
    as_user(client, "clerk_c")
    form = text(client.get("/departments/systems/new"))
    assert 'id="system-form"' in form and 'id="submit"' in form
    before = _count(world, ClientSystem)
    r = post(client, "/departments/systems/new", {"name": "税务系统", "ips": "10.2.0.1, not-an-ip"})
    assert r.status_code == 400 and 'id="ips-error"' in text(r) and "not-an-ip" in text(r)
    r = post(client, "/departments/systems/new", {"name": "", "ips": "10.2.0.1"})
    assert r.status_code == 400 and 'id="name-error"' in text(r)
    assert _count(world, ClientSystem) == before
    r = post(client, "/departments/systems/new", {"name": "税务系统", "ips": "10.2.0.1\n10.2.0.2", "description": "征管"})
    assert r.status_code == 302
    cs = _get(world, ClientSystem, int(r.headers["Location"].rsplit("/", 1)[1]))
    assert cs.department_id == d.tax.id and cs.status is R.SUBMITTED and cs.ips == ["10.2.0.1", "10.2.0.2"]
    assert cs.account_id is None
    r = post(client, "/departments/systems/new", {"name": "税务系统", "ips": "10.2.0.3"})
    assert r.status_code == 400 and "同名系统" in text(r) and _count(world, ClientSystem) == before + 1


def test_system_of_another_department_is_not_found(client, world, d):
    before = _get(world, ClientSystem, d.system)
    as_user(client, "clerk_c")
    assert client.get(f"/departments/systems/{d.system}").status_code == 404
    assert client.get(f"/departments/systems/{d.system}/edit").status_code == 404
    for action, data in (("edit", {"name": "偷改", "ips": "1.2.3.4"}), ("delete", {}), ("resubmit", {})):
        assert post(client, f"/departments/systems/{d.system}/{action}", data).status_code == 404, action
    client.post("/logout", data={"csrf_token": csrf(client, "/")})
    as_user(client, d.tax_head.username)
    assert post(client, f"/departments/systems/{d.system}/disable").status_code == 404
    after = _get(world, ClientSystem, d.system)
    assert (after.name, after.ips, after.status, after.account_id) == \
        (before.name, before.ips, before.status, before.account_id)


def test_view_shows_the_account_id_and_edit_sends_it_back_to_review(client, world, d):
    as_user(client, "clerk_b")
    account = _get(world, ClientSystem, d.system).account_id
    page = text(client.get(f"/departments/systems/{d.system}"))
    assert account in page and 'id="review-form"' not in page and 'id="delete"' not in page  # had an AccountId
    assert 'id="disable"' not in page  # a clerk cannot disable
    r = post(client, f"/departments/systems/{d.system}/edit", {"name": "公安业务系统", "ips": "bad"})
    assert r.status_code == 400 and 'id="ips-error"' in text(r)
    assert _get(world, ClientSystem, d.system).ips == ["10.1.0.1"]
    r = post(client, f"/departments/systems/{d.system}/edit", {"name": "公安业务系统", "ips": "10.1.0.1, 10.1.0.9"})
    cs = _get(world, ClientSystem, d.system)
    assert r.status_code == 302 and cs.ips == ["10.1.0.1", "10.1.0.9"] and cs.status is R.SUBMITTED


def test_delete_a_system_that_never_had_an_account(client, world, d):
    cs = _committed(world, client_systems.register, d.police_clerk, "待删系统", ["10.1.0.5"])
    as_user(client, "clerk_b")
    page = text(client.get("/departments/systems"))
    form = re.search(r'<form[^>]*action="/departments/systems/%d/delete"[^>]*>' % cs, page).group(0)
    assert 'data-confirm="删除操作不能恢复，确定删除吗？"' in form
    assert f'action="/departments/systems/{d.system}/delete"' not in page  # it had an AccountId: disable it instead
    assert post(client, f"/departments/systems/{d.system}/delete").status_code == 409
    assert _get(world, ClientSystem, d.system) is not None
    r = post(client, f"/departments/systems/{cs}/delete")
    assert r.status_code == 302 and _get(world, ClientSystem, cs) is None


def test_admin_reviews_a_system_and_the_department_admin_disables_it(client, world, d):
    cs = _committed(world, client_systems.register, d.police_clerk, "新系统", ["10.1.0.7"])
    as_user(client, d.police_head_name)
    assert post(client, f"/departments/systems/{cs}/review", {"decision": "approve"}).status_code == 403
    assert _get(world, ClientSystem, cs).status is R.SUBMITTED
    client.post("/logout", data={"csrf_token": csrf(client, "/")})
    as_user(client, "admin")
    page = text(client.get(f"/departments/systems/{cs}"))
    assert 'id="review-form"' in page and 'id="account-id-pending"' in page
    r = post(client, f"/departments/systems/{cs}/review", {"decision": "reject"})
    assert r.status_code == 400 and 'id="reason-error"' in text(r) and _get(world, ClientSystem, cs).status is R.SUBMITTED
    r = post(client, f"/departments/systems/{cs}/review", {"decision": "approve"})
    approved = _get(world, ClientSystem, cs)
    assert r.status_code == 302 and approved.status is R.APPROVED and approved.account_id
    assert approved.account_id in text(client.get("/departments/systems"))
    client.post("/logout", data={"csrf_token": csrf(client, "/")})
    as_user(client, "clerk_b")
    assert post(client, f"/departments/systems/{cs}/disable").status_code == 403
    client.post("/logout", data={"csrf_token": csrf(client, "/")})
    as_user(client, d.police_head_name)
    page = text(client.get(f"/departments/systems/{cs}"))
    assert 'id="disable"' in page
    r = post(client, f"/departments/systems/{cs}/disable", {"reason": "停用"})
    assert r.status_code == 302 and _get(world, ClientSystem, cs).status is R.DISABLED
    assert 'id="resubmit"' in text(client.get(f"/departments/systems/{cs}"))
    r = post(client, f"/departments/systems/{cs}/resubmit")
    assert r.status_code == 302 and _get(world, ClientSystem, cs).status is R.SUBMITTED


# --- 用证记录 -------------------------------------------------------------------------------------

def _records(world, d) -> dict[str, int]:
    from datetime import datetime, timezone

    out = {}
    with world.uow() as uow:
        cs = uow.session.get(ClientSystem, d.system)
        for key, iface, code, at, ms in (
                ("token", "Token", "0", datetime(2024, 3, 1, 2, 0, tzinfo=timezone.utc), 5),
                ("data", "GetCertificateDataByHolder", "0", datetime(2024, 3, 2, 2, 0, tzinfo=timezone.utc), 40),
                ("refused", "GetCertificateDataByHolder", "1301", datetime(2024, 3, 3, 2, 0, tzinfo=timezone.utc), 9)):
            rec = usage.record_call(uow.session, iface, code, account_id=cs.account_id, ip="10.1.0.1",
                                    client_system=cs, type_code=PUB if key != "token" else None, at=at,
                                    duration_ms=ms)
            uow.session.flush()
            out[key] = rec.id
        uow.commit()
    return out


def test_records_filter_sort_and_isolation(client, world, d):
    ids = _records(world, d)
    as_user(client, "clerk_b")
    page = text(client.get("/departments/records"))
    assert _rows(page, "record-list") == [str(ids["refused"]), str(ids["data"]), str(ids["token"])]
    assert "公安业务系统" in page
    assert _rows(text(client.get("/departments/records?interface=Token")), "record-list") == [str(ids["token"])]
    assert _rows(text(client.get("/departments/records?result_code=1301")), "record-list") == [str(ids["refused"])]
    ranged = text(client.get("/departments/records?since=2024-03-02&until=2024-03-02"))
    assert _rows(ranged, "record-list") == [str(ids["data"])]
    assert _rows(text(client.get(f"/departments/records?client_system_id={d.system}&sort=duration_ms")),
                 "record-list") == [str(ids["token"]), str(ids["refused"]), str(ids["data"])]
    assert client.get("/departments/records?since=yesterday").status_code == 400
    detail = text(client.get(f"/departments/records/{ids['refused']}"))
    assert "1301" in detail and "无该证照类型的用证权限" in detail
    client.post("/logout", data={"csrf_token": csrf(client, "/")})
    as_user(client, "reviewer1")  # the issuer sees the calls that used its certificate types
    assert set(_rows(text(client.get("/departments/records")), "record-list")) == {str(ids["data"]), str(ids["refused"])}
    assert client.get(f"/departments/records/{ids['token']}").status_code == 404
    client.post("/logout", data={"csrf_token": csrf(client, "/")})
    as_user(client, "clerk_c")
    assert _rows(text(client.get("/departments/records")), "record-list") == []
    assert client.get(f"/departments/records/{ids['data']}").status_code == 404


def test_records_need_a_department_role(client, world):
    from issuance import accounts

    with world.uow() as uow:
        accounts.create_user(uow, world.admin, world.platform.policy, "loner", PASSWORD)
        uow.commit()
    as_user(client, "loner")
    for path in ("/departments/records", "/departments/usage", "/departments/systems", "/departments/usage-review"):
        assert client.get(path).status_code == 403, path
    assert client.get("/departments").status_code == 200
