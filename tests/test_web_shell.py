"""The web shell through Flask's client: real app, real database, CSRF enforced."""

import re

import pytest

from tests.conftest import PASSWORD
from web.app import create_app


@pytest.fixture
def client(world):
    app = create_app(world.platform)
    return app.test_client()


def csrf(client, path="/login", ip="127.0.0.1"):
    html = client.get(path, environ_base={"REMOTE_ADDR": ip}).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def login(client, username, password, ip="127.0.0.1"):
    token = csrf(client, ip=ip)
    return client.post("/login", data={"username": username, "password": password, "csrf_token": token},
                       environ_base={"REMOTE_ADDR": ip})


def test_state_page_needs_login(client):
    r = client.get("/")
    assert r.status_code == 302 and "/login" in r.headers["Location"]


def test_login_shows_deployment_state_in_chinese_by_default(client):
    r = login(client, "admin", PASSWORD)
    assert r.status_code == 302
    page = client.get("/").get_data(as_text=True)
    assert "部署状态" in page and "本地存储" in page and 'id="deployment-state"' in page


def test_english_switch(client):
    login(client, "admin", PASSWORD)
    token = csrf(client, "/")
    client.post("/lang/en", data={"csrf_token": token, "next": "/"})
    page = client.get("/").get_data(as_text=True)
    assert "Deployment state" in page and "Local store" in page


def test_post_without_csrf_token_is_refused(client):
    r = client.post("/login", data={"username": "admin", "password": PASSWORD})
    assert r.status_code == 400 and "页面已过期" in r.get_data(as_text=True)


def test_wrong_password_message_and_lockout_message(client):
    for _ in range(2):
        r = login(client, "clerk1", "wrong")
        assert r.status_code == 401 and "用户名或密码错误" in r.get_data(as_text=True)
    r = login(client, "clerk1", "wrong")
    assert "账号已被禁用" in r.get_data(as_text=True)
    r = login(client, "clerk1", PASSWORD)
    assert r.status_code == 401 and "账号已被禁用" in r.get_data(as_text=True)


def test_session_is_bound_to_the_client_ip(client):
    login(client, "admin", PASSWORD, ip="10.1.1.1")
    assert client.get("/", environ_base={"REMOTE_ADDR": "10.1.1.1"}).status_code == 200
    r = client.get("/", environ_base={"REMOTE_ADDR": "10.9.9.9"})
    assert r.status_code == 302
    assert client.get("/", environ_base={"REMOTE_ADDR": "10.1.1.1"}).status_code == 302  # session dropped


def test_open_redirect_is_refused(client):
    token = csrf(client)
    r = client.post("/login?next=//evil.example/x", data={"username": "admin", "password": PASSWORD, "csrf_token": token})
    assert r.headers["Location"] == "/"


def test_logout(client):
    login(client, "admin", PASSWORD)
    token = csrf(client, "/")
    client.post("/logout", data={"csrf_token": token})
    assert client.get("/").status_code == 302


def test_security_headers_and_escaping(client):
    r = login(client, "<script>alert(1)</script>", "x")
    html = r.get_data(as_text=True)
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html
    assert "default-src 'self'" in r.headers["Content-Security-Policy"]
    assert r.headers["X-Frame-Options"] == "DENY"


def test_healthz(client):
    r = client.get("/healthz")
    assert r.status_code == 200 and r.get_json() == {"status": "ok", "ledger": "local"}


def test_no_external_assets(client):
    html = client.get("/login").get_data(as_text=True)
    for url in re.findall(r'(?:href|src)="([^"]+)"', html):
        assert url.startswith("/"), url


def test_pki_files_are_published_without_login(client, world):
    from asn1crypto import crl as asn1_crl

    from certledger.crypto import x509 as X

    root = client.get("/pki/root.crt")
    assert root.status_code == 200 and root.mimetype == "application/pkix-cert"
    ca_cert = X.load(root.data)
    assert ca_cert.ca and X.algorithm_of(ca_cert) == "sm2-sm3"
    assert X.algorithm_of(X.load(client.get("/pki/root-pdf.crt").data)) == "ecdsa-sha256"
    crl = asn1_crl.CertificateList.load(client.get("/pki/crl").data)
    assert crl["tbs_cert_list"]["issuer"].dump() == ca_cert.subject.dump()
