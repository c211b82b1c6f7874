"""Login, the home page and the deployment state page in a real browser against a real server."""

from tests.browser.conftest import ADMIN_PASSWORD, captcha_of


def test_login_then_state_page(live_server, page, tmp_path):
    answer = captcha_of(page, lambda: page.goto(live_server + "/"))
    assert page.url.endswith("/login?next=/")
    page.fill("#username", "admin")
    page.fill("#password", ADMIN_PASSWORD)
    page.fill("#captcha", answer)
    page.click("button.primary")
    page.wait_for_selector("#home-counts")  # the home page, then the admin's 部署状态
    page.click(".sidenav a[href='/status']")
    page.wait_for_selector("#deployment-state")
    mode = page.inner_text("#ledger-mode")  # a fresh deployment runs its own chain, contracts deployed
    assert "区块链" in mode and int(mode.rsplit(" ", 1)[-1]) >= 2, mode
    page.screenshot(path=str(tmp_path / "state.png"), full_page=True)


def test_wrong_password_message_next_to_the_field(live_server, page):
    answer = captcha_of(page, lambda: page.goto(live_server + "/login"))
    page.fill("#username", "admin")
    page.fill("#password", "not-the-password")
    page.fill("#captcha", answer)
    page.click("button.primary")
    error = page.wait_for_selector("#login-error")
    assert "用户名或密码错误" in error.inner_text()
    # the error sits inside the form, right under the password field
    assert page.evaluate("document.querySelector('#login-error').previousElementSibling.id") == "password"


def test_language_switch_to_english(live_server, page):
    page.goto(live_server + "/login")
    page.click("text=English")
    page.wait_for_selector("text=Sign in")
    assert page.inner_text("h1") == "Sign in"


def test_no_request_leaves_the_server(live_server, page):
    outside = []
    page.on("request", lambda r: None if r.url.startswith(live_server) else outside.append(r.url))
    page.goto(live_server + "/login")
    page.wait_for_load_state("networkidle")
    assert outside == []
