"""Switching a deployment from the local store to the chain, and replaying its history there."""

import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from certledger.config import load_settings
from certledger.crypto.at_rest import load_kek
from certledger.datadir import init_data_dir
from certledger.runtime import Platform
from chain_client.keystore import Keystores
from ledger import AnchorItem, EventKind as K, LedgerStatus as ST, LifecycleEvent as Ev
from ledger.backfill import backfill
from ledger.chain import ChainLedger

BIN = Path(sys.executable).with_name("certledger")


@pytest.fixture
def deployment(tmp_path, w3, node_url, fund):
    """A data directory whose platform admin account holds ether on the test chain."""
    d = tmp_path / "data"
    init_data_dir(d)
    settings = load_settings(d, environ={})
    admin = Keystores(d / "keystores", load_kek(settings.kek_path)).create("platform-admin")
    fund(admin.address)
    return d, {"CERTLEDGER_BLOCKCHAIN__ENABLED": "true", "CERTLEDGER_BLOCKCHAIN__RPC_URL": node_url}


def fill_local(platform):
    with platform.open_local_store() as local:
        local.register_issuer("D1", "哈尔滨市市场监督管理局", ["T1"])
        local.anchor_batch("D1", "T1", [AnchorItem(f"c{i}", os.urandom(32)) for i in range(5)])
        local.anchor_batch("D1", "T1", [AnchorItem(f"d{i}", os.urandom(32)) for i in range(3)])
        local.record_event(Ev("c0", K.REPORT_LOSS, "D1", reason="遗失"))
        local.record_event(Ev("c1", K.ANNUAL_REVIEW, "D1", next_review_due=date(2030, 1, 1)))
        local.record_event(Ev("c0", K.REVOKE, "D1"))
        return {cid: local.status(cid) for cid in [f"c{i}" for i in range(5)] + ["d0", "d1", "d2"]}


def test_blockchain_enabled_selects_the_chain_ledger(deployment):
    d, env = deployment
    p = Platform(load_settings(d, environ=env))
    try:
        assert isinstance(p.ledger, ChainLedger)
        assert json.loads((d / "chain" / "deployment.json").read_text())["chain_id"] == 2836
    finally:
        p.close()


def test_backfill_replays_history_and_resumes(deployment):
    d, env = deployment
    p = Platform(load_settings(d, environ=env))
    try:
        local_states = fill_local(p)
        chain = p.ledger
        cursor = d / "chain" / "backfill.json"
        with p.open_local_store() as local:
            # an interrupted run: stop after the first batch, as if the process died there
            entries = list(local.export_entries())
            report = backfill(_Only(local, entries[:2]), chain, cursor)
            assert report.last_seq == entries[1]["seq"]
            # pretend the next entry (second batch) went out but its cursor was never written
            backfill(_Only(local, entries[:3]), chain, d / "scratch.json")
            report = backfill(local, chain, cursor)
        assert report.skipped >= 1 and report.last_seq == entries[-1]["seq"]
        for cid, st in local_states.items():
            on_chain = chain.status(cid)
            assert on_chain.status is st.status and on_chain.digest == st.digest and on_chain.root == st.root, cid
        assert chain.status("c1").next_review_due == date(2030, 1, 1)
        assert chain.status("c0").status is ST.REVOKED
    finally:
        p.close()


class _Only:
    """A local store that shows only some of its entries (an interrupted replay)."""

    def __init__(self, local, entries):
        self.local, self.entries = local, entries

    def export_entries(self, start: int = 1):
        return iter([e for e in self.entries if e["seq"] >= start])


def test_cli_backfill_and_bad_configuration(deployment):
    d, env = deployment
    p = Platform(load_settings(d, environ=env))
    fill_local(p)
    p.close()
    e = {k: v for k, v in os.environ.items() if not k.startswith("CERTLEDGER_")}
    r = subprocess.run([str(BIN), "--data-dir", str(d), "ledger", "backfill"], env={**e, **env},
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0 and "backfill done: " in r.stdout, r.stderr
    r = subprocess.run([str(BIN), "--data-dir", str(d), "ledger", "backfill"], env={**e, **env},
                       capture_output=True, text=True, timeout=300)
    assert "0 replayed" in r.stdout  # nothing left: the cursor is at the end
    r = subprocess.run([str(BIN), "--data-dir", str(d), "ledger", "backfill"], env=e, capture_output=True, text=True)
    assert r.returncode == 2 and "blockchain.enabled = true" in r.stderr
    no_url = {**e, "CERTLEDGER_BLOCKCHAIN__ENABLED": "true"}
    r = subprocess.run([str(BIN), "--data-dir", str(d), "ledger", "backfill"], env=no_url, capture_output=True, text=True)
    assert r.returncode == 1 and "blockchain.rpc_url" in r.stderr and len(r.stderr.strip().splitlines()) == 1
