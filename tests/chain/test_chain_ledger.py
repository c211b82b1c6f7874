"""The ledger interface on the chain (anvil and our node): same rules as the local store, idempotent anchoring."""

import os
from datetime import date

import pytest

from chain_client.contracts import type_code_id
from ledger import AnchorItem, EventKind as K, LedgerError, LedgerStatus as ST, LifecycleEvent as Ev
from ledger.merkle import build


def items(n=4, prefix="c"):
    return [AnchorItem(f"{prefix}{i}", os.urandom(32)) for i in range(n)]


def test_anchor_status_history_and_inclusion(chain_ledger):
    led = chain_ledger
    batch = items()
    r = led.anchor_batch("D1", "T1", batch)
    assert r.ref.startswith("0x") or len(r.ref) == 64
    for it in batch:
        st = led.status(it.certificate_id)
        assert st.status is ST.EFFECTIVE and st.digest == it.digest and st.root == r.root
        assert led.verify_inclusion(it.digest, r.proofs[it.certificate_id], r.root)
    led.record_event(Ev("c0", K.ANNUAL_REVIEW, "D1", next_review_due=date(2030, 3, 1)))
    led.record_event(Ev("c0", K.REPORT_LOSS, "D1", reason="遗失"))
    st = led.status("c0")
    assert st.status is ST.LOST and st.next_review_due == date(2030, 3, 1)
    hist = led.history("c0")
    assert [e.kind for e in hist] == [K.ISSUE, K.ANNUAL_REVIEW, K.REPORT_LOSS]
    assert hist[1].prev_block == hist[0].block and hist[2].prev_block == hist[1].block
    assert led.issuer_info("D1").type_codes == frozenset({"T1"})
    info = led.root_info(r.root)  # in issuer and type codes, as the local store answers
    assert (info.issuer, info.type_code, info.count, info.block) == ("D1", "T1", len(batch), r.block)
    assert led.root_info(os.urandom(32)) is None


def test_refusals_match_the_local_store(chain_ledger):
    led = chain_ledger
    led.anchor_batch("D1", "T1", items())
    with pytest.raises(LedgerError, match="not an active issuer"):
        led.anchor_batch("D1", "T2", items(prefix="x"))
    with pytest.raises(LedgerError, match="already on the ledger"):
        led.anchor_batch("D1", "T1", [AnchorItem("c1", os.urandom(32))])
    with pytest.raises(LedgerError, match="not the issuer"):
        led.record_event(Ev("c1", K.REVOKE, "D2"))
    led.record_event(Ev("c1", K.REVOKE, "D1", reason="注销"))
    with pytest.raises(LedgerError, match="no further events"):
        led.record_event(Ev("c1", K.ANNUAL_REVIEW, "D1", next_review_due=date(2031, 1, 1)))
    with pytest.raises(LedgerError, match="not on the ledger"):
        led.record_event(Ev("nothing", K.REVOKE, "D1"))
    led.suspend_issuer("D2")
    with pytest.raises(LedgerError, match="not an active issuer"):
        led.anchor_batch("D2", "T2", items(prefix="y"))


def test_events_of_a_list_are_all_or_nothing(chain_ledger):
    led = chain_ledger
    led.anchor_batch("D1", "T1", items())
    with pytest.raises(LedgerError):
        led.record_events([Ev("c0", K.REPORT_LOSS, "D1"), Ev("c1", K.ANNUAL_REVIEW, "D1")])  # no due date
    assert led.status("c0").status is ST.EFFECTIVE


def test_a_worker_killed_between_send_and_record_does_not_anchor_twice(chain_ledger, w3):
    led = chain_ledger
    batch = items(prefix="k")
    root, _ = build(i.digest for i in batch)
    # the transaction went out, then the process died before anything was recorded
    led._send("D1", led.contract.functions.anchorBatch(root, type_code_id("T1"), len(batch)), "D1")
    head = w3.eth.block_number
    receipt = led.anchor_batch("D1", "T1", batch)   # the retry
    assert w3.eth.block_number == head               # nothing new was sent
    logs = led.contract.events.BatchAnchored().get_logs(from_block=0, argument_filters={"root": root})
    assert len(logs) == 1 and receipt.block == logs[0]["blockNumber"]
    assert led.status("k2").status is ST.EFFECTIVE
