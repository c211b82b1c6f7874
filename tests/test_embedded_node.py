"""A newcomer's deployment: `certledger init` makes its own chain, `serve` starts the node on
demand and stops it again; a node that already runs is used and left running."""

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from chain_client.devnode import free_port

BIN = Path(sys.executable).with_name("certledger")
pytestmark = pytest.mark.slow


def _env():
    return {k: v for k, v in os.environ.items() if not k.startswith(("CERTLEDGER_", "BECP_"))}


def _rpc(url, method, params=()):
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}).encode()
    req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=5) as r:
        return json.loads(r.read())["result"]


def _wait_http(url, proc, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"process ended: {proc.stdout.read().decode(errors='replace')}")
        try:
            return urllib.request.urlopen(url, timeout=1).read()
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"{url} never answered")


def _stop(proc):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    return proc.returncode


@pytest.fixture
def deployment(tmp_path):
    d = tmp_path / "data"
    r = subprocess.run([str(BIN), "init", str(d)], capture_output=True, text=True, env=_env(), timeout=120)
    assert r.returncode == 0, r.stderr
    return d


def test_serve_starts_the_own_node_deploys_and_stops_it(deployment):
    d = deployment
    port = free_port()
    serve = subprocess.Popen([str(BIN), "--data-dir", str(d), "serve", "--port", str(port)], env=_env(),
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        health = json.loads(_wait_http(f"http://127.0.0.1:{port}/healthz", serve))
        assert health["ledger"] == "chain"
        url = (d / "node" / "rpc.url").read_text().strip()
        assert int(_rpc(url, "eth_blockNumber"), 16) >= 1            # the contracts were deployed in blocks
        deployment_record = d / "chain" / "deployment.json"
        registry = json.loads(deployment_record.read_text())["registry"]
        assert f'registry = "{registry}"' in (d / "node" / "node.toml").read_text()
        assert _rpc(url, "eth_getCode", [registry, "latest"]) != "0x"
        deadline = time.time() + 15  # the node re-reads node.toml once a second
        while "following registry" not in (log := (d / "node" / "node.log").read_text()) and time.time() < deadline:
            time.sleep(0.2)
        assert "sealed block #1" in log and "following registry" in log
    finally:
        assert _stop(serve) == 0
    assert "stopped cleanly" in (d / "node" / "node.log").read_text()
    assert not (d / "node" / "rpc.url").exists()


def test_a_running_node_is_used_and_left_running(deployment):
    d = deployment
    rpc_port, port = free_port(), free_port()
    node = subprocess.Popen([str(BIN), "--data-dir", str(d), "node", "start", "--rpc-port", str(rpc_port)],
                            env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 30
        while not (d / "node" / "rpc.url").exists():
            assert node.poll() is None and time.time() < deadline, "the node did not start"
            time.sleep(0.1)
        serve = subprocess.Popen([str(BIN), "--data-dir", str(d), "serve", "--port", str(port)], env=_env(),
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            _wait_http(f"http://127.0.0.1:{port}/healthz", serve)
        finally:
            assert _stop(serve) == 0
        assert node.poll() is None                                   # not ours to stop
        assert int(_rpc(f"http://127.0.0.1:{rpc_port}", "eth_blockNumber"), 16) >= 1
    finally:
        assert _stop(node) == 0


def test_local_deployment_has_no_node(tmp_path):
    d = tmp_path / "data"
    r = subprocess.run([str(BIN), "init", "--local", str(d)], capture_output=True, text=True, env=_env(), timeout=120)
    assert r.returncode == 0 and "local ledger store" in r.stdout
    assert not (d / "node").exists() and (d / "ledger").is_dir()
    assert "enabled = false" in (d / "config.toml").read_text()
