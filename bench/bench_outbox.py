"""Certificates anchored per second end to end through the outbox: local store and chain (anvil).

    .venv/bin/python bench/bench_outbox.py [--count 5000] [--batch 1000]

Enqueue in the database, drain with the worker, per ledger; prints figures, asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from certledger.config import load_settings
from certledger.datadir import init_data_dir
from certledger.runtime import Platform
from issuance.anchoring import Worker, enqueue_anchor


def run(platform: Platform, ledger, count: int, batch: int) -> tuple[float, float]:
    ledger.register_issuer("D1", "bench", ["T1"])
    t = time.perf_counter()
    with platform.session_factory() as s:
        for i in range(count):
            enqueue_anchor(s, f"1.2.156.3005.2.T1.D1.{i:07d}.001.X", "D1", "T1", os.urandom(32))
        s.commit()
    enq = time.perf_counter() - t
    t = time.perf_counter()
    report = Worker(platform.session_factory, ledger, batch).drain()
    drained = time.perf_counter() - t
    assert report.anchored == count, report
    return count / enq, count / drained


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--count", type=int, default=5000)
    ap.add_argument("--batch", type=int, default=1000)
    a = ap.parse_args()
    root = Path(tempfile.mkdtemp())
    init_data_dir(root / "local")
    p = Platform(load_settings(root / "local", environ={}))
    enq, drain = run(p, p.ledger, a.count, a.batch)
    print(f"local store: enqueue {enq:,.0f}/s, drain (anchor) {drain:,.0f} certificates/s")
    p.close()

    from chain_client.connection import connect

    from chain_client.deployment import deploy_once
    from chain_client.devnode import AnvilNode
    from chain_client.keystore import Keystores
    from chain_client.transactions import Sender
    from ledger.chain import ChainLedger

    init_data_dir(root / "chain")
    p = Platform(load_settings(root / "chain", environ={}))
    with AnvilNode() as node:
        w3 = connect(node.url)
        keys = Keystores(root / "chain" / "keystores", os.urandom(16), scrypt_n=2**12)
        admin = keys.create("platform-admin")
        w3.provider.make_request("anvil_setBalance", [admin.address, hex(10**22)])
        ledger = ChainLedger(w3, deploy_once(Sender(w3, admin), root / "chain"), keys, root / "chain" / "chain" / "index")
        enq, drain = run(p, ledger, a.count, a.batch)
        print(f"chain (anvil, {a.batch}/batch): enqueue {enq:,.0f}/s, drain (anchor) {drain:,.0f} certificates/s")
        ledger.close()
    p.close()


if __name__ == "__main__":
    main()
