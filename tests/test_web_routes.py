"""Every page route of the management app, walked from the URL map: none opens without login, none
changes anything without the CSRF token, and each refuses the roles its guard leaves out.

The modules' own tests prove department isolation on their records; this walk makes sure no
route was forgotten (a new route is covered the day it is added).
"""

from __future__ import annotations

import pytest

from tests.conftest import PASSWORD
from tests.helpers import login, web_app

# blueprints with their own access rules: public pages, the JSON APIs, the login itself
OPEN = {"auth", "captcha", "verify", "sharing", "api", "static", "pki", None}  # pki: root and CRL are public
OPEN_ENDPOINTS = {"status.healthz"}


@pytest.fixture
def app(world):
    return web_app(world.platform)


def _routes(app):
    """(rule, endpoint, methods, url) of every page route, with 1 for each int argument."""
    out = []
    for rule in app.url_map.iter_rules():
        bp = rule.endpoint.rsplit(".", 1)[0] if "." in rule.endpoint else None
        if bp in OPEN or rule.endpoint in OPEN_ENDPOINTS:
            continue
        values = {arg: (1 if rule._converters[arg].__class__.__name__ == "IntegerConverter" else "x")
                  for arg in rule.arguments}
        with app.test_request_context():
            from flask import url_for

            url = url_for(rule.endpoint, **values)
        out.append((rule, rule.endpoint, rule.methods - {"HEAD", "OPTIONS"}, url))
    return out


def test_the_walk_covers_every_module(app):
    blueprints = {endpoint.split(".")[0] for _r, endpoint, _m, _u in _routes(app)}
    assert {"home", "departments", "users", "types", "designer", "certs", "catalogs", "matters", "issuing", "entry",
            "digital_certs", "seals", "stats", "shell", "status"} <= blueprints


def test_no_page_opens_without_login(app):
    client = app.test_client()
    for rule, endpoint, methods, url in _routes(app):
        for method in methods:
            r = client.open(url, method=method, data={})
            if method == "GET":
                assert r.status_code == 302 and "/login" in r.headers["Location"], (endpoint, method, r.status_code)
            else:  # refused before the login check (CSRF) or sent to the login: never done
                assert r.status_code in (302, 400), (endpoint, method, r.status_code)
                if r.status_code == 302:
                    assert "/login" in r.headers["Location"], (endpoint, method)


def test_no_change_without_the_csrf_token(app):
    client = app.test_client()
    login(client, "admin", PASSWORD)
    for rule, endpoint, methods, url in _routes(app):
        for method in methods - {"GET"}:
            r = client.open(url, method=method, data={"name": "x"})
            assert r.status_code == 400, (endpoint, method, r.status_code)


def _guard(app, endpoint):
    view = app.view_functions[endpoint]
    return getattr(view, "guard", None)


def test_guarded_pages_refuse_the_roles_they_leave_out(world, app):
    """An auditor of the department holds none of the working roles; a department admin is not the
    platform admin; a user of no department acts for none."""
    world.add_user("auditor1", "auditor", world.dept.id)
    checked = 0
    for user, refused in (("auditor1", lambda g: bool(g["roles"]) or g["admin_only"]),
                          ("head_00001x", lambda g: g["admin_only"])):
        client = app.test_client()
        assert login(client, user, PASSWORD).status_code == 302
        for rule, endpoint, methods, url in _routes(app):
            g = _guard(app, endpoint)
            if g is None or "GET" not in methods or not refused(g):
                continue
            r = client.get(url)
            assert r.status_code == 403, (user, endpoint, r.status_code)
            checked += 1
    assert checked >= 20


def test_every_module_page_is_guarded(app):
    """Module pages use kit.guard (login + roles); the few older pages check login themselves."""
    unguarded = sorted(endpoint for _r, endpoint, _m, _u in _routes(app)
                       if _guard(app, endpoint) is None and endpoint.split(".")[0] not in ("shell", "stats", "status"))
    assert unguarded == []


JUNK_QUERY = {"page": "abc", "size": "0", "sort": "nonsense", "status": "nonsense", "type_id": "abc",
              "department": "abc", "department_id": "abc", "share_type": "x", "stage": "x", "since": "2024-13-45",
              "until": "x", "due_before": "x", "overdue": "x", "client_system_id": "abc", "role": "x", "locked": "x",
              "ids": "1,abc"}
JUNK_FORM = {"name": "<script>x</script>", "code": "!!", "region_code": "abc", "reason": "", "decision": "maybe",
             "share_type": "x", "type_id": "abc", "matter_id": "abc", "catalog_id": "abc", "client_system_id": "abc",
             "department_id": "abc", "ids": "abc", "role": "x", "password": "x", "confirm_password": "y",
             "next_due": "x", "holder": "", "valid_to": "x", "size_mm": "abc", "years": "abc", "style": "x",
             "status": "x", "action": "x", "fields-0-name": "x", "fields-0-value_type": "x"}


def test_junk_input_is_refused_without_a_server_error(world, app):
    """Every page route, as the admin and as a department admin, given nonsense in the query string
    and in the form: a 4xx page or a redirect, never a 500."""
    from issuance import catalogs, certificates, matters
    from tests.helpers import approved_licence_type, basic, csrf, licence_values

    # records with id 1 of each kind the routes name, so the forms are read, not refused as 404
    t = approved_licence_type(world)
    with world.uow() as uow:
        certificates.enter(uow, world.clerk, t.id, basic(1), licence_values())
        catalogs.register(uow, world.dept_admin, t.id, "on_demand")
        matters.create(uow, world.dept_admin, code="M001", name="企业开办")
        uow.commit()
    for user in ("admin", "head_00001x"):
        client = app.test_client()
        assert login(client, user, PASSWORD).status_code == 302
        token = csrf(client, "/")
        for rule, endpoint, methods, url in _routes(app):
            if endpoint == "auth.logout" or endpoint.endswith(".delete"):
                continue
            if "GET" in methods:
                r = client.get(url, query_string=JUNK_QUERY)
                assert r.status_code < 500, (user, "GET", endpoint, r.status_code)
            for method in methods - {"GET"}:
                r = client.open(url, method=method, data=dict(JUNK_FORM, csrf_token=token))
                assert r.status_code < 500, (user, method, endpoint, r.status_code)
