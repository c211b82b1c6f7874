"""Builders used by several test modules."""

from __future__ import annotations

import json
import re
from pathlib import Path

SAMPLE = json.loads((Path(__file__).resolve().parents[1] / "issuance" / "data" / "business_licence_type.json")
                    .read_text(encoding="utf-8"))
TYPE_CODE = "11100000000013338W032"
HOLDER_CODE = "91230199MA1BXXXX0E"  # fixed below to a valid USCC


def valid_uscc(seed: int) -> str:
    """A valid unified social credit code (check character computed by python-stdnum)."""
    from stdnum.cn import uscc

    body = f"9123010{seed:010d}"[:17]
    return body + uscc.calc_check_digit(body)


def licence_values(name: str = "哈尔滨某某科技有限公司") -> dict:
    return {"ENTNAME": name, "dom": "哈尔滨市南岗区某路1号", "name": "张三", "REPORTTYPE": "有限责任公司",
            "opscope": "软件开发", "estdate": "2019-02-03"}


def approved_licence_type(world, code: str = TYPE_CODE, annual_review: bool = False, **over):
    """The sample licence type, created by the department admin and approved by the admin."""
    from issuance import cert_types

    args = cert_types.from_sample(SAMPLE, code)
    args["annual_review"] = annual_review
    args.update(over)
    with world.uow() as uow:
        t = cert_types.create(uow, world.dept_admin, **args)
        cert_types.submit(uow, world.dept_admin, t.id)
        uow.commit()
    with world.uow() as uow:
        cert_types.review(uow, world.admin, t.id, True)
        uow.commit()
    return t


def basic(seed: int = 1, **over) -> dict:
    code = valid_uscc(seed)
    b = {"holder": f"企业{seed}", "holder_code": code, "number": code, "issue_date": "2024-03-01",
         "valid_from": "2024-03-01", "valid_to": "2044-02-29"}
    b.update(over)
    return b


def at_once(fn, n: int, barrier: bool = True) -> tuple[list, list[BaseException]]:
    """``fn()`` in ``n`` threads started together: (results, exceptions), for race tests."""
    import threading

    results: list = []
    errors: list[BaseException] = []
    start = threading.Barrier(n) if barrier else None

    def run() -> None:
        if start is not None:
            start.wait()
        try:
            results.append(fn())
        except BaseException as exc:  # noqa: BLE001 - handed to the test's assertions
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results, errors


# --- the web app through Flask's client ----------------------------------------------------------

def web_app(platform):
    """The app of ``platform`` with the captcha's answer told to tests (never in production)."""
    from web.app import create_app

    app = create_app(platform)
    app.config["CAPTCHA_TEST_ANSWER"] = True  # the picture's response tells its answer (tests only)
    return app


def csrf(client, path="/login", ip="127.0.0.1"):
    html = client.get(path, environ_base={"REMOTE_ADDR": ip}).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def captcha_answer(client, ip="127.0.0.1"):
    """Draw a captcha for the client's session; the test flag puts its answer in a header."""
    r = client.get("/captcha.png", environ_base={"REMOTE_ADDR": ip})
    assert r.status_code == 200 and r.mimetype == "image/png"
    return r.headers["X-Captcha-Answer"]


def login(client, username, password, ip="127.0.0.1", captcha=None, next_=""):
    token = csrf(client, ip=ip)
    answer = captcha_answer(client, ip)  # a picture is drawn; ``captcha`` replaces its answer if given
    answer = answer if captcha is None else captcha
    return client.post("/login" + next_, data={"username": username, "password": password, "csrf_token": token,
                                               "captcha": answer},
                       environ_base={"REMOTE_ADDR": ip})
