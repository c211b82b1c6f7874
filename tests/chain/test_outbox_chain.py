"""The outbox against a chain that goes away in the middle and comes back."""

import os

import pytest

from sqlalchemy import func, select

from certledger.config import load_settings
from certledger.datadir import init_data_dir
from certledger.runtime import Platform
from chain_client.deployment import deploy_once
from chain_client.devnode import AnvilNode, LedgerNode
from chain_client.keystore import Keystores
from chain_client.transactions import Sender
from issuance.anchoring import Worker, enqueue_anchor
from issuance.models import OutboxItem
from ledger import LedgerStatus as ST
from ledger.chain import ChainLedger


@pytest.mark.parametrize("kind", ["anvil", "ledger-node"])
def test_chain_down_mid_way_items_wait_and_drain_when_it_returns(tmp_path, kind):
    from chain_client.connection import connect

    d = tmp_path / "data"
    init_data_dir(d)
    platform = Platform(load_settings(d, environ={}))
    node = (AnvilNode(state_file=tmp_path / "anvil-state.json") if kind == "anvil" else LedgerNode(tmp_path / "node")).start()
    try:
        w3 = connect(node.url, timeout=5)
        keys = Keystores(d / "keystores", os.urandom(16), scrypt_n=2**10)
        admin = keys.create("platform-admin")
        node.fund(w3, admin.address, 10**22)
        ledger = ChainLedger(w3, deploy_once(Sender(w3, admin), d), keys, d / "chain" / "index")
        ledger.register_issuer("D1", "哈尔滨市市场监督管理局", ["T1"])

        def enqueue(prefix, n):
            with platform.session_factory() as s:
                for i in range(n):
                    enqueue_anchor(s, f"{prefix}{i}", "D1", "T1", os.urandom(32))
                s.commit()

        enqueue("a", 40)
        assert Worker(platform.session_factory, ledger, max_batch=25).drain().anchored == 40
        node.stop()                                   # the chain goes away
        enqueue("b", 30)
        report = Worker(platform.session_factory, ledger, max_batch=25).drain()
        assert report.anchored == 0 and report.waiting == 30 and "unavailable" in report.error
        with platform.session_factory() as s:
            assert s.scalar(select(func.count()).select_from(OutboxItem).where(OutboxItem.state == "done")) == 40
        node.start()                                  # and comes back with its chain
        report = Worker(platform.session_factory, ledger, max_batch=25).drain()
        assert report.anchored == 30 and report.waiting == 0, report
        assert all(ledger.status(f"{p}{i}").status is ST.EFFECTIVE for p, n in (("a", 40), ("b", 30)) for i in range(n))
        anchored = ledger.contract.events.BatchAnchored().get_logs(from_block=0)
        assert len(anchored) == 4  # 25 + 15, then 25 + 5: nothing anchored twice
    finally:
        node.stop()
        platform.close()
