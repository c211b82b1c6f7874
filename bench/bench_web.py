"""Management pages with many certificates: how long the server takes to answer each list page.

A fresh data directory on the local store with the demo's department and type, ``--count``
certificates entered and through both reviews (not issued: the lists page any state), then each
page requested ``--repeat`` times through Flask's client as the department's clerk or reviewer
(signed in by session, not through the captcha), timing the whole request: routing, the guard,
the query with its count, the template. Prints the median and the slowest; asserts nothing.

    .venv/bin/python bench/bench_web.py [--count 10000] [--repeat 20]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PAGES = [  # (who, path, what it shows)
    ("admin", "/", "home: four counts over every certificate"),
    ("clerk", "/certificates", "证照管理, first page"),
    ("clerk", "/certificates?page=400", "证照管理, page 400 (offset 7,980)"),
    ("clerk", "/certificates?sort=holder", "证照管理 sorted by holder"),
    ("clerk", "/certificates?text=演示科技有限公司7777", "证照管理 searched by holder"),
    ("clerk", "/certificates?holder_code={code}", "证照管理 by holder code (blind index)"),
    ("clerk", "/entry", "录入: types and entered certificates"),
    ("reviewer", "/issuing", "签发审核 queue"),
    ("reviewer", "/issuing?stage=issuance&sort=holder", "签发审核, issuance stage by holder"),
    ("admin", "/certificates/maintenance", "证照维护: every department"),
    ("admin", "/stats", "统计"),
]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--count", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=20)
    args = ap.parse_args()

    from sqlalchemy import select

    from certledger.config import load_settings
    from certledger.runtime import Platform
    from issuance import demo
    from issuance.models import User
    from web.app import create_app

    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        subprocess.run([str(Path(sys.executable).with_name("certledger")), "init", "--local", str(data)], check=True,
                       capture_output=True, env={**os.environ, "CERTLEDGER_ADMIN_PASSWORD": "Bench-pass-1a"})
        platform = Platform(load_settings(data))
        setup = demo.prepare(platform)
        t0 = time.perf_counter()
        done = 0
        while done < args.count:
            n = min(2000, args.count - done)
            demo.enter_and_approve(platform, setup, n)
            done += n
        print(f"{args.count} certificates entered and reviewed in {time.perf_counter() - t0:.1f} s")
        code = demo.sample_entries(7777, 1)[0].basic["holder_code"]

        app = create_app(platform)
        users = {"admin": "admin", "clerk": "demo_clerk", "reviewer": "demo_reviewer"}
        clients = {}
        with platform.uow() as uow:
            for role, name in users.items():
                uid = uow.session.execute(select(User.id).where(User.username == name)).scalar_one()
                client = app.test_client()
                with client.session_transaction() as sess:
                    sess["uid"], sess["ip"] = uid, "127.0.0.1"
                clients[role] = client

        print(f"\n{'page':<58} {'median ms':>10} {'max ms':>8}")
        for who, path, what in PAGES:
            url = path.format(code=code)
            times = []
            for _ in range(args.repeat):
                start = time.perf_counter()
                r = clients[who].get(url)
                times.append((time.perf_counter() - start) * 1e3)
                if r.status_code != 200:
                    raise SystemExit(f"{url}: HTTP {r.status_code}")
            print(f"{what:<58} {statistics.median(times):>10.1f} {max(times):>8.1f}")
        platform.close()


if __name__ == "__main__":
    main()
