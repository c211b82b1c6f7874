"""The integrity walk finds the first changed, missing or malformed entry, and passes an intact log."""

import os
import threading

import orjson
import plyvel
import pytest

from ledger import AnchorItem, EventKind as K, LifecycleEvent as Ev
from ledger.local import LocalLedger
from ledger.local import layout as L
from ledger.local.check import check_log

from .conftest import anchor


@pytest.fixture
def filled(tmp_path):
    """A closed store of 12 entries: 2 issuers, 3 batches (entries 3-5), 7 events (entries 6-12)."""
    path = tmp_path / "ledger"
    with LocalLedger(path) as s:
        s.register_issuer("D1", "d1", ["T1"])
        s.register_issuer("D2", "d2", ["T2"])
        for b in range(3):
            anchor(s, prefix=f"b{b}-")
        for i in range(4):
            s.record_event(Ev(f"b1-{i}", K.REPORT_LOSS, "D1", reason=f"r{i}"))
        s.record_events([Ev("b0-0", K.REVOKE, "D1"), Ev("b0-1", K.REVOKE, "D1"), Ev("b1-0", K.REVOKE, "D1")])
        assert s.head() == 12
    return path


def raw_db(path):
    return plyvel.DB(str(path))


def reseal_from(db, seq: int, body: bytes) -> None:
    """Write ``body`` as entry ``seq`` and redo every later hash and the head, as a careful forger would."""
    prev = db.get(L.log_key(seq - 1))[:32] if seq > 1 else L.GENESIS_HASH
    while body is not None:
        h = L.seal(prev, body)
        db.put(L.log_key(seq), h + body)
        prev, seq = h, seq + 1
        nxt = db.get(L.log_key(seq))
        if nxt is None:
            break
        entry = orjson.loads(nxt[32:])
        entry["prev_hash"] = "0x" + prev.hex()
        body = L.encode(entry)
    db.put(L.HEAD, L.pack_head(seq - 1, prev))


def test_an_intact_log_passes(filled):
    report = check_log(filled)
    assert report.ok and report.entries == 12 and report.first_problem is None and report.seq is None


def test_an_empty_store_passes(tmp_path):
    assert check_log(tmp_path / "empty").ok


@pytest.mark.parametrize("seq, offset", [(1, 40), (4, -3), (7, 50), (12, -2), (9, 0)])
def test_one_changed_byte_is_found_at_its_entry(filled, seq, offset):
    db = raw_db(filled)
    raw = bytearray(db.get(L.log_key(seq)))
    raw[offset] ^= 0x01  # offset 0 is in the stored hash itself
    db.put(L.log_key(seq), bytes(raw))
    db.close()
    report = check_log(filled)
    assert not report.ok and report.seq == seq and report.entries == seq - 1
    assert report.first_problem == f"entry {seq}: hash mismatch: its content or its hash was changed"


def test_a_rewritten_entry_with_its_own_hash_redone_breaks_the_next_link(filled):
    db = raw_db(filled)
    body = db.get(L.log_key(6))[32:].replace(b'"r0"', b'"xx"')
    db.put(L.log_key(6), L.seal(db.get(L.log_key(5))[:32], body) + body)
    db.close()
    report = check_log(filled)
    assert not report.ok and report.seq == 7 and "hash mismatch" in report.first_problem


def test_a_forger_who_redoes_every_hash_is_still_caught_by_the_entry_shape(filled):
    db = raw_db(filled)
    entry = orjson.loads(db.get(L.log_key(8))[32:])
    del entry["prev_block"]
    reseal_from(db, 8, L.encode(entry))
    db.close()
    report = check_log(filled)
    assert not report.ok and report.seq == 8
    assert report.first_problem == "entry 8: not a well-formed entry: field prev_block missing or of the wrong type"


@pytest.mark.parametrize("change, problem", [
    (lambda e: e.update(kind="mint"), "unknown kind 'mint'"),
    (lambda e: e.update(prev_block=8), "does not point back"),
    (lambda e: e.update(at="yesterday"), "not an ISO date-time"),
    (lambda e: e.update(seq=True), "its sequence number or link"),
])
def test_malformed_but_resealed_entries(filled, change, problem):
    db = raw_db(filled)
    entry = orjson.loads(db.get(L.log_key(8))[32:])
    change(entry)
    reseal_from(db, 8, L.encode(entry))
    db.close()
    report = check_log(filled)
    assert not report.ok and report.seq == 8 and problem in report.first_problem


def test_a_batch_whose_count_does_not_fit_is_malformed(filled):
    db = raw_db(filled)
    entry = orjson.loads(db.get(L.log_key(4))[32:])
    entry["items"].pop()
    reseal_from(db, 4, L.encode(entry))
    db.close()
    report = check_log(filled)
    assert not report.ok and report.seq == 4 and "count does not fit" in report.first_problem


def test_a_deleted_entry_in_the_middle_is_reported_missing(filled):
    db = raw_db(filled)
    db.delete(L.log_key(7))
    db.close()
    report = check_log(filled)
    assert not report.ok and report.seq == 7 and report.entries == 6
    assert report.first_problem == "entry 7: missing (the log jumps from 6 to 8)"


def test_the_last_entry_deleted_is_missing_by_the_head(filled):
    db = raw_db(filled)
    db.delete(L.log_key(12))
    db.close()
    report = check_log(filled)
    assert not report.ok and report.seq == 12 and "missing (the head says the log ends at 12)" in report.first_problem


@pytest.mark.parametrize("make_head", [
    lambda db: L.pack_head(12, bytes(32)),                   # right length, wrong hash
    lambda db: L.pack_head(11, db.get(L.log_key(11))[:32]),  # a consistent head, one entry short
    lambda db: L.pack_head(0, bytes(32)),                    # back to genesis
], ids=["hash", "one-short", "genesis"])
def test_a_changed_head_is_reported(filled, make_head):
    db = raw_db(filled)
    db.put(L.HEAD, make_head(db))
    db.close()
    report = check_log(filled)
    assert not report.ok and report.entries == 12 and report.first_problem.startswith("head: records entry")


def test_a_status_that_points_at_someone_elses_entry_is_reported(filled):
    db = raw_db(filled)
    state = orjson.loads(db.get(L.status_key("b2-3")))
    state["last_block"] = 6  # an event of b1-0
    db.put(L.status_key("b2-3"), L.encode(state))
    db.close()
    report = check_log(filled)
    assert not report.ok and report.first_problem.startswith("status of b2-3") and report.seq == 6


def test_a_status_pointing_past_the_log_or_malformed_is_reported(filled):
    db = raw_db(filled)
    db.put(L.status_key("ghost"), L.encode({"status": "effective", "issued_block": 3, "last_block": 99}))
    db.close()
    report = check_log(filled)
    assert not report.ok and "ghost" in report.first_problem and report.seq == 99
    db = raw_db(filled)
    db.put(L.status_key("ghost"), b"{not json")
    db.close()
    assert "status of ghost: not a well-formed record" == check_log(filled).first_problem


def test_checking_an_open_store_while_it_is_written_sees_one_consistent_state(store):
    anchor(store, n=300)
    done = threading.Event()

    def writer():
        for i in range(300):
            store.record_event(Ev(f"c{i}", K.REPORT_LOSS, "D1"))
            if i % 10 == 0:
                store.anchor_batch("D1", "T1", [AnchorItem(f"w{i}", os.urandom(32))])
        done.set()

    t = threading.Thread(target=writer)
    t.start()
    reports = []
    while not done.is_set():
        reports.append(check_log(store))
    t.join()
    reports.append(check_log(store))
    assert all(r.ok for r in reports), [r for r in reports if not r.ok][:1]
    assert reports[-1].entries == store.head() == 3 + 300 + 30
