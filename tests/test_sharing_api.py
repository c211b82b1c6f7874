"""The DB23/T 2836 sharing interface (/sharing) through the real app: appendix C shapes, tokens, usage
isolation, signed links, hostile input, and the usage record of every call.

One deployment per database for the whole module (building it issues sealed OFDs, which takes
seconds): a market-regulation department issuing business licences (type A, shared publicly) and
food permits (type B, shared on demand but never applied for), and a second department whose
approved client system has an approved usage of type A only. Tests that change state (a lost or
revoked certificate, a disabled system) use certificates and systems made for them alone.
"""

from __future__ import annotations

import io
import json
import re
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from certledger.config import load_settings
from certledger.datadir import init_data_dir
from certledger.runtime import Platform
from tests.conftest import FAST_HASHING, PG_URL, REQUIRE_PG, World, make_world

IP = "127.0.0.1"
IP2 = "10.0.0.2"      # also bound to the account
STRANGER = "10.9.9.9"  # bound to nothing
TYPE_A = "11100000000013338W032"
TYPE_B = "11100000000013338W077"
ENVELOPE = {"head", "data"}


@dataclass
class Env:
    """The deployment, its app and what the tests call with."""

    world: World
    app: Any
    account: str            # approved system with usage of TYPE_A
    bare_account: str       # approved system without any usage
    a_certs: list[Any]      # effective certificates of TYPE_A (seeds 1-3)
    b_cert: Any             # an effective certificate of TYPE_B (outside the usage)
    lost: Any               # a TYPE_A certificate reported lost
    revoked: Any            # a TYPE_A certificate revoked
    clock: dict[str, datetime | None] = field(default_factory=lambda: {"now": None})

    @property
    def platform(self) -> Platform:
        return self.world.platform


def _issue_certs(world: World, t, seeds: list[int]):
    from issuance.pipeline import issue
    from tests.test_pipeline import issuing, with_design

    with_design(world, t)
    certs = issuing(world, t, seeds)
    assert issue(world.platform, [c.id for c in certs], workers=0).ok
    return certs


def _catalog(world: World, type_id: int, share: str) -> int:
    from issuance import catalogs

    with world.uow() as uow:
        cat = catalogs.register(uow, world.dept_admin, type_id, share)
        catalogs.review(uow, world.admin, cat.id, True)
        uow.commit()
        return cat.id


def _system(world: World, head, name: str, ips: list[str]) -> tuple[int, str]:
    from issuance import client_systems

    with world.uow() as uow:
        cs = client_systems.register(uow, head, name, ips)
        uow.commit()
    with world.uow() as uow:
        cs = client_systems.review(uow, world.admin, cs.id, True)
        uow.commit()
        return cs.id, cs.account_id


def build_env(folder: Path, database_url: str = "") -> Env:
    """The module's deployment: see the module docstring."""
    from issuance import lifecycle, usage
    from issuance.anchoring import Worker
    from tests.helpers import approved_licence_type
    from web.app import create_app

    init_data_dir(folder, database_url=database_url)
    platform = Platform(load_settings(folder, environ=FAST_HASHING))
    world = make_world(platform)
    ta = approved_licence_type(world, code=TYPE_A)
    tb = approved_licence_type(world, code=TYPE_B, name="食品经营许可证")
    a = _issue_certs(world, ta, [1, 2, 3, 4, 5])
    b = _issue_certs(world, tb, [10])
    cat_a = _catalog(world, ta.id, "public")
    _catalog(world, tb.id, "on_demand")
    _dept, head = world.add_department("哈尔滨市不动产登记中心", "12230100MB0000009Y")
    cs_id, account = _system(world, head, "不动产登记系统", [IP, IP2])
    _bare_id, bare = _system(world, head, "档案查询系统", [IP])
    with world.uow() as uow:
        usage.apply(uow, head, cs_id, cat_a, "办理不动产登记需核验营业执照")
        lifecycle.report_loss(uow, world.clerk, a[3].id, "遗失")
        lifecycle.revoke(uow, world.clerk, a[4].id, "吊销")
        uow.commit()
    Worker(platform.session_factory, platform.ledger).drain()
    app = create_app(platform)
    env = Env(world, app, account, bare, a[:3], b[0], a[3], a[4])
    app.config["SHARING_CLOCK"] = lambda: env.clock["now"] or datetime.now(tz=_beijing())
    return env


def _beijing():
    from sharing.tokens import BEIJING

    return BEIJING


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def env(request, tmp_path_factory):
    url, drop = "", None
    if request.param == "postgres":
        if not PG_URL:
            if REQUIRE_PG:
                pytest.fail("CERTLEDGER_TEST_PG_URL is not set but PostgreSQL tests are required")
            pytest.skip("no PostgreSQL server (run through ./scripts/test)")
        from tests.conftest import _pg_database

        url, drop = _pg_database()
    e = build_env(tmp_path_factory.mktemp("sharing") / "data", url)
    yield e
    from sharing.api import flush_records

    assert flush_records(e.app)  # the last calls' records, before the database goes
    e.platform.close()
    if drop:
        drop()


@pytest.fixture
def client(env):
    env.clock["now"] = None
    yield env.app.test_client()
    env.clock["now"] = None


# --- helpers ------------------------------------------------------------------------------------

def call(client, method: str, data: dict | None = None, ip: str = IP, as_json: bool = False, **kw):
    if as_json:
        return client.post(f"/sharing/{method}", json=data or {}, environ_base={"REMOTE_ADDR": ip}, **kw)
    return client.post(f"/sharing/{method}", data=data or {}, environ_base={"REMOTE_ADDR": ip}, **kw)


def envelope(r, status: str, http: int) -> Any:
    """The answer is the appendix C envelope with the expected code; returns ``data``."""
    assert r.status_code == http, r.get_data(as_text=True)[:1500]
    assert r.mimetype == "application/json"
    body = r.get_json()
    assert set(body) == ENVELOPE and set(body["head"]) == {"status", "message"}, body
    assert body["head"]["status"] == status, body
    assert isinstance(body["head"]["message"], str) and body["head"]["message"]
    return body["data"]


def token(client, account: str, ip: str = IP) -> str:
    data = envelope(call(client, "Token", {"AccountId": account}, ip=ip), "0", 200)
    return data["dataList"]


def auth(client, env: Env, ip: str = IP, account: str | None = None) -> dict[str, str]:
    account = account or env.account
    return {"AccountId": account, "AccessToken": token(client, account, ip)}


def holder_code(seed: int) -> str:
    from tests.helpers import valid_uscc

    return valid_uscc(seed)


def records(env: Env) -> list[Any]:
    """Every usage record so far, once the writer thread has written what it holds."""
    from issuance.models import UsageRecord
    from sharing.api import flush_records

    assert flush_records(env.app)

    with env.platform.session_factory() as s:  # a plain session: the rows stay readable after it
        return list(s.execute(select(UsageRecord).order_by(UsageRecord.id)).scalars())


def count_records(env: Env) -> int:
    from issuance.models import UsageRecord
    from sharing.api import flush_records

    assert flush_records(env.app)

    with env.world.uow() as uow:
        return uow.session.execute(select(func.count()).select_from(UsageRecord)).scalar_one()


# --- appendix C, method by method ---------------------------------------------------------------

def test_c1_token_form_urlencoded_as_in_the_example(client, env):
    # appendix C.1 writes the content type without "application/"; both spellings work
    for ctype in ("application/x-www-form-urlencoded", "x-www-form-urlencoded"):
        r = client.post("/sharing/Token", data=f"AccountId={env.account}", content_type=ctype,
                        environ_base={"REMOTE_ADDR": IP})
        assert r.get_json()["head"] == {"message": "接口调用成功", "status": "0"}
        data = envelope(r, "0", 200)
        assert data["total"] == "" and isinstance(data["dataList"], str) and len(data["dataList"]) > 20
        assert data["expiresAt"].endswith("23:59:59+08:00")
    # lower-case AccountId and JSON body are the same request
    data = envelope(call(client, "Token", {"accountid": env.account.lower()}, as_json=True), "0", 200)
    assert data["dataList"]


def test_c2_c3_file_by_holder_and_by_identifier(client, env):
    c = env.a_certs[0]
    a = auth(client, env)
    by_holder = envelope(call(client, "GetCertificateFileByHolder",
                              {**a, "CertificateHolderCode": holder_code(1), "CertificateType": TYPE_A}), "0", 200)
    by_id = envelope(call(client, "GetCertificateFileByCertificateID", {**a, "CertificateID": c.identifier}), "0", 200)
    for data in (by_holder, by_id):
        [item] = data["dataList"]
        assert {"certificateType", "issueDept", "certificateNumber", "fileUrl", "fileFormat"} <= set(item)
        assert item["certificateType"] == "营业执照" and item["issueDept"] == "哈尔滨市市场监督管理局"
        assert item["certificateNumber"] == holder_code(1) and item["fileFormat"] == "ofd"
        assert re.fullmatch(r"http://localhost/sharing/file/[A-Za-z0-9_\-.]+\.ofd", item["fileUrl"]), item
        got = client.get(item["fileUrl"], environ_base={"REMOTE_ADDR": IP})
        assert got.status_code == 200 and got.mimetype == "application/ofd"
        assert got.data[:2] == b"PK"  # an OFD is a zip package
        ofd = env.platform.settings.data_dir / "files" / "certificates" / f"{c.identifier}.ofd"
        assert got.data == ofd.read_bytes()
        assert f'{c.identifier}.ofd' in got.headers["Content-Disposition"]
    # the PDF face, signed on first request
    data = envelope(call(client, "GetCertificateFileByCertificateID",
                         {**a, "CertificateID": c.identifier, "FileFormat": "pdf"}), "0", 200)
    got = client.get(data["dataList"][0]["fileUrl"], environ_base={"REMOTE_ADDR": IP})
    assert got.status_code == 200 and got.mimetype == "application/pdf" and got.data.startswith(b"%PDF")


def test_c4_c5_data_by_holder_and_by_identifier(client, env):
    from tests.helpers import SAMPLE

    c = env.a_certs[1]
    a = auth(client, env)
    by_holder = envelope(call(client, "GetCertificateDataByHolder",
                              {**a, "CertificateHolderCode": holder_code(2), "CertificateType": TYPE_A,
                               "CertificateHolderType": "01"}), "0", 200)
    by_id = envelope(call(client, "GetCertificateDataByCertificateID", {**a, "CertificateID": c.identifier},
                          as_json=True), "0", 200)
    assert by_holder == by_id
    [item] = by_id["dataList"]
    # every key of the standard's example record, with its value shapes
    assert set(SAMPLE["example_record"]) <= set(item)
    assert item["certificateType"] == "营业执照" and item["certificateName"] == "营业执照"
    assert item["certificateHolder"] == "企业2" and item["certificateHolderCode"] == holder_code(2)
    assert item["certificateHolderType"] == "01" and item["issueDeptCode"] == "11230100MB0000001X"
    assert item["certificateValidateStart"] == "2024年3月1日" and item["certificateValidateEnd"] == "2044年2月29日"
    assert item["certificateID"] == c.identifier and item["certificateStatus"] == "effective"
    assert item["detail"] == []
    surface = item["surface"]
    assert [s["columnName"] for s in surface] == [f["columnName"] for f in SAMPLE["fields"]]
    for s in surface:
        assert set(s) == {"name", "columnName", "valueType", "value"} and s["valueType"] == "string"
    values = {s["columnName"]: s["value"] for s in surface}
    assert values["ENTNAME"] == "企业2" and values["name"] == "张三" and values["puburl"] == ""


def test_c6_verify_certificate_round_trip_and_tampering(client, env):
    c = env.a_certs[2]
    a = auth(client, env)
    [item] = envelope(call(client, "GetCertificateDataByCertificateID", {**a, "CertificateID": c.identifier}),
                      "0", 200)["dataList"]
    # as a form (CertificateData as JSON text) and as JSON (an object)
    r1 = call(client, "VerifyCertificate", {**a, "CertificateData": json.dumps(item, ensure_ascii=False)})
    r2 = call(client, "VerifyCertificate", {**a, "CertificateData": item}, as_json=True)
    for r in (r1, r2):
        assert r.get_json()["head"] == {"message": "接口调用成功", "status": "0"}
        data = envelope(r, "0", 200)
        assert data["verifyResult"] == "true", data
        names = {ch["name"]: ch["result"] for ch in data["checks"]}
        assert names["digest"] == "true" and names["status"] == "true" and names["issuer"] == "true"
    # a changed surface value: still "0" (the call worked), verifyResult "false", digest named
    forged = {**item, "surface": [dict(s, value="别的公司") if s["columnName"] == "ENTNAME" else s for s in item["surface"]]}
    data = envelope(call(client, "VerifyCertificate", {**a, "CertificateData": forged}, as_json=True), "0", 200)
    assert data["verifyResult"] == "false"
    assert {ch["name"]: ch["result"] for ch in data["checks"]}["digest"] == "false"
    # the minimal table-11 form: ISO dates, surface as an object, codes taken from the identifier
    minimal = {"certificateID": c.identifier, "certificateName": "营业执照", "certificateHolder": "企业3",
               "certificateHolderCode": holder_code(3), "certificateHolderType": "01",
               "certificateNumber": holder_code(3), "certificateIssuedDate": "2024-03-01",
               "certificateValidateStart": "2024-03-01", "certificateValidateEnd": "2044-02-29",
               "surface": {s["columnName"]: s["value"] for s in item["surface"]}}
    data = envelope(call(client, "VerifyCertificate", {**a, "CertificateData": minimal}, as_json=True), "0", 200)
    assert data["verifyResult"] == "true", data
    # the data of a lost certificate verifies "false" with the status check failing
    [lost] = _stored_item(env, env.lost)
    data = envelope(call(client, "VerifyCertificate", {**a, "CertificateData": lost}, as_json=True), "0", 200)
    checks = {ch["name"]: ch for ch in data["checks"]}
    assert data["verifyResult"] == "false" and checks["status"]["result"] == "false"
    assert "lost" in checks["status"]["detail"] and checks["digest"]["result"] == "true"


def _stored_item(env: Env, issued) -> list[dict]:
    """A certificate's data item as the interface would give it, read directly (it refuses lost ones)."""
    from issuance.models import Certificate
    from sharing import service

    with env.world.uow() as uow:
        cert = uow.session.get(Certificate, issued.id)
        return [service.data_item(uow, cert, service.type_view(uow, cert.type_id))]


def test_c7_c8_pictures(client, env):
    c = env.a_certs[0]
    a = auth(client, env)
    for method, params in (("GetCertificatePictureByCertificateID", {"CertificateID": c.identifier}),
                           ("GetCertificatePictureByHolder", {"CertificateHolderCode": holder_code(1),
                                                             "CertificateType": TYPE_A})):
        [item] = envelope(call(client, method, {**a, **params}), "0", 200)["dataList"]
        assert item["fileFormat"] == "png" and item["fileUrl"].endswith(".png")
        assert item["certificateType"] == "营业执照" and item["certificateNumber"] == holder_code(1)
        got = client.get(item["fileUrl"], environ_base={"REMOTE_ADDR": IP})
        assert got.status_code == 200 and got.mimetype == "image/png"
        assert got.data.startswith(b"\x89PNG\r\n\x1a\n")


def test_certificate_types_list_only_the_usage(client, env):
    data = envelope(call(client, "GetCertificateType", auth(client, env)), "0", 200)
    assert [t["certificateTypeCode"] for t in data["dataList"]] == [TYPE_A] and data["total"] == 1
    [t] = data["dataList"]
    assert t["certificateType"] == "营业执照" and t["certificateHolderCategory"] == "01"
    assert t["issueDept"] == "哈尔滨市市场监督管理局" and t["hasLayoutFile"] is True
    assert {"name": "名称", "columnName": "ENTNAME", "valueType": "string", "required": True} in t["surface"]
    bare = envelope(call(client, "GetCertificateType", auth(client, env, account=env.bare_account)), "0", 200)
    assert bare == {"total": 0, "dataList": []}


def test_retrieval_filters_pages_and_reports_status(client, env):
    a = auth(client, env)
    data = envelope(call(client, "Retrieval", {**a, "CertificateType": TYPE_A}), "0", 200)
    assert data["total"] == 5 and data["pageNo"] == 1 and data["pageSize"] == 20
    statuses = {i["certificateHolderCode"]: i["certificateStatus"] for i in data["dataList"]}
    assert statuses == {holder_code(1): "effective", holder_code(2): "effective", holder_code(3): "effective",
                        holder_code(4): "lost", holder_code(5): "revoked"}
    assert "surface" not in data["dataList"][0]
    p1 = envelope(call(client, "Retrieval", {**a, "CertificateType": TYPE_A, "PageSize": "2"}), "0", 200)
    p3 = envelope(call(client, "Retrieval", {**a, "CertificateType": TYPE_A, "PageSize": 2, "PageNo": 3},
                       as_json=True), "0", 200)
    assert p1["total"] == p3["total"] == 5 and len(p1["dataList"]) == 2 and len(p3["dataList"]) == 1
    one = envelope(call(client, "Retrieval", {**a, "CertificateType": TYPE_A, "CertificateHolderCode": holder_code(2)}),
                   "0", 200)
    assert [i["certificateHolder"] for i in one["dataList"]] == ["企业2"]
    by_dept = envelope(call(client, "Retrieval", {**a, "CertificateType": TYPE_A, "IssueDeptCode": "11230100MB0000001X",
                                                  "IssueDateStart": "2024年3月1日", "IssueDateEnd": "2024-03-01"}),
                       "0", 200)
    assert by_dept["total"] == 5
    none = envelope(call(client, "Retrieval", {**a, "CertificateType": TYPE_A, "IssueDateStart": "2025-01-01"}),
                    "0", 200)
    assert none == {"total": 0, "pageNo": 1, "pageSize": 20, "dataList": []}
    envelope(call(client, "Retrieval", {**a, "CertificateType": TYPE_B}), "1301", 403)
    envelope(call(client, "Retrieval", {**a, "CertificateType": TYPE_A, "IssueDateStart": "2024-05-01",
                                        "IssueDateEnd": "2024-04-01"}), "1002", 400)
    envelope(call(client, "Retrieval", {**a, "CertificateType": TYPE_A, "PageSize": "1000"}), "1002", 400)


# --- tokens -------------------------------------------------------------------------------------

def test_token_is_bound_to_ip_and_account_and_ends_with_the_day(client, env):
    from sharing.tokens import BEIJING

    env.clock["now"] = datetime(2026, 5, 1, 23, 59, 0, tzinfo=BEIJING)
    tok = token(client, env.account)
    ok = {"AccountId": env.account, "AccessToken": tok}
    envelope(call(client, "GetCertificateType", ok), "0", 200)
    # the same token from another IP of the same account
    envelope(call(client, "GetCertificateType", ok, ip=IP2), "1204", 401)
    # another account presenting it
    envelope(call(client, "GetCertificateType", {**ok, "AccountId": env.bare_account}), "1202", 401)
    # forged, truncated, missing
    envelope(call(client, "GetCertificateType", {**ok, "AccessToken": tok[:-2] + ("AA" if tok[-2:] != "AA" else "BB")}),
             "1202", 401)
    envelope(call(client, "GetCertificateType", {**ok, "AccessToken": tok[:20]}), "1202", 401)
    envelope(call(client, "GetCertificateType", {"AccountId": env.account}), "1201", 401)
    envelope(call(client, "GetCertificateType", {"AccountId": env.account, "AccessToken": ""}), "1201", 401)
    # one minute later it is the next day in Beijing: expired, and a new token works
    env.clock["now"] = datetime(2026, 5, 2, 0, 0, 30, tzinfo=BEIJING)
    envelope(call(client, "GetCertificateType", ok), "1203", 401)
    envelope(call(client, "GetCertificateType", {"AccountId": env.account, "AccessToken": token(client, env.account)}),
             "0", 200)
    # the day is Beijing's whatever the clock's zone: 15:30 UTC is 23:30 in Beijing, 16:30 UTC the next day
    from datetime import timezone
    env.clock["now"] = datetime(2026, 5, 2, 15, 30, tzinfo=timezone.utc)
    utc_tok = token(client, env.account)
    env.clock["now"] = datetime(2026, 5, 2, 16, 30, tzinfo=timezone.utc)
    envelope(call(client, "GetCertificateType", {"AccountId": env.account, "AccessToken": utc_tok}), "1203", 401)


def test_accounts_and_ips(client, env):
    envelope(call(client, "Token", {"AccountId": "0" * 32}), "1101", 401)
    envelope(call(client, "Token", {"AccountId": env.account}, ip=STRANGER), "1103", 403)
    envelope(call(client, "Token", {}), "1001", 400)
    envelope(call(client, "Token", {"AccountId": "not an account!"}), "1002", 400)


def test_a_disabled_system_stops_at_once(client, env):
    from issuance import client_systems

    w = env.world
    dept, head = w.add_department(f"测试部门{uuid.uuid4().hex[:4]}", f"12230100MB{uuid.uuid4().hex[:7].upper()}X")
    cs_id, account = _system(w, head, "临时系统", [IP])
    tok = token(client, account)
    envelope(call(client, "GetCertificateType", {"AccountId": account, "AccessToken": tok}), "0", 200)
    with w.uow() as uow:
        client_systems.disable(uow, w.admin, cs_id, "停用")
        uow.commit()
    # the interface remembers access answers for SHARING_ACCESS_CACHE_SECONDS (default 1 s), no longer
    from sharing.access import DEFAULT_TTL
    time.sleep(env.app.config.get("SHARING_ACCESS_CACHE_SECONDS", DEFAULT_TTL) + 0.05)
    envelope(call(client, "GetCertificateType", {"AccountId": account, "AccessToken": tok}), "1102", 403)
    envelope(call(client, "Token", {"AccountId": account}), "1102", 403)


# --- usage isolation ----------------------------------------------------------------------------

def test_certificates_outside_the_usage_look_like_unknown_ones(client, env):
    from issuance import identifiers

    a = auth(client, env)
    outside = call(client, "GetCertificateDataByCertificateID", {**a, "CertificateID": env.b_cert.identifier})
    made_up = str(identifiers.make(TYPE_A, "11230100MB0000001X", 999_999, 1))
    unknown = call(client, "GetCertificateDataByCertificateID", {**a, "CertificateID": made_up})
    envelope(outside, "1302", 404)
    assert outside.get_data() == unknown.get_data()  # byte for byte: nothing tells them apart
    for method in ("GetCertificateFileByCertificateID", "GetCertificatePictureByCertificateID"):
        envelope(call(client, method, {**a, "CertificateID": env.b_cert.identifier}), "1302", 404)
    # naming the type outside the usage
    envelope(call(client, "GetCertificateDataByCertificateID",
                  {**a, "CertificateID": env.b_cert.identifier, "CertificateType": TYPE_B}), "1301", 403)
    envelope(call(client, "GetCertificateDataByHolder",
                  {**a, "CertificateHolderCode": holder_code(10), "CertificateType": TYPE_B}), "1301", 403)
    envelope(call(client, "GetCertificateFileByHolder",
                  {**a, "CertificateHolderCode": holder_code(10), "CertificateType": TYPE_B}), "1301", 403)
    # a type of the usage with a certificate of another type
    envelope(call(client, "GetCertificateDataByCertificateID",
                  {**a, "CertificateID": env.b_cert.identifier, "CertificateType": TYPE_A}), "1302", 404)
    # verifying data of a type outside the usage
    [b_item] = _stored_item(env, env.b_cert)
    envelope(call(client, "VerifyCertificate", {**a, "CertificateData": b_item}, as_json=True), "1301", 403)
    # a system without usage sees nothing of type A either
    bare = auth(client, env, account=env.bare_account)
    envelope(call(client, "GetCertificateDataByCertificateID", {**bare, "CertificateID": env.a_certs[0].identifier}),
             "1302", 404)
    envelope(call(client, "Retrieval", {**bare, "CertificateType": TYPE_A}), "1301", 403)
    # a holder without certificates of the type
    envelope(call(client, "GetCertificateDataByHolder",
                  {**a, "CertificateHolderCode": holder_code(77), "CertificateType": TYPE_A}), "1302", 404)


def test_lost_and_revoked_certificates_are_refused_with_their_status(client, env):
    a = auth(client, env)
    for issued, status in ((env.lost, "lost"), (env.revoked, "revoked")):
        for method in ("GetCertificateDataByCertificateID", "GetCertificateFileByCertificateID",
                       "GetCertificatePictureByCertificateID"):
            data = envelope(call(client, method, {**a, "CertificateID": issued.identifier}), "1303", 410)
            assert data == {"certificateID": issued.identifier, "certificateStatus": status}
    data = envelope(call(client, "GetCertificateDataByHolder",
                         {**a, "CertificateHolderCode": holder_code(4), "CertificateType": TYPE_A}), "1303", 410)
    assert data["certificateStatus"] == "lost"


# --- signed links -------------------------------------------------------------------------------

def test_signed_links_expire_resist_tampering_and_stay_with_the_account(client, env):
    from sharing.tokens import BEIJING

    env.clock["now"] = datetime(2026, 6, 1, 10, 0, tzinfo=BEIJING)
    a = auth(client, env)
    [item] = envelope(call(client, "GetCertificateFileByCertificateID",
                           {**a, "CertificateID": env.a_certs[0].identifier}), "0", 200)["dataList"]
    url = item["fileUrl"]
    assert item["expiresAt"] == "2026-06-01T10:05:00+08:00"
    env.clock["now"] = datetime(2026, 6, 1, 10, 4, 59, tzinfo=BEIJING)
    assert client.get(url, environ_base={"REMOTE_ADDR": IP2}).status_code == 200  # another bound IP: fine
    envelope(client.get(url, environ_base={"REMOTE_ADDR": STRANGER}), "1103", 403)
    token_part = url.rsplit("/", 1)[1][:-4]
    i = len(token_part) // 2
    tampered = token_part[:i] + ("A" if token_part[i] != "A" else "B") + token_part[i + 1:]
    envelope(client.get(f"/sharing/file/{tampered}.ofd", environ_base={"REMOTE_ADDR": IP}), "1401", 403)
    envelope(client.get(f"/sharing/file/{token_part}.pdf", environ_base={"REMOTE_ADDR": IP}), "1401", 403)
    envelope(client.get(f"/sharing/file/{token_part}", environ_base={"REMOTE_ADDR": IP}), "1401", 403)
    envelope(client.get("/sharing/file/../../config.toml", environ_base={"REMOTE_ADDR": IP}), "1401", 403)
    envelope(client.post(url, environ_base={"REMOTE_ADDR": IP}), "1005", 405)
    env.clock["now"] = datetime(2026, 6, 1, 10, 5, 1, tzinfo=BEIJING)
    envelope(client.get(url, environ_base={"REMOTE_ADDR": IP}), "1402", 410)


# --- hostile and malformed requests -------------------------------------------------------------

def test_huge_bodies_are_refused_before_they_are_read(client, env):
    big = "AccountId=" + "A" * (2 * 1024 * 1024)
    envelope(client.post("/sharing/Token", data=big, content_type="application/x-www-form-urlencoded",
                         environ_base={"REMOTE_ADDR": IP}), "1006", 413)
    envelope(client.post("/sharing/VerifyCertificate", data=json.dumps({"x": "y" * 1_100_000}),
                         content_type="application/json", environ_base={"REMOTE_ADDR": IP}), "1006", 413)
    # a chunked body that declares no length is cut at the limit too
    r = client.post("/sharing/VerifyCertificate", input_stream=io.BytesIO(b'{"a": "' + b"x" * 1_200_000 + b'"}'),
                    content_type="application/json",
                    environ_base={"REMOTE_ADDR": IP, "wsgi.input_terminated": True},
                    headers={"Transfer-Encoding": "chunked"})
    envelope(r, "1006", 413)
    # just under the limit is read (and refused for what it says, not for its size)
    envelope(client.post("/sharing/Token", data=json.dumps({"AccountId": env.account, "pad": "x" * 900_000}),
                         content_type="application/json", environ_base={"REMOTE_ADDR": IP}), "0", 200)


@pytest.mark.parametrize("ctype", ["text/plain", "application/xml", "multipart/form-data; boundary=x",
                                   "application/octet-stream", "image/png"])
def test_wrong_content_types(client, env, ctype):
    envelope(client.post("/sharing/Token", data=b"AccountId=x", content_type=ctype,
                         environ_base={"REMOTE_ADDR": IP}), "1007", 415)


def test_malformed_bodies_and_methods(client, env):
    for body in (b"{", b"[1, 2]", b'"text"', b"{\"AccountId\": }", b"\xff\xfe"):
        envelope(client.post("/sharing/Token", data=body, content_type="application/json",
                             environ_base={"REMOTE_ADDR": IP}), "1003", 400)
    envelope(call(client, "Token", {"AccountId": ["a", "b"]}, as_json=True), "1002", 400)
    envelope(call(client, "Token", {"AccountId": {"$ne": 1}}, as_json=True), "1002", 400)
    envelope(call(client, "Token", {"AccountId": True}, as_json=True), "1002", 400)
    a = auth(client, env)
    for bad in ("[1]", "{", "1", '"x"'):
        envelope(call(client, "VerifyCertificate", {**a, "CertificateData": bad}), "1002", 400)
    envelope(call(client, "VerifyCertificate", {**a, "CertificateData": {"certificateID": "x"}}, as_json=True),
             "1001", 400)
    envelope(call(client, "VerifyCertificate", {**a, "CertificateData": {"surface": 5}}, as_json=True), "1001", 400)
    for method in ("GET", "PUT", "DELETE", "PATCH"):
        r = client.open("/sharing/Token", method=method, environ_base={"REMOTE_ADDR": IP})
        envelope(r, "1005", 405)
        assert r.headers["Allow"] == "POST"
    envelope(client.post("/sharing/NoSuchMethod", environ_base={"REMOTE_ADDR": IP}), "1004", 404)
    envelope(client.get("/sharing/", environ_base={"REMOTE_ADDR": IP}), "1004", 404)
    envelope(client.get("/sharing/a/b/c", environ_base={"REMOTE_ADDR": IP}), "1004", 404)


INJECTIONS = ["' OR '1'='1", "1; DROP TABLE certificates;--", "<script>alert(1)</script>", "../../etc/passwd",
              "..\\..\\windows\\win.ini", "%2e%2e%2f", "\x00", "a\x00b", "${jndi:ldap://x/a}", "{{7*7}}",
              "1.2.156.3005.2.X.Y.0000001.001.Z' --", "𝓤𝓷𝓲𝓬𝓸𝓭𝓮", "A" * 5000]


@pytest.mark.parametrize("value", INJECTIONS)
def test_injection_strings_are_refused_as_bad_parameters(client, env, value):
    from issuance.models import Certificate

    with env.world.uow() as uow:
        before = uow.session.execute(select(func.count()).select_from(Certificate)).scalar_one()
    a = auth(client, env)
    probes = [
        ("Token", {"AccountId": value}),
        ("GetCertificateType", {"AccountId": env.account, "AccessToken": value}),
        ("GetCertificateDataByCertificateID", {**a, "CertificateID": value}),
        ("GetCertificateFileByCertificateID", {**a, "CertificateID": value}),
        ("GetCertificateDataByHolder", {**a, "CertificateHolderCode": value, "CertificateType": TYPE_A}),
        ("GetCertificatePictureByHolder", {**a, "CertificateHolderCode": holder_code(1), "CertificateType": value}),
        ("Retrieval", {**a, "CertificateType": TYPE_A, "IssueDeptCode": value}),
        ("Retrieval", {**a, "CertificateType": TYPE_A, "IssueDateStart": value}),
        ("GetCertificateFileByHolder", {**a, "CertificateHolderCode": holder_code(1), "CertificateType": TYPE_A,
                                        "CertificateNumber": value, "FileFormat": "ofd"}),
        ("VerifyCertificate", {**a, "CertificateData": {"certificateID": value}}),
    ]
    for as_json in (False, True):
        for method, params in probes:
            r = call(client, method, params, as_json=as_json)
            assert 400 <= r.status_code < 500, (method, value, r.get_data(as_text=True)[:300])
            body = r.get_json()
            assert set(body) == ENVELOPE and body["head"]["status"] not in ("0", "1901"), body
            text = r.get_data(as_text=True)
            assert "<script>" not in text and "DROP TABLE" not in text and "etc/passwd" not in text
    with env.world.uow() as uow:
        assert uow.session.execute(select(func.count()).select_from(Certificate)).scalar_one() == before


def test_rate_limit(env):
    client = env.app.test_client()
    env.app.config["SHARING_RATE_PER_SECOND"] = 3
    try:
        codes = [client.post("/sharing/Token", data={"AccountId": env.account},
                             environ_base={"REMOTE_ADDR": "10.1.2.3"}).get_json()["head"]["status"]
                 for _ in range(10)]
        assert "1008" in codes and codes[0] != "1008"
        r = client.post("/sharing/Token", data={}, environ_base={"REMOTE_ADDR": "10.1.2.3"})
        envelope(r, "1008", 429)
        assert r.headers["Retry-After"] == "1"
        # another caller is not affected
        envelope(client.post("/sharing/Token", data={"AccountId": env.account}, environ_base={"REMOTE_ADDR": IP}),
                 "0", 200)
    finally:
        env.app.config.pop("SHARING_RATE_PER_SECOND")


# --- the usage record ---------------------------------------------------------------------------

def test_every_call_is_recorded_served_or_refused(client, env):
    from issuance.models import UsageRecord

    c = env.a_certs[0]
    before = count_records(env)
    a = auth(client, env)  # 1: Token
    calls = [
        (lambda: call(client, "GetCertificateDataByCertificateID", {**a, "CertificateID": c.identifier}),
         "GetCertificateDataByCertificateID", "0"),
        (lambda: call(client, "GetCertificateDataByHolder", {**a, "CertificateHolderCode": holder_code(2),
                                                             "CertificateType": TYPE_A}),
         "GetCertificateDataByHolder", "0"),
        (lambda: call(client, "GetCertificateDataByCertificateID", {**a, "CertificateID": env.b_cert.identifier}),
         "GetCertificateDataByCertificateID", "1302"),
        (lambda: call(client, "Token", {"AccountId": env.account}, ip=STRANGER), "Token", "1103"),
        (lambda: call(client, "GetCertificateType", {"AccountId": env.account, "AccessToken": "forged"}),
         "GetCertificateType", "1202"),
        (lambda: client.post("/sharing/Token", data="x", content_type="text/plain",
                             environ_base={"REMOTE_ADDR": IP}), "Token", "1007"),
        (lambda: client.post("/sharing/Token", data="A" * (1024 * 1024 + 1), content_type="application/json",
                             environ_base={"REMOTE_ADDR": IP}), "Token", "1006"),
        (lambda: client.get("/sharing/Token", environ_base={"REMOTE_ADDR": IP}), "Token", "1005"),
        (lambda: client.post("/sharing/Nope", environ_base={"REMOTE_ADDR": IP}), "Nope", "1004"),
        (lambda: client.post("/sharing/a%00b%0A", environ_base={"REMOTE_ADDR": IP}), "a?b?", "1004"),
        (lambda: client.get("/sharing/file/forged.ofd", environ_base={"REMOTE_ADDR": IP}), "file", "1401"),
        (lambda: call(client, "GetCertificateDataByCertificateID", {**a, "CertificateID": "<script>"}),
         "GetCertificateDataByCertificateID", "1002"),
    ]
    for make, _, expected in calls:
        assert make().get_json()["head"]["status"] == expected
    rows = records(env)[before:]
    assert len(rows) == 1 + len(calls)
    assert (rows[0].interface, rows[0].result_code, rows[0].account_id) == ("Token", "0", env.account)
    for row, (_, interface, expected) in zip(rows[1:], calls):
        assert (row.interface, row.result_code) == (interface, expected), (row.interface, row.message)
        assert row.ip in (IP, STRANGER) and row.message and row.duration_ms >= 0
    served = rows[1]
    assert served.certificate_identifier == c.identifier and served.client_system_id is not None
    assert served.type_code == TYPE_A and served.tenant_id is not None
    by_holder = rows[2]
    assert by_holder.holder_code_index and by_holder.holder_code_index != holder_code(2)
    assert holder_code(2) not in json.dumps([r.message for r in rows], ensure_ascii=False)
    refused = rows[3]
    assert refused.certificate_identifier == env.b_cert.identifier and refused.result_code == "1302"
    assert refused.type_code == TYPE_B  # the issuing department of type B sees the probe in its records
    with env.world.uow() as uow:
        assert uow.session.execute(select(func.count()).select_from(UsageRecord).where(
            UsageRecord.result_code == "1901")).scalar_one() == 0


# --- the OpenAPI description --------------------------------------------------------------------

def test_openapi_describes_every_method_parameter_and_code(client, env):
    from sharing.codes import Code
    from sharing.params import METHODS

    r = client.get("/sharing/openapi.json")
    assert r.status_code == 200 and r.mimetype == "application/json"
    doc = r.get_json()
    assert doc["openapi"].startswith("3.")
    for name, m in METHODS.items():
        op = doc["paths"][f"/sharing/{name}"]["post"]
        assert op["operationId"] == name
        for ctype in ("application/x-www-form-urlencoded", "application/json"):
            schema = op["requestBody"]["content"][ctype]["schema"]
            assert list(schema["properties"]) == [p.name for p in m.params]
            assert schema.get("required", []) == [p.name for p in m.params if p.required]
        assert "200" in op["responses"] and "405" in op["responses"]
    assert {c["status"] for c in doc["x-return-codes"]} == {c.value for c in Code}
    for c in Code:
        assert f"`{c.value}`" in doc["info"]["description"]
    docs = (Path(__file__).resolve().parents[1] / "docs" / "sharing-api.md").read_text(encoding="utf-8")
    for c in Code:
        assert f"`{c.value}`" in docs and c.message in docs
    for name, m in METHODS.items():
        assert name in docs and all(p.name in docs for p in m.params)
