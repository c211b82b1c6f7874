"""The usage record of every call, written in batches by a background thread of each server process.

Every call of the interface, served or refused, becomes one ``UsageRecord`` (用证记录). Writing
it in the request's own transaction would make every request a database write: on SQLite that is
the one writer lock, taken by each request in turn (with the driver's busy-wait sleeps between),
and it capped the interface at a few hundred requests per second. So a request only queues its
record (``add``), and one thread per process writes what waits, every 50 ms or 500 records, in
one transaction through ``issuance.usage.record_call``.

What this costs: a record reaches the database up to ~50 ms after its answer, and the records
still queued when a process is killed hard (SIGKILL, power loss) are lost; on a normal exit
(``atexit``) and on ``flush()`` (tests, shutdown) the queue is written out first. A batch that
fails is written again record by record, so a record the database refuses loses only itself; a
lost record is logged and the thread carries on.
"""

from __future__ import annotations

import atexit
import logging
import os
import queue
import threading
from typing import Any, Callable

log = logging.getLogger(__name__)

INTERVAL = 0.05
MAX_BATCH = 500


class Recorder:
    """Queues record fields (keyword arguments of ``usage.record_call``) and writes them in batches."""

    def __init__(self, session_factory: Callable[[], Any], interval: float = INTERVAL, max_batch: int = MAX_BATCH):
        self._factory = session_factory
        self._interval = interval
        self._max_batch = max_batch
        self._queue: queue.Queue[dict[str, Any]] = queue.Queue()
        self._pending = 0                      # queued or being written
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._pid = 0
        self.written = 0
        self.lost = 0
        atexit.register(self.flush)

    def add(self, fields: dict[str, Any]) -> None:
        with self._cond:
            self._pending += 1
        self._queue.put(fields)
        self._ensure_thread()

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until every queued record is written (or given up); False on timeout."""
        if self._pending and (self._thread is None or not self._thread.is_alive() or self._pid != os.getpid()):
            self._ensure_thread()
        with self._cond:
            return self._cond.wait_for(lambda: self._pending == 0, timeout)

    def _ensure_thread(self) -> None:
        # started lazily, and again after a fork (gunicorn workers): threads do not survive fork
        if self._thread is not None and self._thread.is_alive() and self._pid == os.getpid():
            return
        with self._cond:
            if self._thread is not None and self._thread.is_alive() and self._pid == os.getpid():
                return
            self._pid = os.getpid()
            self._thread = threading.Thread(target=self._run, name="sharing-usage-records", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            batch = [first]
            try:
                while len(batch) < self._max_batch:
                    batch.append(self._queue.get(timeout=self._interval))
            except queue.Empty:
                pass
            self._write(batch)
            with self._cond:
                self._pending -= len(batch)
                self._cond.notify_all()

    def _write(self, batch: list[dict[str, Any]]) -> None:
        """One transaction for the batch; if it fails, one per record, so one bad record loses only itself."""
        if self._commit(batch):
            return
        for fields in batch:
            if not self._commit([fields]):
                self.lost += 1
                log.error("sharing: a usage record of %s could not be written and is lost", fields.get("interface"))

    def _commit(self, batch: list[dict[str, Any]]) -> bool:
        from issuance import usage

        try:
            with self._factory() as session:
                for fields in batch:
                    usage.record_call(session, **fields)
                session.commit()
        except Exception:  # noqa: BLE001 - the thread must live on; the failure is logged
            log.exception("sharing: writing %d usage record(s) failed", len(batch))
            return False
        self.written += len(batch)
        return True
