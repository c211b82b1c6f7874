"""POST /api/v1/certificates through the real app: Flask's client for the contract, waitress over real
HTTP for the transport (chunked bodies, the size limit); real SQLite (PostgreSQL when set up)."""

import json
import re
import threading
import time

import pytest
import requests
from sqlalchemy import func, select

from issuance import accounts, cert_types, certificates
from issuance.models import AuditEntry, Certificate, CertificateStatus
from tests.conftest import PASSWORD
from tests.helpers import approved_licence_type, basic, licence_values, login, valid_uscc, web_app

URL = "/api/v1/certificates"
ENVELOPE_KEYS = {"head", "data"}


@pytest.fixture
def app(world):
    return web_app(world.platform)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def licence(world):
    return approved_licence_type(world).id


def token_for(client, username="clerk1", password=PASSWORD, ip="127.0.0.1"):
    r = client.post("/api/v1/auth/token", json={"username": username, "password": password},
                    environ_base={"REMOTE_ADDR": ip})
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["head"] == {"status": "0", "message": "接口调用成功"}
    return body["data"]["dataList"]


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def cert(seed=1, **over):
    """One certificate as an API client writes it: the standard's names, fields under surface."""
    b = basic(seed)
    body = {"certificateHolder": b["holder"], "certificateHolderCode": b["holder_code"],
            "certificateNumber": b["number"], "certificateIssuedDate": "2024-03-01",
            "certificateValidateStart": "1995年3月1日", "certificateValidateEnd": "2045年3月1日",
            "surface": licence_values(f"企业{seed}")}
    body.update(over)
    return body


def post(client, body, token, **kw):
    return client.post(URL, json=body, headers=bearer(token), **kw)


def count(world, model=Certificate) -> int:
    with world.uow() as uow:
        return uow.session.execute(select(func.count()).select_from(model)).scalar()


def envelope(r, http_status):
    """The response is the DB23/T 2836 envelope with the expected statuses."""
    assert r.status_code == http_status, r.get_data(as_text=True)[:2000]
    assert r.mimetype == "application/json"
    body = r.get_json()
    assert set(body) == ENVELOPE_KEYS and set(body["head"]) == {"status", "message"}
    assert body["head"]["status"] == ("0" if http_status < 300 else str(http_status))
    assert body["head"]["message"]
    return body


# --- success ----------------------------------------------------------------------------------------

def test_one_certificate_by_token_with_the_standards_names(world, client, licence):
    token = token_for(client)
    body = envelope(post(client, {"typeId": licence, **cert(1)}, token), 201)
    assert body["head"]["message"] == "接口调用成功"
    [item] = body["data"]["dataList"]
    assert body["data"]["total"] == 1 and item["index"] == 0 and item["status"] == "draft"
    with world.uow() as uow:
        c = uow.session.get(Certificate, item["id"])
        assert c.identifier == item["certificateID"] and c.number == basic(1)["number"]
        assert c.department_id == world.dept.id and c.created_by_id == world.clerk.user_id
        assert c.valid_from.isoformat() == "1995-03-01" and c.status is CertificateStatus.DRAFT
        assert certificates.values_of(uow, c)["ENTNAME"] == "企业1"


def test_batch_in_request_order_with_surface_as_the_standards_list(world, client, licence):
    token = token_for(client)
    items = [cert(i) for i in range(1, 6)]
    items[2]["surface"] = [{"columnName": k, "value": v} for k, v in licence_values("列表形式").items()]
    items[3] = {**basic(4), "values": licence_values()}  # our own names are accepted too
    body = envelope(post(client, {"typeId": licence, "certificates": items}, token), 201)
    listed = body["data"]["dataList"]
    assert [x["index"] for x in listed] == [0, 1, 2, 3, 4]
    assert [x["certificateNumber"] for x in listed] == [basic(i)["number"] for i in range(1, 6)]
    with world.uow() as uow:
        c3 = uow.session.get(Certificate, listed[2]["id"])
        assert certificates.values_of(uow, c3)["ENTNAME"] == "列表形式"
        audit = uow.session.execute(select(AuditEntry).where(AuditEntry.action == "certificate.enter")).scalar_one()
        detail = audit.detail if isinstance(audit.detail, dict) else json.loads(audit.detail)
        assert audit.actor_name == "clerk1" and detail["count"] == 5


def test_session_cookie_needs_the_csrf_token_in_a_header(world, client, licence):
    r = login(client, "clerk1", PASSWORD)
    assert r.status_code == 302
    page = client.get("/").get_data(as_text=True)  # signing in starts a new session, with a new CSRF token
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    body = envelope(client.post(URL, json={"typeId": licence, **cert(1)}), 400)
    assert "CSRF" in body["head"]["message"]
    assert count(world) == 0
    envelope(client.post(URL, json={"typeId": licence, **cert(1)}, headers={"X-CSRFToken": csrf}), 201)
    assert count(world) == 1


# --- per-row problems, all or nothing ---------------------------------------------------------------

def test_bad_rows_are_all_reported_by_index_and_field_as_spelled_and_nothing_is_stored(world, client, licence):
    token = token_for(client)
    items = [cert(i) for i in range(1, 7)]
    items[0]["certificateHolder"] = ""                                       # service: required
    items[1]["certificateHolderCode"] = {"nested": "object"}                 # shape: not a scalar
    items[2]["surface"] = {**licence_values(), "opscope": ""}                # field required
    items[3]["certificateNumber"] = basic(3)["number"]                       # same number as index 2
    items[4]["holder"] = "两次"                                              # holder given twice
    items[5] = ["not", "an", "object"]
    body = envelope(post(client, {"typeId": licence, "certificates": items}, token), 400)
    rows = body["data"]["rows"]
    assert body["data"]["total"] == 6 and set(rows) == {"0", "1", "2", "3", "4", "5"}
    assert set(rows["0"]) == {"certificateHolder"} and "required" in rows["0"]["certificateHolder"]
    assert rows["1"]["certificateHolderCode"] == "expected a string, a number or null"
    assert set(rows["2"]) == {"opscope"}
    assert set(rows["3"]) == {"certificateNumber"} and "row 3" in rows["3"]["certificateNumber"]
    assert "given twice" in rows["4"]["certificateHolder"]
    assert set(rows["5"]) == {"certificate"}
    assert "6 条证照数据有误" in body["head"]["message"]
    assert count(world) == 0
    envelope(post(client, {"typeId": licence, "certificates": [cert(i) for i in range(1, 7)]}, token), 201)
    assert count(world) == 6


def test_a_single_certificate_reports_under_index_0_and_field_problems_keep_the_column_name(client, licence, world):
    token = token_for(client)
    bad = cert(1, surface={**licence_values(), "name": "x" * 600, "colour": "red"}, certificateIssuedDate="2024-13-01")
    rows = envelope(post(client, {"typeId": licence, **bad}, token), 400)["data"]["rows"]
    # the licence's column "name" (法定代表人) is not the basic item certificateName
    assert set(rows) == {"0"} and set(rows["0"]) == {"name", "colour", "certificateIssuedDate"}
    assert rows["0"]["name"].startswith("法定代表人")


def test_huge_number_is_refused_quickly_and_never_normalised(world, client):
    token = token_for(client)
    with world.uow() as uow:
        t = cert_types.create(uow, world.dept_admin, name="带数值", code="NUM01",
                              fields=[{"name": "注册资本", "column_name": "regcap", "value_type": "number"}])
        cert_types.submit(uow, world.dept_admin, t.id)
        cert_types.review(uow, world.admin, t.id, True)
        uow.commit()
        tid = t.id
    started = time.monotonic()
    body = envelope(post(client, {"typeId": tid, "certificates": [
        {**basic(1), "surface": {"regcap": "1e999999"}}, {**basic(2), "surface": {"regcap": 1e300}},
        {**basic(3), "surface": {"regcap": "12.50"}}]}, token), 400)
    assert time.monotonic() - started < 10
    assert body["data"]["rows"] == {"0": {"regcap": "注册资本: at most 64 digits"},
                                    "1": {"regcap": "注册资本: at most 64 digits"}}
    assert count(world) == 0


def test_number_of_a_revoked_certificate_is_a_row_error_not_500(world, client, licence):
    """A revoked certificate keeps its number: re-entering it is refused like any used number."""
    token = token_for(client)
    envelope(post(client, {"typeId": licence, **cert(1)}, token), 201)
    with world.uow() as uow:
        uow.session.execute(select(Certificate)).scalar_one().status = CertificateStatus.REVOKED
        uow.commit()
    body = envelope(post(client, {"typeId": licence, "certificates": [cert(2), cert(1)]}, token), 400)
    assert list(body["data"]["rows"]) == ["1"] and "already exists" in str(body["data"]["rows"]["1"])
    assert count(world) == 1


# --- request-level problems -------------------------------------------------------------------------

@pytest.mark.parametrize("payload, key", [
    (b"{not json", "body"),
    (b"[" * 5000 + b"]" * 5000, "body"),
    (b"[1, 2]", "body"),
    (b'{"certificates": [{}]}', "typeId"),
    (b'{"typeId": true, "certificates": [{}]}', "typeId"),
    (b'{"typeId": 1, "type_id": 1, "certificates": [{}]}', "typeId"),
    (b'{"typeId": 1, "certificates": []}', "certificates"),
    (b'{"typeId": 1, "certificates": {"a": 1}}', "certificates"),
    (b'{"typeId": 1, "certificates": [{}], "extra": 1}', "extra"),
    (b'{"typeId": 1, "certificates": [' + b",".join([b"{}"] * 10_001) + b"]}", "certificates"),
])
def test_unusable_requests_are_400_with_the_problem_named(world, client, licence, payload, key):
    token = token_for(client)
    r = client.post(URL, data=payload, content_type="application/json", headers=bearer(token))
    body = envelope(r, 400)
    assert set(body["data"]["errors"]) == {key}
    assert count(world) == 0


def test_not_json_is_415_and_an_oversized_body_is_413(app, client, licence):
    token = token_for(client)
    envelope(client.post(URL, data="typeId=1", content_type="application/x-www-form-urlencoded",
                         headers=bearer(token)), 415)
    app.config["MAX_CONTENT_LENGTH"] = 4096
    body = {"typeId": licence, "certificates": [cert(i) for i in range(1, 40)]}
    assert len(json.dumps(body)) > 4096
    r = post(client, body, token)
    assert envelope(r, 413)["head"]["message"] == "请求体过大"


def test_type_of_another_department_is_403_unknown_type_404_reviewer_403(world, client, licence):
    other, _ = world.add_department("大庆市市场监督管理局", "11230600MB0000002X", "230600")
    world.add_user("clerk2", "clerk", other.id)
    body = envelope(post(client, {"typeId": licence, **cert(1)}, token_for(client, "clerk2")), 403)
    assert "department that owns the type" in body["data"]["errors"][""]
    envelope(post(client, {"typeId": 999_999, **cert(1)}, token_for(client)), 404)
    envelope(post(client, {"typeId": licence, **cert(1)}, token_for(client, "reviewer1")), 403)
    assert count(world) == 0


# --- authentication ---------------------------------------------------------------------------------

def test_without_authentication_it_is_401_and_nothing_is_read(world, client, licence):
    r = client.post(URL, json={"typeId": licence, **cert(1)})
    body = envelope(r, 401)
    assert r.headers["WWW-Authenticate"].startswith("Bearer") and body["data"] is None
    for header in ("Bearer", "Bearer not-a-token", "Basic Y2xlcmsxOlNlY3JldC1wYXNzLTQy"):
        envelope(client.post(URL, json={"typeId": licence, **cert(1)}, headers={"Authorization": header}), 401)
    assert count(world) == 0


def test_a_bad_token_is_401_even_with_a_valid_session(world, client, licence):
    login(client, "clerk1", PASSWORD)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/").get_data(as_text=True)).group(1)
    r = client.post(URL, json={"typeId": licence, **cert(1)}, headers={"X-CSRFToken": csrf, **bearer("forged")})
    envelope(r, 401)
    assert count(world) == 0
    envelope(client.post(URL, json={"typeId": licence, **cert(1)}, headers={"X-CSRFToken": csrf}), 201)


def test_token_refusals_lockout_and_the_ip_binding(world, client, licence):
    r = client.post("/api/v1/auth/token", json={"username": "clerk1"})
    envelope(r, 400)
    for _ in range(2):
        assert envelope(client.post("/api/v1/auth/token", json={"username": "clerk1", "password": "wrong"}),
                        401)["head"]["message"] == "用户名或密码错误"
    locked = envelope(client.post("/api/v1/auth/token", data={"username": "clerk1", "password": "wrong"}), 401)
    assert "账号已被禁用" in locked["head"]["message"]  # form-encoded, as the standard's Token service
    envelope(client.post("/api/v1/auth/token", json={"username": "clerk1", "password": PASSWORD}), 401)
    token = token_for(client, "reviewer1", ip="10.0.0.1")
    r = client.post(URL, json={"typeId": licence, **cert(1)}, headers=bearer(token),
                    environ_base={"REMOTE_ADDR": "10.0.0.2"})
    envelope(r, 401)
    r = client.post(URL, json={"typeId": licence, **cert(1)}, headers=bearer(token),
                    environ_base={"REMOTE_ADDR": "10.0.0.1"})
    envelope(r, 403)  # the token itself is good: from its own address it reaches the role check


def test_token_ends_with_a_password_change_a_lock_and_its_lifetime(world, app, client, licence, monkeypatch):
    token = token_for(client)
    envelope(post(client, {"typeId": licence, **cert(1)}, token), 201)
    with world.uow() as uow:
        accounts.change_password(uow, world.clerk, world.platform.policy, PASSWORD, "Another-pass-43",
                                 "Another-pass-43")
        uow.commit()
    envelope(post(client, {"typeId": licence, **cert(2)}, token), 401)
    token = token_for(client, password="Another-pass-43")
    envelope(post(client, {"typeId": licence, **cert(2)}, token), 201)
    import itsdangerous.timed as timed

    real = time.time
    monkeypatch.setattr(timed.time, "time", lambda: real() - app.permanent_session_lifetime.total_seconds() - 5)
    old = token_for(client, password="Another-pass-43")
    monkeypatch.setattr(timed.time, "time", real)
    envelope(post(client, {"typeId": licence, **cert(3)}, old), 401)
    with world.uow() as uow:
        from issuance.models import User

        uow.session.execute(select(User).where(User.username == "clerk1")).scalar_one().locked = True
        uow.commit()
    envelope(post(client, {"typeId": licence, **cert(3)}, token), 401)
    assert count(world) == 2


def test_unknown_paths_and_methods_get_the_envelope_too(client, licence):
    token = token_for(client)
    r = client.get(URL, headers=bearer(token))
    envelope(r, 405)
    assert r.headers["Allow"] == "POST"
    envelope(client.post("/api/v1/nothing-here", json={}, headers=bearer(token)), 404)


# --- real HTTP ----------------------------------------------------------------------------------------

@pytest.fixture
def server(app):
    from waitress.server import create_server

    srv = create_server(app, host="127.0.0.1", port=0, threads=4)
    closing = threading.Event()

    def run() -> None:
        try:
            srv.run()
        except OSError:  # close() pulls the sockets from under the loop's select: how waitress stops
            if not closing.is_set():
                raise

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{srv.effective_port}"
    deadline = time.monotonic() + 10
    while (srv.task_dispatcher.active_count or srv.task_dispatcher.queue) and time.monotonic() < deadline:
        time.sleep(0.01)  # closing under a running task makes it pull a closed trigger
    closing.set()
    srv.close()
    thread.join(timeout=5)


def test_over_real_http_a_batch_a_chunked_body_and_the_limit(world, app, server, licence):
    r = requests.post(f"{server}/api/v1/auth/token", data={"username": "clerk1", "password": PASSWORD}, timeout=30)
    token = r.json()["data"]["dataList"]
    body = json.dumps({"typeId": licence, "certificates": [cert(i) for i in range(1, 101)]}).encode()
    r = requests.post(f"{server}{URL}", data=body, headers={**bearer(token), "Content-Type": "application/json"},
                      timeout=60)
    assert r.status_code == 201 and r.json()["data"]["total"] == 100
    chunks = iter([json.dumps({"typeId": licence, **cert(101)}).encode()])  # a generator: sent chunked
    r = requests.post(f"{server}{URL}", data=chunks, headers={**bearer(token), "Content-Type": "application/json"},
                      timeout=60)
    assert r.status_code == 201, r.text
    app.config["MAX_CONTENT_LENGTH"] = 2048
    big = (json.dumps({"typeId": licence, "certificates": [cert(i) for i in range(200, 230)]}).encode(),)
    for data in (big[0], iter([big[0][:1500], big[0][1500:]])):
        r = requests.post(f"{server}{URL}", data=data, headers={**bearer(token), "Content-Type": "application/json"},
                          timeout=60)
        assert r.status_code == 413 and r.json()["head"]["status"] == "413"
    assert count(world) == 101


def test_ten_thousand_in_one_request(world, client, licence):
    token = token_for(client)
    items = [{"certificateHolder": f"企业{i}", "certificateHolderCode": valid_uscc(i), "certificateNumber": f"N{i:06d}",
              "surface": licence_values()} for i in range(1, 10_001)]
    body = envelope(post(client, {"typeId": licence, "certificates": items}, token), 201)
    assert body["data"]["total"] == 10_000 and len({x["certificateID"] for x in body["data"]["dataList"]}) == 10_000
    assert count(world) == 10_000
