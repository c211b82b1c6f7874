"""WSGI entry for production servers: ``gunicorn web.wsgi:app`` serves the data directory in $CERTLEDGER_DATA.

``certledger serve`` runs waitress in one process; behind gunicorn the same app is built here,
once per worker process, from ``$CERTLEDGER_DATA`` (else ``./data``, as for every command) with
its environment overrides. The ledger is opened at start, so a wrong mode or a LevelDB store
already locked by another process stops the worker at once instead of failing its first request.

The local LevelDB ledger store (``blockchain.enabled = false``) can be opened by one process
only: run it with ONE worker and threads, ``gunicorn -w 1 -k gthread --threads 8 web.wsgi:app``.
On the chain, workers that only answer questions (the sharing interface, verification) may be
several: with ``CERTLEDGER_WSGI_READ_ONLY_LEDGER=1`` each opens the read-only chain ledger
(``Platform(read_only_ledger=True)``: it follows the chain's logs itself instead of holding the
chain index) and runs no scheduled job; the issuing process (``certledger serve``) must be
running, with the node and the contracts.

Otherwise each worker also runs the platform's scheduled jobs (annual-review overdue check,
ledger outbox drain; see ``certledger.cli.serve_cmd``) unless ``CERTLEDGER_WSGI_JOBS=0``; the
platform and the jobs are closed when the worker exits.
"""

from __future__ import annotations

import atexit
import os
from pathlib import Path

from flask import Flask

from certledger.config import load_settings
from certledger.runtime import Platform

from .app import create_app


def _flag(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    return default if value is None else value.strip().lower() not in ("0", "false", "no", "off", "")


def build(data_dir: str | os.PathLike[str] | None = None, *, jobs: bool | None = None,
          read_only_ledger: bool | None = None) -> Flask:
    """The app of ``data_dir`` (default $CERTLEDGER_DATA, else ./data), its ledger open, its jobs running."""
    folder = Path(data_dir or os.environ.get("CERTLEDGER_DATA") or "data")
    read_only = _flag("CERTLEDGER_WSGI_READ_ONLY_LEDGER", False) if read_only_ledger is None else read_only_ledger
    platform = Platform(load_settings(folder), read_only_ledger=read_only)
    platform.ledger  # noqa: B018 - opened now: a locked local store or an unreachable chain stops start-up
    application = create_app(platform)
    running = []
    if not read_only and (jobs if jobs is not None else _flag("CERTLEDGER_WSGI_JOBS", True)):
        from certledger.cli.serve_cmd import start_jobs

        running = start_jobs(platform)

    def _close() -> None:
        for job in running:
            job.stop()
        platform.close()

    atexit.register(_close)
    return application


app = build()
