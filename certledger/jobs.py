"""Periodic jobs in a background thread: the scheduled work of a long-running process.

`certledger serve` runs the annual-review overdue check this way; the web app or other jobs can
reuse it. There is no scheduler dependency: one daemon thread per job, sleeping on an Event so
that ``stop()`` ends it at once instead of after the interval (and a hung run never keeps the
process from exiting). Each run is logged in one line with what the job returned. A run that
raises is logged and the schedule goes on, so a database that is briefly down does not end the
job for the rest of the process's life.

Jobs must be idempotent: a deployment may run several processes, each with its own schedule.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Callable

log = logging.getLogger("certledger.jobs")
MAX_ERROR_TEXT = 200


def _summary(exc: BaseException) -> str:
    """The exception's class and first line only: later lines (SQL parameters) may hold data."""
    first = (str(exc).strip().splitlines() or [""])[0][:MAX_ERROR_TEXT]
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


class PeriodicJob:
    """Runs ``work`` at start and then every ``interval`` seconds until ``stop()``.

    ``work`` returns the one-line summary to log (counts, never data or secrets).
    """

    def __init__(self, name: str, interval: float, work: Callable[[], str], logger: logging.Logger = log) -> None:
        if interval <= 0:
            raise ValueError(f"job {name}: the interval must be positive (a disabled job is not started)")
        self.name = name
        self.interval = float(interval)
        self._work = work
        self._log = logger
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._done = threading.Condition()
        self.runs = 0        # runs finished, failed ones included
        self.failures = 0
        self.last_error = ""

    def start(self) -> None:
        """Start the thread; the first run happens right away."""
        if self._thread is not None:
            raise RuntimeError(f"job {self.name} was already started")
        self._thread = threading.Thread(target=self._loop, name=f"job-{self.name}", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> bool:
        """Ask the thread to end and wait for a run in progress; whether the thread has ended."""
        self._stopping.set()
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def alive(self) -> bool:
        """Whether the thread runs (started and not yet ended)."""
        return self._thread is not None and self._thread.is_alive()

    def wait_for_runs(self, count: int, timeout: float) -> bool:
        """Block until ``count`` runs have finished (or ``timeout`` passed); whether they have."""
        with self._done:
            return self._done.wait_for(lambda: self.runs >= count, timeout)

    def run_once(self) -> bool:
        """One run, logged; an exception is logged and swallowed so the schedule continues."""
        started = time.monotonic()
        try:
            summary = self._work()
        except Exception as exc:  # noqa: BLE001 -- any failure of one run must leave the next one scheduled
            ok, self.last_error = False, _summary(exc)
            self._log.error("job %s failed after %.2f s (%s); next run in %g s", self.name,
                            time.monotonic() - started, self.last_error, self.interval)
            self._log.debug("job %s failure", self.name, exc_info=True)
        else:
            ok = True
            self._log.info("job %s: %s (%.2f s)", self.name, summary, time.monotonic() - started)
        with self._done:
            self.runs += 1
            if not ok:
                self.failures += 1
            self._done.notify_all()
        return ok

    def _loop(self) -> None:
        while not self._stopping.is_set():
            self.run_once()
            self._stopping.wait(self.interval)
