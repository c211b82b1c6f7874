"""A real server process and Debian's Chromium driven by Playwright (no browser download)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

BIN = Path(sys.executable).with_name("certledger")
ADMIN_PASSWORD = "Browser-pass-1"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def served(data: Path, *, local: bool = False, after_init: list[list[str]] = ()):
    """Initialise ``data``, run each of ``after_init`` (certledger arguments), then serve it with
    the captcha's answer told to tests; yields the URL, stops the server after."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CERTLEDGER_")}
    subprocess.run([str(BIN), "init", *(["--local"] if local else []), str(data), "--admin-password", ADMIN_PASSWORD],
                   check=True, env=env, capture_output=True)
    for args in after_init:
        subprocess.run([str(BIN), "--data-dir", str(data), *args], check=True, env=env, capture_output=True)
    port = free_port()
    env["CERTLEDGER_TEST_CAPTCHA_ANSWER"] = "1"  # the captcha picture's response tells its answer (tests only)
    proc = subprocess.Popen([str(BIN), "--data-dir", str(data), "serve", "--port", str(port)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 30
    while True:
        try:
            urllib.request.urlopen(url + "/healthz", timeout=1)
            break
        except OSError:
            if proc.poll() is not None or time.time() > deadline:
                out = proc.stdout.read().decode(errors="replace") if proc.stdout else ""
                proc.kill()
                pytest.fail(f"server did not start: {out}")
            time.sleep(0.2)
    yield url
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture(scope="session")
def live_server(tmp_path_factory):
    """A deployment on its own chain (the default of `certledger init`)."""
    yield from served(tmp_path_factory.mktemp("live") / "data")


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    if not os.path.exists(CHROMIUM):
        pytest.fail("Chromium is missing: ./scripts/test installs Debian's chromium package")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])
        yield b
        b.close()


@pytest.fixture
def page(browser):
    ctx = browser.new_context(locale="zh-CN")
    pg = ctx.new_page()
    yield pg
    ctx.close()


def captcha_of(page, action) -> str:
    """Run ``action`` (which loads a captcha picture) and return that picture's answer."""
    with page.expect_response(lambda r: "/captcha.png" in r.url) as info:
        action()
    response = info.value
    assert response.status == 200 and response.header_value("content-type") == "image/png"
    return response.header_value("x-captcha-answer")


class Watch:
    """What every page of a context did wrong: requests leaving the server, console errors, page
    errors, 5xx responses (hard problems), and 4xx responses (listed, checked at the end)."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.outside: list[str] = []
        self.problems: list[str] = []
        self.client_errors: list[str] = []

    def attach(self, page) -> None:
        page.on("request", self._request)
        page.on("response", self._response)
        page.on("console", self._console)
        page.on("pageerror", lambda e: self.problems.append(f"page error on {page.url}: {e}"))

    def _request(self, r) -> None:
        if not (r.url.startswith(self.base) or r.url.startswith("data:") or r.url.startswith("blob:")):
            self.outside.append(r.url)

    def _response(self, r) -> None:
        if r.url.endswith("/favicon.ico"):
            return
        if r.status >= 500:
            self.problems.append(f"{r.status} {r.request.method} {r.url}")
        elif r.status >= 400:
            self.client_errors.append(f"{r.status} {r.request.method} {r.url}")

    def _console(self, m) -> None:
        if m.type != "error":
            return
        where = (m.location or {}).get("url", "")
        if where.endswith("/favicon.ico"):
            return
        if "the server responded with a status of 4" in m.text:  # a 4xx page: in client_errors already
            return
        self.problems.append(f"console: {m.text} ({where})")


def sign_in(page, base: str, username: str, password: str) -> None:
    """Through the login page, with the captcha's answer the test server tells."""
    answer = captcha_of(page, lambda: page.goto(base + "/login"))
    page.fill("#username", username)
    page.fill("#password", password)
    page.fill("#captcha", answer)
    page.click("button.primary")
    page.wait_for_selector("#user-menu")
