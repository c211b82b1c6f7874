"""The web shell through Flask's client: real app, real database, CSRF enforced."""

import io
import re
import time

import pytest

from tests.conftest import PASSWORD
from tests.helpers import captcha_answer, csrf, login, web_app
from web.app import create_app


@pytest.fixture
def app(world):
    return web_app(world.platform)


@pytest.fixture
def client(app):
    return app.test_client()


def test_state_page_needs_login(client):
    r = client.get("/")
    assert r.status_code == 302 and "/login" in r.headers["Location"]


def test_admin_sees_deployment_state_in_chinese_by_default(client):
    r = login(client, "admin", PASSWORD)
    assert r.status_code == 302 and r.headers["Location"] == "/"
    page = client.get("/status").get_data(as_text=True)
    assert "部署状态" in page and "本地存储" in page and 'id="deployment-state"' in page


def test_deployment_state_is_for_the_platform_admin(client):
    login(client, "clerk1", PASSWORD)
    assert client.get("/status").status_code == 403


def test_english_switch(client):
    login(client, "admin", PASSWORD)
    token = csrf(client, "/")
    client.post("/lang/en", data={"csrf_token": token, "next": "/status"})
    page = client.get("/status").get_data(as_text=True)
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
    r = login(client, "admin", PASSWORD, next_="?next=//evil.example/x")
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


# --- the login captcha ----------------------------------------------------------------------------

def failed_logins(world, username):
    from sqlalchemy import select

    from issuance.models import User

    with world.uow() as uow:
        return uow.session.execute(select(User.failed_logins).where(User.username == username)).scalar_one()


def test_captcha_is_a_png_drawn_by_the_app_and_its_answer_stays_hidden_by_default(world):
    from PIL import Image

    app = create_app(world.platform)  # production default: the test flag is off
    assert app.config["CAPTCHA_TEST_ANSWER"] is False
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    assert 'id="captcha-img"' in page and 'src="/captcha.png"' in page and 'name="captcha"' in page
    r = client.get("/captcha.png")
    assert r.status_code == 200 and r.mimetype == "image/png" and "X-Captcha-Answer" not in r.headers
    assert r.headers["Cache-Control"] == "no-store"
    with Image.open(io.BytesIO(r.data)) as img:
        assert img.format == "PNG" and img.size == (132, 44)
    # the signed (not encrypted) session cookie holds an HMAC of the answer, never the answer
    with client.session_transaction() as sess:
        challenge = sess["captcha"]
    assert set(challenge) == {"n", "h", "t"} and len(challenge["h"]) == 64


def test_wrong_or_missing_captcha_is_refused_next_to_its_field_and_is_no_password_failure(client, world):
    for given in ("0000", ""):
        r = login(client, "clerk1", PASSWORD, captcha=given)
        html = r.get_data(as_text=True)
        assert r.status_code == 401 and 'id="captcha-error"' in html
        assert ("验证码错误" if given else "请输入验证码") in html and "用户名或密码错误" not in html
    for _ in range(3):  # wrong captcha with a wrong password: the password is not even checked
        login(client, "clerk1", "wrong", captcha="0000")
    assert failed_logins(world, "clerk1") == 0
    assert login(client, "clerk1", PASSWORD).status_code == 302


def test_right_captcha_in_any_case_signs_in(client):
    token = csrf(client)
    answer = captcha_answer(client)
    r = client.post("/login", data={"username": "admin", "password": PASSWORD, "csrf_token": token,
                                    "captcha": f" {answer.lower()} "})
    assert r.status_code == 302 and r.headers["Location"] == "/"
    assert client.get("/").status_code == 200


def test_expired_captcha_is_refused(client, app, monkeypatch):
    from web import captcha

    token = csrf(client)
    answer = captcha_answer(client)
    later = time.time() + app.config["CAPTCHA_TTL_SECONDS"] + 1
    monkeypatch.setattr(captcha, "_now", lambda: later)
    r = client.post("/login", data={"username": "admin", "password": PASSWORD, "csrf_token": token, "captcha": answer})
    assert r.status_code == 401 and "验证码已过期" in r.get_data(as_text=True)


def test_captcha_is_single_use_even_when_an_old_cookie_is_replayed(client):
    token = csrf(client)
    answer = captcha_answer(client)
    old_cookie = client.get_cookie("certledger_session").value
    data = {"username": "admin", "password": "wrong", "csrf_token": token, "captcha": answer}
    assert "用户名或密码错误" in client.post("/login", data=data).get_data(as_text=True)
    data["password"] = PASSWORD
    r = client.post("/login", data=data)  # the same answer again: the challenge is gone
    assert r.status_code == 401 and "验证码已失效" in r.get_data(as_text=True)
    client.set_cookie("certledger_session", old_cookie)  # the cookie that still held the challenge
    r = client.post("/login", data=data)
    assert r.status_code == 401 and "验证码已失效" in r.get_data(as_text=True)


def test_lockout_message_after_three_failures_even_with_the_right_password(client, world):
    messages = [login(client, "reviewer1", "wrong").get_data(as_text=True) for _ in range(3)]
    assert all("用户名或密码错误" in m for m in messages[:2]) and "账号已被禁用" in messages[2]
    r = login(client, "reviewer1", PASSWORD)
    assert r.status_code == 401 and "连续三次密码输入错误，账号已被禁用" in r.get_data(as_text=True)
    assert 'id="login-error"' in r.get_data(as_text=True)


# --- the shell: top bar, user menu, navigation ----------------------------------------------------

def test_top_bar_user_menu_and_role_dependent_navigation(client, world):
    login(client, "clerk1", PASSWORD)
    page = client.get("/").get_data(as_text=True)
    assert "证照链" in page and 'id="user-menu"' in page and "clerk1" in page
    assert world.dept.name in page  # the acting department next to the name
    for item in ("修改密码", "个人信息", "退出登录"):
        assert item in page
    assert 'id="menu-department"' not in page and 'id="menu-tenant"' not in page  # one department, one tenant
    nav = re.search(r'<nav class="sidenav".*?</nav>', page, re.S).group(0)
    assert 'href="/"' in nav and 'href="/verify"' in nav and "/pki/root.crt" not in nav
    client.post("/logout", data={"csrf_token": csrf(client, "/")})
    login(client, "admin", PASSWORD)
    nav = re.search(r'<nav class="sidenav".*?</nav>', client.get("/").get_data(as_text=True), re.S).group(0)
    assert "/pki/root.crt" in nav and "/sharing/openapi.json" in nav
    for href in re.findall(r'href="([^"]+)"', nav):  # every entry is a real page
        assert client.get(href).status_code == 200, href


def test_pages_use_no_inline_script_and_the_script_is_served(client):
    login(client, "admin", PASSWORD)
    for path in ("/login", "/", "/account/password", "/account/profile"):
        html = client.get(path).get_data(as_text=True)
        for tag in re.findall(r"<script[^>]*>", html):
            assert 'src="/static/app.js"' in tag, (path, tag)
        assert "onclick" not in html and "onsubmit" not in html
    js = client.get("/static/app.js")
    assert js.status_code == 200 and b"data-confirm" in js.data and b"captcha" in js.data


def test_english_shell(client):
    login(client, "clerk1", PASSWORD)
    client.post("/lang/en", data={"csrf_token": csrf(client, "/"), "next": "/"})
    page = client.get("/").get_data(as_text=True)
    for text in ("CertLedger", "Change password", "Profile", "Sign out"):
        assert text in page, text
    page = client.get("/account/password").get_data(as_text=True)
    assert "Current password" in page and "Confirm the new password" in page


# --- change password ------------------------------------------------------------------------------

def change_password(client, old, new, confirm=None):
    token = csrf(client, "/account/password")
    return client.post("/account/password", data={"csrf_token": token, "old_password": old, "new_password": new,
                                                  "confirm_password": new if confirm is None else confirm})


def test_change_password_errors_next_to_each_field_then_success(client):
    login(client, "clerk1", PASSWORD)
    cases = [
        (("wrong-Old-1", "New-pass-77"), "old_password-error", "当前密码错误"),
        ((PASSWORD, "New-pass-77", "New-pass-78"), "confirm_password-error", "两次输入的新密码不一致"),
        ((PASSWORD, "Ab-1"), "new_password-error", "密码长度不少于 8 位"),
        ((PASSWORD, "alllowercase"), "new_password-error", "至少 3 类"),
        ((PASSWORD, PASSWORD), "new_password-error", "新密码不能与当前密码相同"),
    ]
    for args, field_id, message in cases:
        r = change_password(client, *args)
        html = r.get_data(as_text=True)
        assert r.status_code == 400 and f'id="{field_id}"' in html and message in html, (args, message)
    r = change_password(client, PASSWORD, "New-pass-77")
    assert r.status_code == 302 and "密码已修改" in client.get(r.headers["Location"]).get_data(as_text=True)
    client.post("/logout", data={"csrf_token": csrf(client, "/")})
    assert login(client, "clerk1", PASSWORD).status_code == 401
    assert login(client, "clerk1", "New-pass-77").status_code == 302


# --- profile and avatar ---------------------------------------------------------------------------

def picture(fmt, size=(300, 200), colour=(200, 30, 30)):
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, fmt)
    return out.getvalue()


def upload(client, data, name="a.png"):
    token = csrf(client, "/account/profile")
    return client.post("/account/avatar", data={"csrf_token": token, "avatar": (io.BytesIO(data), name)},
                       content_type="multipart/form-data")


def test_profile_update_and_field_errors(client):
    login(client, "clerk1", PASSWORD)
    token = csrf(client, "/account/profile")
    r = client.post("/account/profile", data={"csrf_token": token, "display_name": "", "email": "no-at-sign",
                                              "phone": "abc"})
    html = r.get_data(as_text=True)
    assert r.status_code == 400
    for field_id in ("display_name-error", "email-error", "phone-error"):
        assert f'id="{field_id}"' in html
    r = client.post("/account/profile", data={"csrf_token": token, "display_name": "张三", "email": "zs@example.cn",
                                              "phone": "13800000000"})
    assert r.status_code == 302
    page = client.get("/account/profile").get_data(as_text=True)
    assert "个人信息已保存" in page and 'value="zs@example.cn"' in page and 'value="13800000000"' in page
    assert '<span class="user">张三</span>' in page


def test_avatar_refusals_type_size_and_garbage(client):
    login(client, "clerk1", PASSWORD)
    assert client.get("/account/avatar.png").status_code == 404
    for data, message in ((picture("GIF"), "PNG 或 JPEG"), (b"not an image at all", "PNG 或 JPEG"),
                          (b"\x89PNG\r\n\x1a\n" + b"\0" * (1024 * 1024), "1 MB")):
        r = upload(client, data)
        html = r.get_data(as_text=True)
        assert r.status_code == 400 and 'id="avatar-error"' in html and message in html
    assert client.get("/account/avatar.png").status_code == 404


def test_avatar_is_reencoded_to_128_square_png_and_served_by_the_app(client, world):
    from PIL import Image

    login(client, "clerk1", PASSWORD)
    for fmt, name in (("JPEG", "me.jpg"), ("PNG", "me.png")):
        r = upload(client, picture(fmt, (640, 300)), name)
        assert r.status_code == 302
        served = client.get("/account/avatar.png")
        assert served.status_code == 200 and served.mimetype == "image/png"
        with Image.open(io.BytesIO(served.data)) as img:
            assert img.format == "PNG" and img.size == (128, 128)
    page = client.get("/").get_data(as_text=True)
    assert 'src="/account/avatar.png"' in page
    assert list((world.platform.settings.data_dir / "files" / "avatars").iterdir())[0].name.endswith(".png")
    client.post("/logout", data={"csrf_token": csrf(client, "/")})
    assert client.get("/account/avatar.png").status_code == 302  # needs a signed-in user


# --- switch department and tenant -----------------------------------------------------------------

def test_switch_department_among_own_departments_only(client, world):
    from issuance import accounts

    dept2, _ = world.add_department("哈尔滨市公安局", "11230100MB0000002X")
    dept3, _ = world.add_department("哈尔滨市民政局", "11230100MB0000003X")
    with world.uow() as uow:
        accounts.grant_role(uow, world.admin, world.clerk.user_id, "reviewer", dept2.id)
        uow.commit()
    login(client, "clerk1", PASSWORD)
    page = client.get("/").get_data(as_text=True)
    assert 'id="menu-department"' in page
    form = client.get("/account/department").get_data(as_text=True)
    assert world.dept.name in form and dept2.name in form and dept3.name not in form
    token = csrf(client, "/account/department")
    r = client.post("/account/department", data={"csrf_token": token, "department_id": dept3.id})
    assert r.status_code == 403 and "没有角色" in r.get_data(as_text=True)
    r = client.post("/account/department", data={"csrf_token": token, "department_id": dept2.id})
    assert r.status_code == 302
    page = client.get("/").get_data(as_text=True)
    assert "已切换部门" in page and f'<span class="user-dept">{dept2.name}</span>' in page
    assert world.actor("clerk1").department_id == dept2.id and "reviewer" in world.actor("clerk1").roles


def test_switch_tenant_shown_only_with_several_tenants(client, world):
    from issuance import tenants

    login(client, "admin", PASSWORD)
    assert 'id="menu-tenant"' not in client.get("/").get_data(as_text=True)
    with world.uow() as uow:
        other = tenants.create(uow, world.admin, "230200", "齐齐哈尔市", "230200")
        uow.commit()
        other_id = other.id
    assert 'id="menu-tenant"' in client.get("/").get_data(as_text=True)
    assert "齐齐哈尔市" in client.get("/account/tenant").get_data(as_text=True)
    r = client.post("/account/tenant", data={"csrf_token": csrf(client, "/account/tenant"), "tenant_id": other_id})
    assert r.status_code == 302 and world.actor("admin").tenant_id == other_id
    client.post("/logout", data={"csrf_token": csrf(client, "/")})
    login(client, "clerk1", PASSWORD)  # a clerk of one tenant sees no switch and cannot force one
    assert 'id="menu-tenant"' not in client.get("/").get_data(as_text=True)
    r = client.post("/account/tenant", data={"csrf_token": csrf(client, "/"), "tenant_id": other_id})
    assert r.status_code == 403


# --- CSRF on every form ---------------------------------------------------------------------------

def test_every_account_form_refuses_a_post_without_csrf_token(client, world):
    login(client, "clerk1", PASSWORD)
    posts = {
        "/account/password": {"old_password": PASSWORD, "new_password": "New-pass-77", "confirm_password": "New-pass-77"},
        "/account/profile": {"display_name": "x"},
        "/account/avatar": {"avatar": (io.BytesIO(picture("PNG")), "a.png")},
        "/account/department": {"department_id": world.dept.id},
        "/account/tenant": {"tenant_id": world.tenant_id},
        "/lang/en": {"next": "/"},
        "/logout": {},
    }
    for path, data in posts.items():
        r = client.post(path, data=data, content_type="multipart/form-data")
        assert r.status_code == 400 and "页面已过期" in r.get_data(as_text=True), path
    assert client.get("/").status_code == 200  # still signed in: the logout was refused too
    for path in ("/", "/account/password", "/account/profile", "/account/department", "/account/tenant"):
        html = client.get(path).get_data(as_text=True)
        for form in re.findall(r'<form[^>]*method="post".*?</form>', html, re.S):
            assert 'name="csrf_token"' in form, (path, form[:80])
