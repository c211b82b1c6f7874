"""The shell in a real browser: captcha login, the user menu, the language switch, logout.

Its own server (local ledger, quicker to start) runs with CERTLEDGER_TEST_CAPTCHA_ANSWER=1, so the
captcha picture's response carries the answer in a header; production servers never set it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser.conftest import ADMIN_PASSWORD, captcha_of, served

SCREENSHOTS = Path(__file__).with_name("screenshots")  # git-ignored (see its .gitignore)


@pytest.fixture(scope="module")
def shell_server(tmp_path_factory):
    yield from served(tmp_path_factory.mktemp("shell") / "data", local=True)  # local ledger: quicker to start


def test_login_user_menu_language_and_logout(shell_server, page):
    outside, csp = [], []
    page.on("request", lambda r: None if r.url.startswith(shell_server) else outside.append(r.url))
    page.on("console", lambda m: csp.append(m.text) if "Content Security Policy" in m.text else None)

    first = captcha_of(page, lambda: page.goto(shell_server + "/login"))
    # a click on the picture draws a new one (static/app.js); the old answer is gone
    answer = captcha_of(page, lambda: page.click("#captcha-img"))
    assert first and answer and len(answer) == 4
    page.fill("#username", "admin")
    page.fill("#password", ADMIN_PASSWORD)
    page.fill("#captcha", answer.lower())  # case does not matter
    page.click("button.primary")
    page.wait_for_selector("#user-menu")
    assert "证照链" in page.inner_text(".brand")

    assert not page.is_visible("#menu-password")
    page.click("#user-menu summary")
    for item, text in (("#menu-password", "修改密码"), ("#menu-profile", "个人信息"), ("#menu-logout", "退出登录")):
        assert page.is_visible(item) and page.inner_text(item) == text
    assert page.is_visible(".sidenav a[href='/']")

    page.click("text=English")
    page.wait_for_selector("text=CertLedger")
    page.click("#user-menu summary")
    assert page.inner_text("#menu-password") == "Change password"
    SCREENSHOTS.mkdir(exist_ok=True)
    page.click("#user-menu summary")  # closed again
    # forms marked data-confirm ask first (static/app.js); dismissing keeps the page, accepting sends
    page.evaluate("""() => {
        const form = document.querySelector('#user-menu form.menu-logout').cloneNode(true);
        form.id = 'confirm-form';
        form.setAttribute('data-confirm', 'Sign out?');
        form.querySelector('button').id = 'confirm-button';
        document.querySelector('main').appendChild(form);
    }""")
    asked = []
    page.once("dialog", lambda d: (asked.append(d.message), d.dismiss()))
    page.click("#confirm-button")
    page.wait_for_timeout(300)
    assert asked == ["Sign out?"] and page.is_visible("#user-menu")
    page.evaluate("() => document.getElementById('confirm-form').remove()")
    page.click("#user-menu summary")
    page.screenshot(path=str(SCREENSHOTS / "shell-user-menu.png"), full_page=True)
    page.click("#menu-logout")
    page.wait_for_selector("#captcha-img")
    assert page.url.endswith("/login") and page.inner_text("h1") == "Sign in"
    assert page.inner_text(".flash") == "You have signed out"
    page.goto(shell_server + "/")
    assert "/login" in page.url  # signed out for real
    assert outside == [] and csp == []
