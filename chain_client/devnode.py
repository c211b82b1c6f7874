"""A development node for tests and benchmarks: anvil from the pinned npm package, run directly.

Run the binary itself (not npm's wrapper) so the process id is anvil's and it can be stopped by
it; the hardfork is london, as on our own node.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

ANVIL = Path(__file__).resolve().parents[1] / "contracts" / "node_modules" / "@foundry-rs" / "anvil-linux-amd64" / "bin" / "anvil"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class AnvilNode:
    def __init__(self, chain_id: int = 2836, gas_limit: int = 100_000_000, state_file: Path | None = None,
                 port: int | None = None) -> None:
        """``state_file``: the chain is saved there on stop and loaded on start (a node that comes back)."""
        self.chain_id, self.gas_limit, self.state_file = chain_id, gas_limit, state_file
        self.port = port
        self.proc: subprocess.Popen | None = None
        self.url = ""

    def start(self, timeout: float = 20) -> "AnvilNode":
        from web3 import Web3

        if not ANVIL.exists():
            raise RuntimeError("anvil is missing: run `npm ci` in contracts/ (./scripts/test does)")
        self.port = self.port or free_port()
        cmd = [str(ANVIL), "--host", "127.0.0.1", "--port", str(self.port), "--hardfork", "london", "--chain-id",
               str(self.chain_id), "--gas-limit", str(self.gas_limit), "--silent", "--accounts", "1"]
        if self.state_file:
            cmd += ["--state", str(self.state_file)]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.url = f"http://127.0.0.1:{self.port}"
        w3 = Web3(Web3.HTTPProvider(self.url))
        deadline = time.time() + timeout
        while not w3.is_connected():
            if self.proc.poll() is not None or time.time() > deadline:
                err = self.proc.stderr.read().decode(errors="replace") if self.proc.stderr else ""
                self.stop()
                raise RuntimeError(f"anvil did not start: {err}")
            time.sleep(0.1)
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=10)
        self.proc = None

    def __enter__(self) -> "AnvilNode":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def funded(w3, n: int = 1, wei: int = 10**21):
    """New local accounts (keys only in this process) given ether through anvil's dev RPC."""
    from eth_account import Account

    accounts = [Account.create() for _ in range(n)]
    for a in accounts:
        w3.provider.make_request("anvil_setBalance", [a.address, hex(wei)])
    return accounts
