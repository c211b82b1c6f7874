"""`certledger demo`: the whole flow on a fresh data directory, in both ledger modes."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).with_name("certledger")


def _run(*args):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CERTLEDGER_", "BECP_"))}
    return subprocess.run([str(BIN), *args], capture_output=True, text=True, env=env, timeout=300)


@pytest.mark.parametrize("mode", ["--local", "chain"])
def test_demo_issues_certificates_that_verify(tmp_path, mode):
    d = tmp_path / "data"
    r = _run("init", *([mode] if mode == "--local" else []), str(d))
    assert r.returncode == 0, r.stderr
    r = _run("--data-dir", str(d), "demo", "--count", "3")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.strip().splitlines()
    assert lines[-2].startswith("3 certificate(s) effective")
    account = re.search(r"AccountId ([0-9A-F]{32}) ", lines[-1])[1]
    idents = [line.split()[0] for line in lines[:-2]]
    assert len(idents) == 3 and all(i.startswith("1.2.156.3005.2.11100000000013338W032.") for i in idents)
    assert all(Path(line.split()[1]).is_file() for line in lines[:-2])
    r = _run("--data-dir", str(d), "demo", "--count", "2")        # the department, type and client system are reused
    lines = r.stdout.strip().splitlines()
    assert r.returncode == 0 and lines[-2].startswith("2 certificate(s)") and account in lines[-1], r.stderr
    _token_works(d, account)
    r = _run("--data-dir", str(d), "verify", idents[0])
    assert r.returncode == 0 and "VALID 有效" in r.stdout and "[FAIL]" not in r.stdout, r.stdout


def _token_works(data_dir: Path, account: str) -> None:
    """The printed AccountId gets an AccessToken from the sharing interface, from 127.0.0.1."""
    from certledger.config import load_settings
    from certledger.runtime import Platform
    from web.app import create_app

    platform = Platform(load_settings(data_dir, environ={}))
    try:
        client = create_app(platform).test_client()
        r = client.post("/sharing/Token", data={"AccountId": account}, environ_base={"REMOTE_ADDR": "127.0.0.1"})
        body = r.get_json()
        assert r.status_code == 200 and body["head"]["status"] == "0" and body["data"]["dataList"], body
        r = client.post("/sharing/Token", data={"AccountId": account}, environ_base={"REMOTE_ADDR": "10.0.0.9"})
        assert r.get_json()["head"]["status"] != "0"  # bound to 127.0.0.1
    finally:
        platform.close()


def test_demo_names_a_missing_admin_in_one_line(tmp_path):
    d = tmp_path / "data"
    assert _run("init", "--local", str(d)).returncode == 0
    r = _run("--data-dir", str(d), "demo", "--count", "1", "--admin", "nobody")
    assert r.returncode == 1 and r.stderr.strip().splitlines() == ["error: no user nobody (give the platform admin's name with --admin)"]
