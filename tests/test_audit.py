import pytest
from sqlalchemy import select, text

from issuance import audit
from issuance.models import AuditEntry
from issuance.models.audit import AppendOnlyError


def test_every_change_is_audited_with_actor_and_address(world):
    with world.uow() as uow:
        entries = uow.session.execute(select(AuditEntry).order_by(AuditEntry.id)).scalars().all()
        actions = [e.action for e in entries]
        assert "department.apply" in actions and "department.approve" in actions and "user.create" in actions
        approve = next(e for e in entries if e.action == "department.approve")
        assert approve.actor_name == "admin" and approve.ip == "127.0.0.1"
        assert audit.verify_chain(uow.session).ok


def test_audit_entries_cannot_be_changed_or_deleted_through_the_orm(world):
    with world.uow() as uow:
        e = uow.session.execute(select(AuditEntry).limit(1)).scalar_one()
        e.action = "forged"
        with pytest.raises(AppendOnlyError):
            uow.session.flush()
    with world.uow() as uow:
        e = uow.session.execute(select(AuditEntry).limit(1)).scalar_one()
        uow.session.delete(e)
        with pytest.raises(AppendOnlyError):
            uow.session.flush()


@pytest.mark.parametrize("statement, which, words", [
    ("update audit_log set detail = '{\"forged\": 1}' where id = :i", 2, "changed"),
    ("delete from audit_log where id = :i", 3, "missing"),
])
def test_tampering_behind_the_orm_is_detected(world, statement, which, words):
    with world.uow() as uow:
        ids = uow.session.execute(select(AuditEntry.id).order_by(AuditEntry.id)).scalars().all()
        uow.session.execute(text(statement), {"i": ids[which]})
        uow.commit()
    with world.uow() as uow:
        report = audit.verify_chain(uow.session)
    # a changed entry is reported itself; after a deleted one, the next entry's link breaks
    reported = ids[which] if words == "changed" else ids[which + 1]
    assert not report.ok and f"audit entry {reported}" in report.problem and words in report.problem


def test_removing_the_newest_entry_is_detected(world):
    with world.uow() as uow:
        last = uow.session.execute(select(AuditEntry.id).order_by(AuditEntry.id.desc()).limit(1)).scalar_one()
        uow.session.execute(text("delete from audit_log where id = :i"), {"i": last})
        uow.commit()
    with world.uow() as uow:
        report = audit.verify_chain(uow.session)
    assert not report.ok and f"audit entry {last}: missing" in report.problem


def test_concurrent_writers_keep_one_chain(world):
    """Writers in parallel threads, each in its own transaction: the chain must not fork."""
    import threading

    from sqlalchemy.exc import OperationalError

    errors = []

    def writer(n):
        for i in range(15):
            for attempt in range(50):  # SQLite refuses a stale writer (busy); it retries
                try:
                    with world.uow() as uow:
                        audit.record(uow.session, world.clerk, "test.concurrent", "test", n * 100 + i)
                        uow.commit()
                    break
                except OperationalError:
                    continue
            else:
                errors.append((n, i))

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with world.uow() as uow:
        report = audit.verify_chain(uow.session)
        n = uow.session.execute(text("select count(*) from audit_log where action = 'test.concurrent'")).scalar()
    assert report.ok, report.problem
    assert n == 60
