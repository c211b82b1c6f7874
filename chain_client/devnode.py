"""A development node for tests and benchmarks: anvil from the pinned npm package, run directly.

Run the binary itself (not npm's wrapper) so the process id is anvil's and it can be stopped by
it; the hardfork is london, as on our own node.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ANVIL = Path(__file__).resolve().parents[1] / "contracts" / "node_modules" / "@foundry-rs" / "anvil-linux-amd64" / "bin" / "anvil"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_until_up(node, timeout: float, failure) -> None:
    """Poll the node's RPC until it answers; stop it and raise ``failure()`` if it dies or times out."""
    from web3 import Web3

    w3 = Web3(Web3.HTTPProvider(node.url))
    deadline = time.time() + timeout
    while not w3.is_connected():
        if node.proc.poll() is not None or time.time() > deadline:
            message = failure()
            node.stop()
            raise RuntimeError(message)
        time.sleep(0.1)


class AnvilNode:
    def __init__(self, chain_id: int = 2836, gas_limit: int = 100_000_000, state_file: Path | None = None,
                 port: int | None = None, extra_args: tuple[str, ...] = ()) -> None:
        """``state_file``: the chain is saved there on stop and loaded on start (a node that comes back);
        ``extra_args`` e.g. ``("--prune-history",)`` for long chains (anvil_mine slows down without it)."""
        self.chain_id, self.gas_limit, self.state_file = chain_id, gas_limit, state_file
        self.port, self.extra_args = port, extra_args
        self.proc: subprocess.Popen | None = None
        self.url = ""

    def start(self, timeout: float = 20) -> "AnvilNode":
        if not ANVIL.exists():
            raise RuntimeError("anvil is missing: run `npm ci` in contracts/ (./scripts/test does)")
        self.port = self.port or free_port()
        cmd = [str(ANVIL), "--host", "127.0.0.1", "--port", str(self.port), "--hardfork", "london", "--chain-id",
               str(self.chain_id), "--gas-limit", str(self.gas_limit), "--silent", "--accounts", "1"]
        if self.state_file:
            cmd += ["--state", str(self.state_file)]
        cmd += list(self.extra_args)
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.url = f"http://127.0.0.1:{self.port}"
        _wait_until_up(self, timeout, lambda: "anvil did not start: " + (
            self.proc.stderr.read().decode(errors="replace") if self.proc.stderr else ""))
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=10)
        self.proc = None

    def fund(self, w3, address: str, wei: int) -> None:
        w3.provider.make_request("anvil_setBalance", [address, hex(wei)])

    def __enter__(self) -> "AnvilNode":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


class LedgerNode:
    """Our own node (``python -m node``) in a directory of its own, for tests and benchmarks.

    A faucet account is funded in its genesis so tests can give ether the way anvil's
    ``anvil_setBalance`` does; the sender allowlist is off unless asked for.
    """

    def __init__(self, home: Path, port: int | None = None, allowlist: bool = False, period: int = 1,
                 extra_args: tuple[str, ...] = ()) -> None:
        from eth_account import Account

        self.home, self.port, self.allowlist, self.period = Path(home), port, allowlist, period
        self.extra_args = extra_args
        self.faucet = Account.create()
        self._faucet_sender = None
        self.proc: subprocess.Popen | None = None
        self.url = ""
        self._log = None

    def init(self) -> "LedgerNode":
        if not (self.home / "node.toml").exists():
            r = subprocess.run([sys.executable, "-m", "node", "init", str(self.home), "--period", str(self.period),
                                "--fund", f"{self.faucet.address}={10**30}"], capture_output=True, text=True)
            if r.returncode != 0:
                raise RuntimeError(f"node init failed: {r.stderr.strip()}")
            if not self.allowlist:
                cfg = self.home / "node.toml"
                cfg.write_text(cfg.read_text().replace("enabled = true", "enabled = false"))
        return self

    def start(self, timeout: float = 30) -> "LedgerNode":
        self.init()
        self.port = self.port or free_port()
        self._log = open(self.home / "node.log", "ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "node", "start", "--data-dir", str(self.home),
                                      "--rpc-port", str(self.port), *self.extra_args],
                                     stdout=self._log, stderr=subprocess.STDOUT, cwd=Path(__file__).resolve().parents[1])
        self.url = f"http://127.0.0.1:{self.port}"
        _wait_until_up(self, timeout, lambda: f"the ledger node did not start: {self.log_tail()}")
        return self

    def log_tail(self, lines: int = 20) -> str:
        path = self.home / "node.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    def stop(self, kill: bool = False) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL if kill else signal.SIGTERM)
            self.proc.wait(timeout=20)
        self.proc = None
        if self._log:
            self._log.close()
            self._log = None

    def fund(self, w3, address: str, wei: int) -> None:
        from chain_client.transactions import Sender

        if self._faucet_sender is None:
            self._faucet_sender = Sender(w3, self.faucet)
        self._faucet_sender.transfer(address, wei)

    def __enter__(self) -> "LedgerNode":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def funded(w3, n: int = 1, wei: int = 10**21, node: "AnvilNode | LedgerNode | None" = None):
    """New local accounts (keys only in this process) given ether (anvil's dev RPC when no node is named)."""
    from eth_account import Account

    node = node or AnvilNode()
    accounts = [Account.create() for _ in range(n)]
    for a in accounts:
        node.fund(w3, a.address, wei)
    return accounts
