"""The deployment's own ledger node: started on demand when ``blockchain.enabled`` is true and no
``blockchain.rpc_url`` is configured.

The node is another process (``python -m node``; the platform imports nothing of it). A node of
this data directory that is already running (its ``rpc.url`` answers) is used as it is; one we
start here is stopped again when the platform closes, so a one-off command leaves nothing behind.
"""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from ledger.interface import LedgerError

log = logging.getLogger("certledger.node")
GENESIS_FUNDS = 10**27  # wei for the platform admin account, which funds the departments' accounts


def node_dir(data_dir: Path) -> Path:
    return Path(data_dir) / "node"


def init_node(data_dir: Path, admin_address: str) -> Path:
    """``python -m node init DATA/node`` with the platform admin's account funded in genesis."""
    home = node_dir(data_dir)
    _run_node(["init", str(home), "--fund", f"{admin_address}={GENESIS_FUNDS}"])
    return home


def _run_node(args: list[str]) -> str:
    r = subprocess.run([sys.executable, "-m", "node", *args], capture_output=True, text=True,
                       cwd=Path(__file__).resolve().parents[1])
    if r.returncode != 0:
        raise LedgerError((r.stderr.strip().splitlines() or ["the node command failed"])[-1])
    return r.stdout


def _answers(url: str) -> bool:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}).encode()
    try:
        req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=2) as resp:
            return "result" in json.loads(resp.read())
    except (OSError, ValueError):
        return False


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class EmbeddedNode:
    def __init__(self, data_dir: Path, port: int = 0) -> None:
        self.home = node_dir(data_dir)
        self.port = port
        self.proc: subprocess.Popen | None = None
        self.url = ""

    def running_url(self) -> str | None:
        url_file = self.home / "rpc.url"
        if url_file.exists():
            url = url_file.read_text().strip()
            if _answers(url):
                return url
        return None

    def ensure(self, timeout: float = 60) -> str:
        """The node's RPC URL, starting the node if no process of this directory runs it."""
        if not (self.home / "node.toml").exists():
            raise LedgerError(f"no ledger node in {self.home}: run `certledger init` again, or set "
                              "blockchain.rpc_url to an external node")
        url = self.running_url()
        if url:
            self.url = url
            return url
        port = self.port or _free_port()
        logf = open(self.home / "node.log", "ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "node", "start", "--data-dir", str(self.home),
                                      "--rpc-port", str(port)], stdout=logf, stderr=subprocess.STDOUT,
                                     cwd=Path(__file__).resolve().parents[1], start_new_session=True)
        logf.close()
        self.url = f"http://127.0.0.1:{port}"
        deadline = time.time() + timeout
        while not _answers(self.url):
            if self.proc.poll() is not None or time.time() > deadline:
                tail = (self.home / "node.log").read_text(errors="replace").strip().splitlines()[-1:]
                self.stop()
                raise LedgerError(f"the ledger node did not start: {tail[0] if tail else 'no output'} "
                                  f"(log: {self.home / 'node.log'})")
            time.sleep(0.1)
        log.info("ledger node started (pid %d) at %s, log in %s", self.proc.pid, self.url, self.home / "node.log")
        return self.url

    def follow_registry(self, registry_address: str) -> None:
        """Let the node's allowlist follow the issuer registry: departments the registry holds may send."""
        path = self.home / "node.toml"
        text = path.read_text()
        line = f'registry = "{registry_address}"'
        if line in text:
            return
        if re.search(r"(?m)^registry = .*$", text):
            text = re.sub(r"(?m)^registry = .*$", line, text)
        else:
            text = re.sub(r"(?m)^\[allowlist\]\n", "[allowlist]\n" + line + "\n", text)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(text)
        os.replace(tmp, path)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.proc = None
