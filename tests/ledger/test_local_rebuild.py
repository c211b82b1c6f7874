"""The indexes are derived: dropped or damaged, they are rebuilt from the log byte for byte."""

import os
from datetime import date

import orjson
import plyvel
import pytest

from ledger import EventKind as K, LedgerError, LifecycleEvent as Ev
from ledger.local import LocalLedger
from ledger.local import layout as L
from ledger.local.check import check_log
from ledger.local.rebuild import rebuild

from .conftest import anchor

INDEXES = (L.STATUS, L.ROOT, L.ISSUER)


def indexes(db) -> dict[bytes, bytes]:
    return {k: v for prefix in INDEXES for k, v in db.iterator(prefix=prefix)}


@pytest.fixture
def busy(store):
    for b in range(3):
        anchor(store, n=5, prefix=f"b{b}-")
    store.suspend_issuer("D2")
    store.record_events([Ev("b0-0", K.ANNUAL_REVIEW, "D1", next_review_due=date(2027, 1, 1)),
                         Ev("b0-0", K.REPORT_LOSS, "D1"), Ev("b1-1", K.CHANGE, "D1", superseded_by="v2",
                                                                superseded_by_digest=os.urandom(32))])
    store.record_event(Ev("b0-0", K.REVOKE, "ADMIN"))
    store.register_issuer("D2", "again", ["T2", "T5"])
    return store


def test_dropped_indexes_come_back_identical(busy):
    before = indexes(busy.db)
    head, hist = busy.head(), busy.history("b0-0")
    with busy.db.write_batch() as wb:
        for key in before:
            wb.delete(key)
    assert busy.status("b0-0") is None
    assert busy.rebuild_indexes() == head
    assert indexes(busy.db) == before
    assert busy.history("b0-0") == hist and busy.head() == head and check_log(busy).ok


def test_a_damaged_status_is_repaired_and_stray_records_go(busy):
    before = indexes(busy.db)
    busy.db.put(L.status_key("b2-0"), L.encode({"status": "revoked"}))
    busy.db.put(L.status_key("ghost"), L.encode({"status": "effective", "issued_block": 3, "last_block": 3}))
    assert not check_log(busy).ok
    busy.rebuild_indexes()
    assert indexes(busy.db) == before and check_log(busy).ok


def test_rebuild_in_small_chunks_gives_the_same_indexes(busy, tmp_path):
    before = indexes(busy.db)
    assert rebuild(busy.db, chunk=2) == busy.head()
    assert indexes(busy.db) == before


def test_a_log_whose_links_disagree_is_refused(tmp_path):
    path = tmp_path / "ledger"
    with LocalLedger(path) as s:
        s.register_issuer("D1", "d", ["T1"])
        anchor(s)
        s.record_event(Ev("c0", K.REPORT_LOSS, "D1"))
        s.record_event(Ev("c0", K.REVOKE, "D1"))
    db = plyvel.DB(str(path))
    entry = orjson.loads(db.get(L.log_key(4))[32:])
    entry["prev_block"] = 2  # skips the loss report
    body = L.encode(entry)
    db.put(L.log_key(4), L.seal(db.get(L.log_key(3))[:32], body) + body)
    with pytest.raises(LedgerError, match="entry 4: links to 2, but the certificate's previous event is 3"):
        rebuild(db)
    db.close()
