"""The statistics module (统计): issuance.statistics.overview and the /stats page."""

from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import select

from issuance import catalogs, cert_types, certificates, client_systems, statistics, usage
from issuance.models import CertificateStatus, CertificateType, ClientSystem
from issuance.models import UsageStatus as U

from tests.conftest import PASSWORD
from tests.helpers import SAMPLE, approved_licence_type, basic, csrf, licence_values, login, web_app

PUB, DEM, OWN_B = "STATPUB01", "STATDEM01", "STATB01"
MARKET, POLICE = "哈尔滨市市场监督管理局", "哈尔滨市公安局"


def _catalog(world, type_id, head, share):
    with world.uow() as uow:
        cat = catalogs.register(uow, head, type_id, share)
        uow.commit()
        cat_id = cat.id
    with world.uow() as uow:
        catalogs.review(uow, world.admin, cat_id, True)
        uow.commit()
    return cat_id


def _issue(world, clerk, code, seeds):
    """Certificates entered and set effective directly (counting needs no pipeline)."""
    with world.uow() as uow:
        t = uow.session.execute(select(CertificateType).where(CertificateType.code == code)).scalar_one()
        certs = [certificates.enter(uow, clerk, t.id, basic(s), licence_values()) for s in seeds]
        for c in certs:
            c.status = CertificateStatus.EFFECTIVE
        uow.commit()
        return [c.identifier for c in certs]


@pytest.fixture
def stats_world(world):
    """The market bureau issues 3 business licences (public catalog) and owns an on-demand catalog with
    none; the police bureau issues 1 certificate of its own type, applies for both catalogs (one
    approved at once, one waiting) and calls the interface 3 times (2 successful uses of one licence)."""
    pub = approved_licence_type(world, PUB, name="营业执照")
    dem = approved_licence_type(world, DEM, name="食品经营许可证")
    pub_cat = _catalog(world, pub.id, world.dept_admin, "public")
    dem_cat = _catalog(world, dem.id, world.dept_admin, "on_demand")
    police, head = world.add_department(POLICE, "11230100MB0000002X")
    clerk_b = world.add_user("clerk_b", "clerk", police.id)
    args = cert_types.from_sample(SAMPLE, OWN_B)
    args["name"] = "居住证"
    with world.uow() as uow:
        t = cert_types.create(uow, head, **args)
        cert_types.submit(uow, head, t.id)
        uow.commit()
        own_type = t.id
    with world.uow() as uow:
        cert_types.review(uow, world.admin, own_type, True)
        uow.commit()
    _catalog(world, own_type, head, "none")
    with world.uow() as uow:
        cs = client_systems.register(uow, clerk_b, "公安业务系统", ["10.1.0.1"])
        uow.commit()
        cs_id = cs.id
    with world.uow() as uow:
        client_systems.review(uow, world.admin, cs_id, True)
        uow.commit()
    with world.uow() as uow:
        assert usage.apply(uow, clerk_b, cs_id, pub_cat, "办理户籍业务需核验营业执照").status is U.APPROVED
        assert usage.apply(uow, clerk_b, cs_id, dem_cat, "核验食品经营许可").status is U.SUBMITTED
        uow.commit()
    market_ids = _issue(world, world.clerk, PUB, (1, 2, 3))
    _issue(world, clerk_b, OWN_B, (4,))
    with world.uow() as uow:
        cs = uow.session.get(ClientSystem, cs_id)
        for code in ("0", "0", "1302"):
            usage.record_call(uow.session, "GetCertificateDataByCertificateID", code, cs.account_id, "10.1.0.1", cs,
                              certificate_identifier=market_ids[0], type_code=PUB)
        uow.commit()
    return world, police, clerk_b


def overview(world, actor):
    with world.uow() as uow:
        return statistics.overview(uow.session, actor)


def pairs(rows):
    return [(r.label, r.value) for r in rows]


def test_admin_sees_the_tenant(stats_world):
    world, police, _clerk_b = stats_world
    ov = overview(world, world.admin)
    assert ov.scope == "tenant"
    assert (ov.certificates_issued, ov.catalogs, ov.usage_applications, ov.interface_calls) == (4, 3, 2, 3)
    assert pairs(ov.certificates_by_department) == [(MARKET, 3), (POLICE, 1)]
    assert pairs(ov.top_catalogs) == [("营业执照", 3), ("居住证", 1), ("食品经营许可证", 0)]
    assert [(r.department, r.applications, r.calls) for r in ov.usage_by_department] == [(POLICE, 2, 3), (MARKET, 0, 0)]
    assert (ov.used_certificates, ov.unused_certificates) == (1, 3) and ov.used_share == pytest.approx(0.25)
    with world.uow() as uow:  # the same figures as the sharing overview
        st = usage.stats(uow.session, world.tenant_id)
    assert (st["issued_certificates"], st["used_certificates"], st["total_calls"]) == (4, 1, 3)


def test_a_department_sees_only_its_own_figures(stats_world):
    world, police, clerk_b = stats_world
    market = overview(world, world.clerk)
    assert market.scope == "department" and market.department == MARKET
    assert (market.certificates_issued, market.catalogs, market.usage_applications, market.interface_calls) == (3, 2, 0, 0)
    assert pairs(market.certificates_by_department) == [(MARKET, 3)]
    assert pairs(market.top_catalogs) == [("营业执照", 3), ("食品经营许可证", 0)]
    assert [(r.department, r.applications, r.calls) for r in market.usage_by_department] == [(MARKET, 0, 0)]
    assert (market.used_certificates, market.unused_certificates) == (1, 2)
    assert market.used_share == pytest.approx(1 / 3)

    pol = overview(world, clerk_b)
    assert pol.department == POLICE
    assert (pol.certificates_issued, pol.catalogs, pol.usage_applications, pol.interface_calls) == (1, 1, 2, 3)
    assert pairs(pol.certificates_by_department) == [(POLICE, 1)]
    assert pairs(pol.top_catalogs) == [("居住证", 1)]
    assert [(r.department, r.applications, r.calls) for r in pol.usage_by_department] == [(POLICE, 2, 3)]
    assert (pol.used_certificates, pol.used_share) == (0, 0.0)
    shown = json.dumps([pairs(pol.certificates_by_department), pairs(pol.top_catalogs),
                        [r.department for r in pol.usage_by_department]], ensure_ascii=False)
    assert MARKET not in shown and "营业执照" not in shown


def test_empty_world(world):
    ov = overview(world, world.admin)
    assert (ov.certificates_issued, ov.catalogs, ov.usage_applications, ov.interface_calls) == (0, 0, 0, 0)
    assert ov.top_catalogs == [] and ov.used_share == 0.0
    assert pairs(ov.certificates_by_department) == [(MARKET, 0)]


# --- the page -------------------------------------------------------------------------------------

@pytest.fixture
def client(world):
    return web_app(world.platform).test_client()


def table(html, table_id):
    body = re.search(rf'<table[^>]*id="{table_id}".*?<tbody>(.*?)</tbody>', html, re.S).group(1)
    return [[re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
            for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)]


def card(html, card_id):
    return re.search(rf'id="{card_id}".*?class="stat-value">([^<]*)<', html, re.S).group(1)


def test_page_needs_login(client):
    r = client.get("/stats")
    assert r.status_code == 302 and "/login" in r.headers["Location"]


def test_page_shows_totals_charts_data_and_tables(client, stats_world):
    login(client, "admin", PASSWORD)
    r = client.get("/stats")
    html = r.get_data(as_text=True)
    assert r.status_code == 200
    assert [card(html, c) for c in ("total-issued", "total-catalogs", "total-applications", "total-calls")] == \
        ["4", "3", "2", "3"]
    for heading in ("证照签发总数", "部门证照数统计", "目录证照数TOP20", "部门用证数量", "已使用证照占比"):
        assert heading in html
    assert table(html, "table-by-department") == [[MARKET, "3"], [POLICE, "1"]]
    assert table(html, "table-top-catalogs") == [["1", "营业执照", "3"], ["2", "居住证", "1"], ["3", "食品经营许可证", "0"]]
    assert table(html, "table-usage") == [[POLICE, "2", "3"], [MARKET, "0", "0"]]
    assert table(html, "table-used-share") == [["1", "3", "25.0%"]]
    data = json.loads(re.search(r'<script type="application/json" id="stats-data">(.*?)</script>', html, re.S).group(1))
    assert data["used_share"]["kind"] == "doughnut" and data["used_share"]["series"][0]["values"] == [1, 3]
    assert data["top_catalogs"]["labels"] == ["营业执照", "居住证", "食品经营许可证"]
    assert {data[k]["kind"] for k in ("by_department", "top_catalogs", "usage")} == {"bar"}
    assert len(re.findall(r'data-chart="', html)) == 4
    # no inline executable script: only files of our own and the JSON data block
    for tag in re.findall(r"<script[^>]*>", html):
        assert 'type="application/json"' in tag or re.search(r'src="/static/[^"]+"', tag), tag
    nav = re.search(r'<nav class="sidenav".*?</nav>', html, re.S).group(0)
    assert 'href="/stats"' in nav and 'aria-current="page"' in nav
    assert client.get("/static/stats.js").status_code == 200


def test_page_of_a_department_user_shows_its_department_only(client, stats_world):
    login(client, "clerk_b", PASSWORD)
    html = client.get("/stats").get_data(as_text=True)
    assert card(html, "total-issued") == "1" and card(html, "total-calls") == "3"
    assert table(html, "table-by-department") == [[POLICE, "1"]]
    assert MARKET not in html.split('id="stats-totals"')[1] and "营业执照" not in html


def test_page_without_echarts_keeps_the_tables_and_says_so(client, stats_world, monkeypatch):
    from web import stats

    monkeypatch.setattr(stats, "ECHARTS", "vendor/missing-echarts.min.js")
    login(client, "admin", PASSWORD)
    html = client.get("/stats").get_data(as_text=True)
    assert 'id="charts-missing"' in html and "echarts" not in re.sub(r'id="charts-missing".*?</p>', "", html, flags=re.S).split(
        '<script type="application/json"')[1].split("stats.js")[0]
    assert table(html, "table-by-department") == [[MARKET, "3"], [POLICE, "1"]]


def test_echarts_is_served_by_the_app_when_set_up(client, world):
    from pathlib import Path

    import web

    vendor = Path(web.__file__).with_name("static") / "vendor" / "echarts.min.js"
    if not vendor.is_file():
        pytest.skip("scripts/lib/setup.sh ensure_web_assets has not run")
    login(client, "admin", PASSWORD)
    html = client.get("/stats").get_data(as_text=True)
    assert 'src="/static/vendor/echarts.min.js"' in html and 'id="charts-missing"' not in html
    r = client.get("/static/vendor/echarts.min.js")
    assert r.status_code == 200 and b"echarts" in r.data[:2000]


def test_english_headings(client, stats_world):
    login(client, "admin", PASSWORD)
    client.post("/lang/en", data={"csrf_token": csrf(client, "/"), "next": "/stats"})
    html = client.get("/stats").get_data(as_text=True)
    for text in ("Statistics", "Certificates issued", "Catalogs", "Usage applications", "Interface calls",
                 "Certificates by department", "Top 20 catalogs", "Usage by department",
                 "Share of certificates used"):
        assert text in html, text
    data = json.loads(re.search(r'id="stats-data">(.*?)</script>', html, re.S).group(1))
    assert data["used_share"]["labels"] == ["Used", "Not used"]
