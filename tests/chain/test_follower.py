"""The chain follower (ledger state rebuilt from the contracts' logs) against the contracts themselves,
on anvil and on our node: every status it answers is the one ``statusOf`` gives, issuers and roots
as the registry and ledger hold them; a fork that drops the synced block makes it start over."""

import os
from datetime import date

import pytest

from ledger import AnchorItem, EventKind as K, LedgerStatus as ST, LifecycleEvent as Ev
from ledger.chain import ChainLedger


def _contract_view(led, cid):
    rec = led.index.get(cid)
    return led.reader.status(bytes.fromhex(rec["digest"]), bytes.fromhex(rec["root"]),
                             [bytes.fromhex(p) for p in rec["proof"]])


def test_every_answer_matches_the_contract(chain_ledger):
    led = chain_ledger
    a = [AnchorItem(f"a{i}", os.urandom(32)) for i in range(6)]
    b = [AnchorItem(f"b{i}", os.urandom(32)) for i in range(3)]
    ra = led.anchor_batch("D1", "T1", a)
    rb = led.anchor_batch("D2", "T2", b)
    led.record_events([Ev("a0", K.ANNUAL_REVIEW, "D1", next_review_due=date(2030, 3, 1)),
                       Ev("a1", K.REPORT_LOSS, "D1", reason="遗失"),
                       Ev("a2", K.REVOKE, "D1", reason="注销")])
    led.record_event(Ev("a1", K.REVOKE, "D1", reason="注销"))
    led.record_event(Ev("a3", K.CHANGE, "D1", superseded_by="a3-v2", superseded_by_digest=os.urandom(32)))
    led.record_event(Ev("a4", K.ANNUAL_REVIEW, "D1", next_review_due=date(2031, 1, 1)))
    led.record_event(Ev("a4", K.REPORT_LOSS, "D1", reason="遗失"))
    expected = {"a0": ST.EFFECTIVE, "a1": ST.REVOKED, "a2": ST.REVOKED, "a3": ST.SUPERSEDED, "a4": ST.LOST,
                "a5": ST.EFFECTIVE, "b0": ST.EFFECTIVE, "b1": ST.EFFECTIVE, "b2": ST.EFFECTIVE}
    head = led.head()
    for cid, status in expected.items():
        mine, theirs = led.status(cid), _contract_view(led, cid)
        assert mine.status is status and theirs["status"] == status.value, cid
        assert mine.last_block == theirs["last_block"], cid
        due = theirs["next_review_due"]
        assert (mine.next_review_due is None) == (due == 0), cid
        assert mine.as_of_block >= head - 1 and mine.as_of_block >= mine.last_block
    assert led.status("a0").next_review_due == date(2030, 3, 1)
    assert led.status("a4").next_review_due == date(2031, 1, 1)
    assert (led.root_info(ra.root).issuer, led.root_info(rb.root).type_code) == ("D1", "T2")
    assert led.root_info(os.urandom(32)) is None and led.status("nothing") is None

    assert led.issuer_info("D2").active is True
    led.suspend_issuer("D2")  # read right after our own write: the follower catches up first
    info = led.issuer_info("D2")
    registered, active, name = led.registry.functions.issuer(led.index.issuer("D2")["address"]).call()
    assert (info.active, info.name) == (active, name) == (False, "大庆市市场监督管理局")
    assert info.type_codes == frozenset({"T2"})


def test_a_reopened_ledger_goes_on_from_the_block_it_had_reached(chain_ledger, w3, tmp_path):
    led = chain_ledger
    led.anchor_batch("D1", "T1", [AnchorItem("x0", os.urandom(32))])
    reached = led.follower.follow()
    led.close()
    again = ChainLedger(w3, led.deployed, led.keys, tmp_path / "chain" / "index")
    try:
        assert again.follower.block == reached  # from its stored position, not from block 0
        assert again.status("x0").status is ST.EFFECTIVE
    finally:
        again.close()


def test_a_fork_dropping_the_synced_block_rebuilds_the_state(chain_ledger, w3, chain_node, tmp_path):
    if chain_node.__class__.__name__ != "AnvilNode":
        pytest.skip("rewinding the chain needs anvil's evm_snapshot / evm_revert")
    led = chain_ledger
    snapshot = w3.provider.make_request("evm_snapshot", [])["result"]
    led.anchor_batch("D1", "T1", [AnchorItem("gone", os.urandom(32))])
    assert led.status("gone").status is ST.EFFECTIVE
    dropped = led.follower.block
    led.close()
    assert w3.provider.make_request("evm_revert", [snapshot])["result"] is True
    # the process after the fork: fresh nonces from the chain, the follower's stored position
    after = ChainLedger(w3, led.deployed, led.keys, tmp_path / "chain" / "index")
    try:
        after.anchor_batch("D1", "T1", [AnchorItem("kept", os.urandom(32))])  # the other branch
        for _ in range(3):
            w3.provider.make_request("evm_mine", [])
        assert after.status("kept").status is ST.EFFECTIVE
        assert after.status("gone") is None  # its batch is not on the chain any more
        assert after.follower.block >= dropped
    finally:
        after.close()
