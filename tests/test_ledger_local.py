"""The local store on a real LevelDB."""

import os
from datetime import date

import plyvel
import pytest

from ledger import AnchorItem, EventKind as K, LedgerError, LedgerStatus as ST, LifecycleEvent as Ev
from ledger.local import LocalLedger
from ledger.local import layout as L
from ledger.local.check import check_ledger, check_log


@pytest.fixture
def store(tmp_path):
    with LocalLedger(tmp_path / "ledger", admins=["ADMIN"]) as s:
        s.register_issuer("D1", "哈尔滨市市场监督管理局", ["T1"])
        s.register_issuer("D2", "大庆市市场监督管理局", ["T2"])
        yield s


def anchor(store, n=4, issuer="D1", type_code="T1", prefix="c"):
    items = [AnchorItem(f"{prefix}{i}", os.urandom(32)) for i in range(n)]
    return items, store.anchor_batch(issuer, type_code, items)


def test_anchor_marks_effective_and_proofs_verify(store):
    items, r = anchor(store)
    assert r.ref == f"local:{r.block}" and store.head() == r.block
    for it in items:
        st = store.status(it.certificate_id)
        assert st.status is ST.EFFECTIVE and st.digest == it.digest and st.root == r.root
        assert store.verify_inclusion(it.digest, r.proofs[it.certificate_id], r.root)
    info = store.root_info(r.root)
    assert (info.issuer, info.type_code, info.count) == ("D1", "T1", 4)
    assert not store.verify_inclusion(items[0].digest, r.proofs["c0"], os.urandom(32))


@pytest.mark.parametrize("issuer, type_code, items, why", [
    ("NOPE", "T1", [AnchorItem("x", bytes(32))], "not an active registered issuer"),
    ("D1", "T2", [AnchorItem("x", bytes(32))], "may not issue type"),
    ("D1", "T1", [], "at least one"),
    ("D1", "T1", [AnchorItem("x", bytes(32)), AnchorItem("x", b"1" * 32)], "twice"),
    ("D1", "T1", [AnchorItem("x", b"short")], "32 bytes"),
])
def test_anchor_refusals(store, issuer, type_code, items, why):
    head = store.head()
    with pytest.raises(LedgerError, match=why):
        store.anchor_batch(issuer, type_code, items)
    assert store.head() == head


def test_certificate_cannot_be_anchored_twice_and_suspended_issuer_cannot_anchor(store):
    anchor(store)
    with pytest.raises(LedgerError, match="already on the ledger"):
        store.anchor_batch("D1", "T1", [AnchorItem("c1", os.urandom(32))])
    store.suspend_issuer("D1")
    with pytest.raises(LedgerError, match="not an active"):
        anchor(store, prefix="z")
    store.register_issuer("D1", "again", ["T1"])
    anchor(store, prefix="z")


def test_each_event_kind_and_history_links(store):
    anchor(store)
    store.record_event(Ev("c0", K.ANNUAL_REVIEW, "D1", actor="王审核", next_review_due=date(2027, 3, 1)))
    assert store.status("c0").status is ST.EFFECTIVE and store.status("c0").next_review_due == date(2027, 3, 1)
    store.record_event(Ev("c0", K.REPORT_LOSS, "D1", reason="遗失"))
    assert store.status("c0").status is ST.LOST
    store.record_event(Ev("c0", K.REVOKE, "D1", reason="注销"))
    assert store.status("c0").status is ST.REVOKED
    store.record_event(Ev("c1", K.CHANGE, "D1", superseded_by="c1-v2", superseded_by_digest=os.urandom(32)))
    assert store.status("c1").status is ST.SUPERSEDED and store.status("c1").superseded_by == "c1-v2"
    hist = store.history("c0")
    assert [e.kind for e in hist] == [K.ISSUE, K.ANNUAL_REVIEW, K.REPORT_LOSS, K.REVOKE]
    assert [e.prev_block for e in hist] == [0] + [e.block for e in hist[:-1]]
    assert hist[2].reason == "遗失" and hist[1].actor == "王审核"
    assert store.history("nothing") == []


@pytest.mark.parametrize("events, why", [
    ([Ev("zz", K.REVOKE, "D1")], "not on the ledger"),
    ([Ev("c0", K.REVOKE, "D2")], "not the issuer"),
    ([Ev("c0", K.ANNUAL_REVIEW, "D1")], "next due date"),
    ([Ev("c0", K.CHANGE, "D1")], "identifier of the new version"),
    ([Ev("c0", K.REVOKE, "D1"), Ev("c0", K.REPORT_LOSS, "D1")], "no further events"),
    ([Ev("c0", K.REPORT_LOSS, "D1"), Ev("c0", K.ANNUAL_REVIEW, "D1", next_review_due=date(2030, 1, 1))], "not allowed when lost"),
    ([Ev("c0", K.ISSUE, "D1")], "written by anchor_batch"),
])
def test_event_refusals(store, events, why):
    anchor(store)
    with pytest.raises(LedgerError, match=why):
        store.record_events(events)


def test_admin_may_change_any_certificate(store):
    anchor(store)
    store.record_event(Ev("c2", K.REVOKE, "ADMIN", reason="依法撤销"))
    assert store.status("c2").status is ST.REVOKED


def test_record_events_is_atomic(store):
    anchor(store)
    head = store.head()
    with pytest.raises(LedgerError):
        store.record_events([Ev("c0", K.REPORT_LOSS, "D1"), Ev("c1", K.REVOKE, "D1"), Ev("c2", K.REVOKE, "D2")])
    assert store.head() == head
    assert {store.status(c).status for c in ("c0", "c1", "c2")} == {ST.EFFECTIVE}
    assert check_ledger(store).ok


def test_reopen_finds_everything(tmp_path):
    path = tmp_path / "ledger"
    with LocalLedger(path) as s:
        s.register_issuer("D1", "d", ["T1"])
        items, r = anchor(s)
        s.record_event(Ev("c3", K.REPORT_LOSS, "D1"))
        head = s.head()
    with LocalLedger(path) as s:
        assert s.head() == head and s.status("c3").status is ST.LOST
        assert s.root_info(r.root).count == 4 and len(s.history("c3")) == 2
        assert [e["kind"] for e in s.export_entries()] == ["issuer", "batch", "report_loss"]


def test_second_opener_gets_a_clear_error(tmp_path):
    with LocalLedger(tmp_path / "ledger"):
        with pytest.raises(LedgerError, match="in use by another process"):
            LocalLedger(tmp_path / "ledger")


# --- tampering, found by the check -------------------------------------------------------------

def filled(tmp_path):
    path = tmp_path / "ledger"
    with LocalLedger(path) as s:
        s.register_issuer("D1", "d", ["T1"])
        for b in range(3):
            anchor(s, prefix=f"b{b}-")
        for i in range(4):
            s.record_event(Ev(f"b1-{i}", K.REPORT_LOSS, "D1", reason=f"r{i}"))
    return path


def test_check_passes_on_an_intact_log(tmp_path):
    report = check_log(filled(tmp_path))
    assert report.ok and report.entries == 8


def test_check_finds_one_changed_byte(tmp_path):
    path = filled(tmp_path)
    db = plyvel.DB(str(path))
    raw = bytearray(db.get(L.log_key(6)))
    raw[-5] ^= 0x01
    db.put(L.log_key(6), bytes(raw))
    db.close()
    report = check_log(path)
    assert not report.ok and report.seq == 6 and "hash mismatch" in report.first_problem


def test_check_finds_a_rewritten_entry_with_a_recomputed_hash(tmp_path):
    path = filled(tmp_path)
    db = plyvel.DB(str(path))
    raw = db.get(L.log_key(5))
    body = raw[32:].replace(b'"r0"', b'"xx"')
    prev = db.get(L.log_key(4))[:32]
    db.put(L.log_key(5), L.seal(prev, body) + body)  # consistent itself, but breaks the next link
    db.close()
    report = check_log(path)
    assert not report.ok and report.seq == 6


def test_check_finds_a_deleted_entry(tmp_path):
    path = filled(tmp_path)
    db = plyvel.DB(str(path))
    db.delete(L.log_key(4))
    db.close()
    report = check_log(path)
    assert not report.ok and report.seq == 4 and "missing" in report.first_problem


def test_check_finds_a_truncated_log_and_a_changed_head(tmp_path):
    path = filled(tmp_path)
    db = plyvel.DB(str(path))
    db.delete(L.log_key(8))
    db.close()
    report = check_log(path)
    assert not report.ok and "missing" in report.first_problem and report.seq == 8
    path2 = filled(tmp_path / "two")
    db = plyvel.DB(str(path2))
    db.put(L.HEAD, L.pack_head(8, bytes(32)))
    db.close()
    report = check_log(path2)
    assert not report.ok and report.first_problem.startswith("head")


def test_check_finds_a_status_pointing_nowhere(tmp_path):
    path = filled(tmp_path)
    db = plyvel.DB(str(path))
    db.put(L.status_key("ghost"), L.encode({"status": "effective", "last_block": 3}))
    db.close()
    report = check_log(path)
    assert not report.ok and "ghost" in report.first_problem
