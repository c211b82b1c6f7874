"""Scheduled jobs: the periodic runner (certledger.jobs) and the overdue check `certledger serve`
runs with it, on real data directories with certificates issued through the real review steps
and the local ledger store; `serve` itself as a real process."""

from __future__ import annotations

import logging
import os
import re
import selectors
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from certledger.cli.serve_cmd import outbox_job, overdue_job, start_jobs
from certledger.config import load_settings
from certledger.jobs import PeriodicJob
from certledger.runtime import Platform
from issuance.models import AuditEntry, CertificateStatus as S
from tests.conftest import FAST_HASHING
from tests.test_lifecycle import audit_chain_ok, effective, load, make_type

BIN = Path(sys.executable).with_name("certledger")
PAST_DUE = "2024-06-01"
FUTURE_DUE = "2099-01-01"


@pytest.fixture
def annual(world):
    return make_type(world, "ANNUAL01", annual_review=True)


def overdue_entries(world, cert_id: int) -> int:
    with world.uow() as uow:
        return uow.session.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action == "certificate.review_overdue", AuditEntry.subject_id == cert_id))


def test_the_runner_marks_a_past_due_certificate_overdue_once_and_logs_each_run(world, annual, caplog):
    late = effective(world, annual, 1, next_review_due=PAST_DUE)
    fine = effective(world, annual, 2, next_review_due=FUTURE_DUE)
    caplog.set_level(logging.INFO, logger="certledger.jobs")
    job = PeriodicJob("overdue", 0.05, overdue_job(world.platform))
    job.start()
    try:
        assert job.wait_for_runs(3, timeout=30)
    finally:
        assert job.stop()
    assert load(world, late.id).status is S.REVIEW_OVERDUE and load(world, fine.id).status is S.EFFECTIVE
    assert overdue_entries(world, late.id) == 1  # later runs find nothing left to change
    lines = [r.getMessage() for r in caplog.records if r.name == "certledger.jobs"]
    assert len(lines) == job.runs and job.failures == 0
    assert lines[0].startswith("job overdue: marked 1 certificate(s) review_overdue (")
    assert all(line.startswith("job overdue: marked 0 certificate(s)") for line in lines[1:])
    audit_chain_ok(world)


def test_stop_ends_the_thread_without_waiting_for_the_interval():
    runs = []
    job = PeriodicJob("tick", 3600, lambda: runs.append(1) or "ticked")
    job.start()
    assert job.wait_for_runs(1, timeout=10) and job.alive
    started = time.monotonic()
    assert job.stop(timeout=10)
    assert time.monotonic() - started < 5 and not job.alive and runs == [1]
    time.sleep(0.2)
    assert runs == [1]  # stopped means no further run


def test_an_exception_in_one_run_is_logged_in_one_line_and_the_next_run_still_happens(caplog):
    outcomes = iter([RuntimeError("database is away\n[parameters: ('holder-secret',)]"), "fine", ValueError(), "fine"])

    def flaky() -> str:
        outcome = next(outcomes)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    caplog.set_level(logging.INFO, logger="certledger.jobs")
    job = PeriodicJob("flaky", 0.02, flaky)
    job.start()
    try:
        assert job.wait_for_runs(4, timeout=30)
    finally:
        job.stop()
    assert job.failures == 2 and job.alive is False
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert errors[0].startswith("job flaky failed after") and "RuntimeError: database is away" in errors[0]
    assert "ValueError" in errors[1]
    assert not any("holder-secret" in r.getMessage() for r in caplog.records)  # first line only
    assert [r.getMessage().split(" (")[0] for r in caplog.records if r.levelno == logging.INFO][:2] == [
        "job flaky: fine", "job flaky: fine"]


def test_an_interval_must_be_positive():
    with pytest.raises(ValueError, match="must be positive"):
        PeriodicJob("never", 0, lambda: "")


def test_two_processes_running_the_job_at_once_change_each_certificate_once(world, annual, data_dir):
    """Two serve processes, two schedules: each a platform of its own on the same data directory."""
    late = [effective(world, annual, seed, next_review_due=PAST_DUE) for seed in (1, 2, 3)]
    other = Platform(load_settings(data_dir, environ=FAST_HASHING))
    try:
        runs = [overdue_job(world.platform), overdue_job(other)]
        barrier = threading.Barrier(len(runs))
        results: list[str] = []
        failures: list[BaseException] = []

        def run(work) -> None:
            barrier.wait()
            try:
                results.append(work())
            except Exception as exc:  # the runner would log it and try again later: harmless too
                failures.append(exc)

        threads = [threading.Thread(target=run, args=(w,)) for w in runs]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    finally:
        other.close()
    assert failures == []
    assert sorted(int(re.match(r"marked (\d+)", r)[1]) for r in results) == [0, 3]
    for c in late:
        assert load(world, c.id).status is S.REVIEW_OVERDUE and overdue_entries(world, c.id) == 1
    audit_chain_ok(world)


def test_the_outbox_job_sends_what_lifecycle_actions_queued(world, annual):
    from issuance import lifecycle
    from ledger import LedgerStatus

    c = effective(world, annual, 1, next_review_due=FUTURE_DUE)
    with world.uow() as uow:
        lifecycle.report_loss(uow, world.clerk, c.id, "遗失")
        uow.commit()
    assert world.platform.ledger.status(c.identifier).status is LedgerStatus.EFFECTIVE  # queued, not sent
    assert outbox_job(world.platform)() == "sent 0 anchor(s), 1 event(s); 0 waiting"
    assert world.platform.ledger.status(c.identifier).status is LedgerStatus.LOST
    assert outbox_job(world.platform)() == "sent 0 anchor(s), 0 event(s); 0 waiting"


def test_serve_starts_only_the_jobs_the_settings_enable(data_dir):
    for overdue, outbox, expected in (("0", "0", []), ("3600", "0", ["overdue"]), ("0", "3600", ["ledger-outbox"]),
                                      ("3600", "3600", ["overdue", "ledger-outbox"])):
        platform = Platform(load_settings(data_dir, environ={"CERTLEDGER_JOBS__OVERDUE_INTERVAL_SECONDS": overdue,
                                                             "CERTLEDGER_JOBS__OUTBOX_INTERVAL_SECONDS": outbox}))
        jobs = start_jobs(platform)
        try:
            assert [j.name for j in jobs] == expected and all(j.alive for j in jobs)
            assert all(j.interval == 3600 for j in jobs)
        finally:
            assert all(j.stop() for j in jobs)
            platform.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _read_until(proc: subprocess.Popen, pattern: str, timeout: float) -> str:
    """Stderr of ``proc`` up to the first line holding ``pattern``; fails on timeout or exit."""
    seen = []
    sel = selectors.DefaultSelector()
    sel.register(proc.stderr, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if sel.select(timeout=0.5):
            line = proc.stderr.readline()
            if not line:
                break
            seen.append(line)
            if pattern in line:
                return "".join(seen)
        elif proc.poll() is not None:
            break
    raise AssertionError(f"no line with {pattern!r}; stderr so far:\n{''.join(seen)}")


def _run_until_then_terminate(data_dir, args: list[str], pattern: str, **env_over: str) -> str:
    """Run ``certledger ARGS`` until its log shows ``pattern``, then SIGTERM: it must end with 0."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CERTLEDGER_", "BECP_"))}
    env.update(env_over)
    proc = subprocess.Popen([str(BIN), "--data-dir", str(data_dir), *args],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
    try:
        log = _read_until(proc, pattern, timeout=60)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        return log
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_serve_runs_the_overdue_job_at_start_and_stops_it_on_sigterm(world, annual, data_dir):
    late = effective(world, annual, 1, next_review_due=PAST_DUE)
    world.platform.close()  # the served process takes the local store's lock
    log = _run_until_then_terminate(data_dir, ["serve", "--port", str(_free_port())], "job overdue:",
                                    CERTLEDGER_JOBS__OVERDUE_INTERVAL_SECONDS="3600")
    assert "INFO certledger.jobs: job overdue: marked 1 certificate(s) review_overdue" in log
    assert load(world, late.id).status is S.REVIEW_OVERDUE and overdue_entries(world, late.id) == 1



def test_the_jobs_command_holds_the_ledger_sends_queued_events_and_ends_on_sigterm(world, annual, data_dir):
    from issuance import lifecycle
    from ledger import LedgerStatus

    c = effective(world, annual, 1, next_review_due=FUTURE_DUE)
    with world.uow() as uow:
        lifecycle.revoke(uow, world.clerk, c.id, "注销")
        uow.commit()
    world.platform.close()  # the jobs process takes the local store's lock
    log = _run_until_then_terminate(data_dir, ["jobs"], "job ledger-outbox:")
    assert "job ledger-outbox: sent 0 anchor(s), 1 event(s); 0 waiting" in log
    assert world.platform.ledger.status(c.identifier).status is LedgerStatus.REVOKED
