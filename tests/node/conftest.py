"""Real node processes (``python -m node``) in tmp directories, stopped by the fixtures that start them."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any, Callable

import pytest

REPO = Path(__file__).resolve().parents[2]


def free_ports(n: int) -> int:
    """The first of ``n`` consecutive free ports (init-network numbers its nodes' ports from one base)."""
    from chain_client.devnode import free_port

    for _ in range(50):
        base = free_port()
        if base + n > 65535:
            continue
        socks = []
        try:
            for p in range(base, base + n):
                s = socket.socket()
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                s.bind(("127.0.0.1", p))
                socks.append(s)
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no run of free ports")


def run_cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "node", *args], capture_output=True, text=True, cwd=REPO,
                          timeout=timeout)


class RPCError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code, self.message = code, message


class NodeProc:
    """One ``python -m node start`` process on a node directory; its output goes to DIR/node.log."""

    def __init__(self, home: Path) -> None:
        self.home = Path(home)
        self.proc: subprocess.Popen | None = None
        self._log = None

    @property
    def port(self) -> int:
        import tomllib

        return tomllib.loads((self.home / "node.toml").read_text())["rpc"]["port"]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.home / "node.log"

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def start(self, wait: bool = True, timeout: float = 30) -> "NodeProc":
        assert self.proc is None or self.proc.poll() is not None, "already running"
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "node", "start", "--data-dir", str(self.home)],
                                     stdout=self._log, stderr=subprocess.STDOUT, cwd=REPO)
        if wait:
            self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout: float = 30) -> None:
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"node {self.home.name} exited with {self.proc.returncode}:\n{self.log_text()[-3000:]}")
            try:
                self.call("eth_blockNumber")
                return
            except (OSError, RPCError):
                time.sleep(0.1)
        raise RuntimeError(f"node {self.home.name} did not answer in {timeout}s:\n{self.log_text()[-3000:]}")

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20) -> int | None:
        """Signal the process and wait for it; returns its exit code."""
        code = None
        if self.proc is not None:
            if self.proc.poll() is None:
                os.kill(self.proc.pid, sig)
                try:
                    self.proc.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    os.kill(self.proc.pid, signal.SIGKILL)
                    self.proc.wait(timeout=10)
            code = self.proc.returncode
        if self._log is not None:
            self._log.close()
            self._log = None
        return code

    def kill(self) -> int | None:
        return self.stop(signal.SIGKILL)

    # --- talking to it ----------------------------------------------------------------------
    def request(self, method: str, params: list | None = None, timeout: float = 10) -> dict:
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []}).encode()
        req = urllib.request.Request(self.url, data=body, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return json.loads(resp.read())

    def call(self, method: str, params: list | None = None, timeout: float = 10) -> Any:
        answer = self.request(method, params, timeout)
        if "error" in answer:
            raise RPCError(answer["error"]["code"], answer["error"]["message"])
        return answer["result"]

    def head(self) -> tuple[int, str]:
        block = self.call("eth_getBlockByNumber", ["latest", False])
        return int(block["number"], 16), block["hash"]

    def hash_at(self, number: int) -> str | None:
        block = self.call("eth_getBlockByNumber", [hex(number), False])
        return block["hash"] if block else None

    def w3(self):
        from chain_client.connection import connect

        return connect(self.url)


def wait_for(what: str, check: Callable[[], Any], timeout: float, interval: float = 0.2) -> Any:
    """Poll ``check`` until it returns something truthy; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.time() + timeout
    last_exc: Exception | None = None
    while time.time() < deadline:
        try:
            value = check()
            if value:
                return value
        except (OSError, RPCError) as exc:
            last_exc = exc
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout}s waiting for {what}" + (f" (last error: {last_exc})" if last_exc else ""))
