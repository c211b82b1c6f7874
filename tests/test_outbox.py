"""The ledger outbox over the local store: batching, proofs, recovery after a crash."""

import os
from datetime import date

from sqlalchemy import func, select

from issuance.anchoring import Worker, enqueue_anchor, enqueue_event
from issuance.models import OutboxItem
from ledger import EventKind as K, LedgerStatus as ST, LifecycleEvent as Ev
from ledger.merkle import build, verify_proof


def setup_issuer(platform):
    platform.ledger.register_issuer("D1", "哈尔滨市市场监督管理局", ["T1"])


def enqueue(platform, n, prefix="c"):
    with platform.session_factory() as s:
        for i in range(n):
            enqueue_anchor(s, f"{prefix}{i}", "D1", "T1", os.urandom(32))
        s.commit()


def states(platform):
    with platform.session_factory() as s:
        return dict(s.execute(select(OutboxItem.state, func.count()).group_by(OutboxItem.state)).all())


def test_drain_batches_anchors_and_events_with_proofs(platform):
    setup_issuer(platform)
    enqueue(platform, 2500)
    with platform.session_factory() as s:
        enqueue_event(s, Ev("c1", K.ANNUAL_REVIEW, "D1", next_review_due=date(2030, 1, 1)))
        enqueue_event(s, Ev("c2", K.REPORT_LOSS, "D1", reason="遗失"))
        s.commit()
    report = Worker(platform.session_factory, platform.ledger, max_batch=1000).drain()
    assert (report.anchored, report.events, report.waiting, report.error) == (2500, 2, 0, "")
    with platform.session_factory() as s:
        roots = s.scalars(select(OutboxItem.batch_root).where(OutboxItem.kind == "anchor").distinct()).all()
        assert len(roots) == 3  # 1000 + 1000 + 500
        item = s.scalars(select(OutboxItem).where(OutboxItem.certificate_id == "c1999")).one()
        assert verify_proof(bytes.fromhex(item.digest), [bytes.fromhex(p) for p in item.proof], bytes.fromhex(item.batch_root))
    assert platform.ledger.status("c2").status is ST.LOST
    assert platform.ledger.status("c1").next_review_due == date(2030, 1, 1)


def test_worker_killed_between_send_and_record_recovers_without_anchoring_twice(platform):
    from ledger import AnchorItem

    setup_issuer(platform)
    enqueue(platform, 10)
    with platform.session_factory() as s:  # what a worker does before it calls the ledger...
        items = s.scalars(select(OutboxItem).order_by(OutboxItem.id)).all()
        root, _ = build(bytes.fromhex(i.digest) for i in items)
        for i in items:
            i.state, i.batch_root = "sending", root.hex()
        s.commit()
        platform.ledger.anchor_batch("D1", "T1", [AnchorItem(i.certificate_id, bytes.fromhex(i.digest)) for i in items])
    head = platform.ledger.head()  # ...and then it died before recording the receipt
    report = Worker(platform.session_factory, platform.ledger).drain()
    assert report.recovered == 10 and platform.ledger.head() == head
    assert states(platform) == {"done": 10}


def test_items_sent_nowhere_are_sent_on_restart(platform):
    setup_issuer(platform)
    enqueue(platform, 5)
    with platform.session_factory() as s:  # marked 'sending', but the process died before the call
        items = s.scalars(select(OutboxItem)).all()
        root, _ = build(bytes.fromhex(i.digest) for i in items)
        for i in items:
            i.state, i.batch_root = "sending", root.hex()
        s.commit()
    assert Worker(platform.session_factory, platform.ledger).drain().recovered == 5
    assert states(platform) == {"done": 5} and platform.ledger.status("c4").status is ST.EFFECTIVE


def test_refused_items_wait_with_their_error(platform):
    enqueue(platform, 3)  # no issuer registered yet: the ledger refuses
    report = Worker(platform.session_factory, platform.ledger).drain()
    assert "not an active registered issuer" in report.error and report.waiting == 3
    assert states(platform) == {"pending": 3}
    setup_issuer(platform)
    assert Worker(platform.session_factory, platform.ledger).drain().anchored == 3
