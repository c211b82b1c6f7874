"""LocalLedger on a real LevelDB: anchoring, lifecycle events, history, refusals, atomicity."""

import os
import subprocess
import sys
import threading
from datetime import date, datetime, timezone

import pytest

from ledger import AnchorItem, EventKind as K, LedgerError, LedgerStatus as ST, LifecycleEvent as Ev
from ledger.local import LocalLedger
from ledger.local.check import check_log
from ledger.merkle import merkle_root

from .conftest import anchor


def test_issuers_register_suspend_and_come_back(store):
    assert store.issuer_info("D1").type_codes == {"T1", "T3"} and store.issuer_info("D1").active
    assert store.issuer_info("nobody") is None
    store.suspend_issuer("D2")
    assert not store.issuer_info("D2").active
    info = store.register_issuer("D2", "大庆市市场监督管理局", ["T2", "T4"])
    assert info.active and info.type_codes == {"T2", "T4"}
    with pytest.raises(LedgerError, match="not registered"):
        store.suspend_issuer("nobody")
    assert store.head() == 4  # every registry change is an entry of the log


def test_anchor_makes_effective_proofs_verify_and_receipt_points_at_the_log(store):
    before = store.head()
    items, r = anchor(store, n=5)
    assert r.block == before + 1 == store.head() and r.ref == f"local:{r.block}"
    assert r.root == merkle_root(i.digest for i in items)
    assert r.at.tzinfo is timezone.utc and abs((datetime.now(timezone.utc) - r.at).total_seconds()) < 60
    for it in items:
        st = store.status(it.certificate_id)
        assert (st.status, st.issuer, st.digest, st.root) == (ST.EFFECTIVE, "D1", it.digest, r.root)
        assert st.issued_block == st.last_block == r.block and st.next_review_due is None
        assert store.verify_inclusion(it.digest, r.proofs[it.certificate_id], r.root)
    info = store.root_info(r.root)
    assert (info.root, info.issuer, info.type_code, info.count, info.block, info.at) == (r.root, "D1", "T1", 5, r.block, r.at)
    # a proof into a root that was never anchored, and a wrong digest, are both refused
    other = AnchorItem("x", os.urandom(32))
    assert not store.verify_inclusion(other.digest, [], other.digest)
    assert not store.verify_inclusion(other.digest, r.proofs["c0"], r.root)
    assert store.root_info(os.urandom(32)) is None and store.status("nope") is None


def test_status_after_each_event_kind(store):
    anchor(store)
    due = date(2027, 3, 1)
    rec = store.record_event(Ev("c0", K.ANNUAL_REVIEW, "D1", actor="王审核", next_review_due=due))
    st = store.status("c0")
    assert (st.status, st.next_review_due, st.last_block) == (ST.EFFECTIVE, due, rec.block)
    assert rec.ref == f"local:{rec.block}" and rec.kind is K.ANNUAL_REVIEW
    store.record_event(Ev("c0", K.REPORT_LOSS, "D1", reason="遗失"))
    assert store.status("c0").status is ST.LOST
    store.record_event(Ev("c0", K.REVOKE, "D1", reason="注销"))
    assert store.status("c0").status is ST.REVOKED and store.status("c0").next_review_due == due
    new_digest = os.urandom(32)
    store.record_event(Ev("c1", K.CHANGE, "D1", superseded_by="c1-v2", superseded_by_digest=new_digest))
    st = store.status("c1")
    assert st.status is ST.SUPERSEDED and st.superseded_by == "c1-v2"
    store.record_event(Ev("c2", K.REVOKE, "D1"))  # straight from effective
    assert store.status("c2").status is ST.REVOKED
    store.record_event(Ev("c3", K.REPORT_LOSS, "D1"))
    store.record_event(Ev("c3", K.CHANGE, "D1", superseded_by="c3-v2"))  # a lost certificate replaced
    assert store.status("c3").status is ST.SUPERSEDED


def test_history_is_oldest_first_and_linked(store):
    items, r = anchor(store)
    anchor(store, prefix="other")  # entries of other certificates in between
    store.record_events([Ev("c0", K.ANNUAL_REVIEW, "D1", actor="王审核", next_review_due=date(2027, 3, 1)),
                         Ev("c1", K.REPORT_LOSS, "D1"),
                         Ev("c0", K.REPORT_LOSS, "D1", reason="遗失")])  # two of c0 in one call
    store.record_event(Ev("other1", K.REVOKE, "D1"))
    d = os.urandom(32)
    store.record_event(Ev("c0", K.CHANGE, "ADMIN", actor="管理员", superseded_by="c0-v2", superseded_by_digest=d))
    hist = store.history("c0")
    assert [e.kind for e in hist] == [K.ISSUE, K.ANNUAL_REVIEW, K.REPORT_LOSS, K.CHANGE]
    assert [e.prev_block for e in hist] == [0] + [e.block for e in hist[:-1]]
    assert all(e.ref == f"local:{e.block}" and e.certificate_id == "c0" for e in hist)
    issue = hist[0]
    assert (issue.block, issue.digest, issue.root, issue.issuer) == (r.block, items[0].digest, r.root, "D1")
    assert issue.at == r.at
    assert hist[1].actor == "王审核" and hist[1].next_review_due == date(2027, 3, 1)
    assert hist[2].reason == "遗失"
    assert (hist[3].issuer, hist[3].superseded_by, hist[3].superseded_by_digest) == ("ADMIN", "c0-v2", d)
    assert store.history("c0")[-1].block == store.status("c0").last_block
    assert [e.kind for e in store.history("c3")] == [K.ISSUE] and store.history("nothing") == []


# --- refusals ----------------------------------------------------------------------------------

@pytest.mark.parametrize("issuer, type_code, items, why", [
    ("NOPE", "T1", [AnchorItem("x", bytes(32))], "not an active registered issuer"),
    ("D1", "T2", [AnchorItem("x", bytes(32))], "may not issue type T2"),
    ("D1", "T1", [], "at least one certificate"),
    ("D1", "T1", [AnchorItem("x", bytes(32)), AnchorItem("x", b"1" * 32)], "twice"),
    ("D1", "T1", [AnchorItem("x", bytes(32)), AnchorItem("y", b"short")], "32 bytes"),
])
def test_anchor_refusals(store, issuer, type_code, items, why):
    head = store.head()
    with pytest.raises(LedgerError, match=why):
        store.anchor_batch(issuer, type_code, items)
    assert store.head() == head and store.status("x") is None


def test_anchor_refuses_a_certificate_already_on_the_ledger_and_writes_nothing(store):
    anchor(store)
    head = store.head()
    with pytest.raises(LedgerError, match="c2 is already on the ledger"):
        store.anchor_batch("D1", "T1", [AnchorItem("new1", os.urandom(32)), AnchorItem("c2", os.urandom(32))])
    assert store.head() == head and store.status("new1") is None


def test_a_suspended_issuer_cannot_anchor_until_registered_again(store):
    store.suspend_issuer("D1")
    with pytest.raises(LedgerError, match="not an active"):
        anchor(store)
    store.register_issuer("D1", "again", ["T1"])
    anchor(store)


@pytest.mark.parametrize("events, why", [
    ([Ev("zz", K.REVOKE, "D1")], "zz is not on the ledger"),
    ([Ev("c0", K.REVOKE, "D2")], "D2 is not the issuer of certificate c0"),
    ([Ev("c0", K.ISSUE, "D1")], "written by anchor_batch"),
    ([Ev("c0", K.ANNUAL_REVIEW, "D1")], "next due date"),
    ([Ev("c0", K.CHANGE, "D1")], "identifier of the new version"),
    ([Ev("c0", K.CHANGE, "D1", superseded_by="v2", superseded_by_digest=b"x")], "32 bytes"),
    ([Ev("c0", K.REVOKE, "D1"), Ev("c0", K.REVOKE, "D1")], "revoked: no further events"),
    ([Ev("c0", K.REVOKE, "D1"), Ev("c0", K.REPORT_LOSS, "D1")], "revoked: no further events"),
    ([Ev("c0", K.CHANGE, "D1", superseded_by="v2"), Ev("c0", K.REVOKE, "ADMIN")], "superseded: no further events"),
    ([Ev("c0", K.CHANGE, "D1", superseded_by="v2"),
      Ev("c0", K.ANNUAL_REVIEW, "D1", next_review_due=date(2030, 1, 1))], "superseded: no further events"),
    ([Ev("c0", K.REPORT_LOSS, "D1"), Ev("c0", K.REPORT_LOSS, "D1")], "report_loss is not allowed when lost"),
    ([Ev("c0", K.REPORT_LOSS, "D1"),
      Ev("c0", K.ANNUAL_REVIEW, "D1", next_review_due=date(2030, 1, 1))], "annual_review is not allowed when lost"),
])
def test_event_refusals_write_nothing(store, events, why):
    anchor(store)
    head = store.head()
    with pytest.raises(LedgerError, match=why):
        store.record_events(events)
    assert store.head() == head and store.status("c0").status is ST.EFFECTIVE


def test_final_statuses_stay_final_across_calls(store):
    anchor(store)
    store.record_event(Ev("c0", K.REVOKE, "D1"))
    store.record_event(Ev("c1", K.CHANGE, "D1", superseded_by="c1-v2"))
    for cid in ("c0", "c1"):
        for ev in (Ev(cid, K.REVOKE, "ADMIN"), Ev(cid, K.REPORT_LOSS, "D1"),
                   Ev(cid, K.CHANGE, "D1", superseded_by="v3")):
            with pytest.raises(LedgerError, match="no further events"):
                store.record_event(ev)


def test_admins_may_act_on_any_certificate_even_when_its_issuer_is_suspended(store):
    anchor(store)
    store.suspend_issuer("D1")
    with pytest.raises(LedgerError, match="D1 is suspended"):
        store.record_event(Ev("c0", K.REPORT_LOSS, "D1"))
    store.record_event(Ev("c0", K.REVOKE, "ADMIN", reason="依法撤销"))
    assert store.status("c0").status is ST.REVOKED
    assert store.history("c0")[-1].issuer == "ADMIN"


def test_record_events_writes_all_or_nothing(store):
    anchor(store)
    head = store.head()
    before = {c: store.status(c) for c in ("c0", "c1", "c2")}
    with pytest.raises(LedgerError, match="D2 is not the issuer"):
        store.record_events([Ev("c0", K.REPORT_LOSS, "D1"), Ev("c1", K.REVOKE, "D1"), Ev("c2", K.REVOKE, "D2")])
    assert store.head() == head
    assert {c: store.status(c) for c in before} == before
    assert [e.kind for e in store.history("c0")] == [K.ISSUE]
    receipts = store.record_events([Ev("c0", K.REPORT_LOSS, "D1"), Ev("c1", K.REVOKE, "D1"), Ev("c0", K.REVOKE, "D1")])
    assert [r.block for r in receipts] == [head + 1, head + 2, head + 3] and store.head() == head + 3
    assert store.record_events([]) == [] and store.head() == head + 3
    assert check_log(store).ok


def test_reopen_after_close_finds_everything(tmp_path):
    path = tmp_path / "ledger"
    with LocalLedger(path) as s:
        s.register_issuer("D1", "d", ["T1"])
        items, r = anchor(s)
        s.record_event(Ev("c3", K.ANNUAL_REVIEW, "D1", next_review_due=date(2028, 1, 1)))
        s.record_event(Ev("c3", K.REPORT_LOSS, "D1"))
        head, hist, states = s.head(), s.history("c3"), [s.status(i.certificate_id) for i in items]
    with LocalLedger(path) as s:
        assert s.head() == head and s.history("c3") == hist
        assert [s.status(i.certificate_id) for i in items] == states
        assert s.root_info(r.root).count == 4 and s.issuer_info("D1").type_codes == {"T1"}
        assert s.verify_inclusion(items[0].digest, r.proofs["c0"], r.root)
        s.record_event(Ev("c3", K.REVOKE, "D1"))  # and it goes on from where it was
        assert s.head() == head + 1 and check_log(s).ok


def test_export_entries_gives_the_log_in_order(store):
    items, r = anchor(store, n=3)
    store.record_event(Ev("c1", K.CHANGE, "D1", superseded_by="c1-v2", superseded_by_digest=bytes(32)))
    entries = list(store.export_entries())
    assert [e["seq"] for e in entries] == [1, 2, 3, 4]
    assert [e["kind"] for e in entries] == ["issuer", "issuer", "batch", "change"]
    batch = entries[2]
    assert batch["root"] == "0x" + r.root.hex() and batch["count"] == 3
    assert batch["items"] == [[i.certificate_id, "0x" + i.digest.hex()] for i in items]
    assert entries[3]["prev_block"] == 3 and entries[3]["superseded_by_digest"] == "0x" + "00" * 32
    assert [e["seq"] for e in store.export_entries(start=3)] == [3, 4]


def test_a_second_opener_gets_one_clear_line(tmp_path):
    with LocalLedger(tmp_path / "ledger"):
        with pytest.raises(LedgerError) as err:
            LocalLedger(tmp_path / "ledger")
    assert str(err.value) == f"the ledger store at {tmp_path / 'ledger'} is in use by another process"
    LocalLedger(tmp_path / "ledger").close()  # free again once closed


def test_a_store_held_by_another_process_is_refused_in_one_line(tmp_path):
    path = tmp_path / "ledger"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, plyvel; db = plyvel.DB(sys.argv[1], create_if_missing=True); "
                               "print('open', flush=True); sys.stdin.read()", str(path)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "open"
        with pytest.raises(LedgerError) as err:
            LocalLedger(path)
        assert str(err.value) == f"the ledger store at {path} is in use by another process"
    finally:
        holder.communicate("", timeout=30)
    LocalLedger(path).close()


def test_concurrent_writers_keep_one_chain(store):
    anchor(store, n=200)
    errors = []

    def work(t):
        try:
            for i in range(t, 200, 4):
                store.record_event(Ev(f"c{i}", K.REPORT_LOSS, "D1"))
                store.anchor_batch("D1", "T3", [AnchorItem(f"t{t}-{i}", os.urandom(32))])
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert store.head() == 3 + 400
    assert check_log(store).ok
