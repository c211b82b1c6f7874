"""`certledger serve`: the web platform on one process (the local ledger store is single-process).

The process also runs the platform's scheduled jobs (``certledger.jobs``): the annual-review
overdue check at start and then every ``jobs.overdue_interval_seconds``, and the ledger outbox
drain every ``jobs.outbox_interval_seconds``. They start once the
port is bound (a server that cannot listen runs nothing) and stop before the platform closes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

import click

from .main import cli

if TYPE_CHECKING:
    from certledger.jobs import PeriodicJob
    from certledger.runtime import Platform


def overdue_job(platform: Platform) -> Callable[[], str]:
    """The work of the scheduled overdue check, in its own unit of work per run.

    ``mark_overdue`` is idempotent and safe when two processes run it together (rows locked
    FOR UPDATE on PostgreSQL, BEGIN IMMEDIATE on SQLite; an overdue certificate is no longer
    effective), so every serve process may schedule it.
    """

    def run() -> str:
        from issuance import lifecycle

        with platform.uow() as uow:
            count = lifecycle.mark_overdue(uow)
            uow.commit()
        return f"marked {count} certificate(s) review_overdue"

    return run


def outbox_job(platform: Platform) -> Callable[[], str]:
    """The work of the scheduled outbox drain: what the web app queued reaches the ledger.

    Lifecycle actions commit their ledger event to the outbox with the change itself; this sends
    them, and retries anchors and events held back while the ledger was unreachable.
    """

    def run() -> str:
        from issuance.anchoring import Worker

        report = Worker(platform.session_factory, platform.ledger).drain()
        if report.error:
            raise RuntimeError(f"ledger unavailable, {report.waiting} item(s) wait: {report.error}")
        return f"sent {report.anchored} anchor(s), {report.events} event(s); {report.waiting} waiting"

    return run


def start_jobs(platform: Platform) -> list[PeriodicJob]:
    """The scheduled jobs the settings enable, started; an interval of 0 disables a job."""
    from certledger.jobs import PeriodicJob

    jobs = []
    settings = platform.settings.jobs
    if settings.overdue_interval_seconds:
        jobs.append(PeriodicJob("overdue", settings.overdue_interval_seconds, overdue_job(platform)))
    if settings.outbox_interval_seconds:
        jobs.append(PeriodicJob("ledger-outbox", settings.outbox_interval_seconds, outbox_job(platform)))
    for job in jobs:
        job.start()
    return jobs


@cli.command("serve")
@click.option("--host", default=None, help="Interface to listen on (default from config: 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port (default from config: 8000).")
@click.option("--threads", type=int, default=8, show_default=True)
@click.pass_obj
def serve(state, host: str | None, port: int | None, threads: int) -> None:
    """Serve the platform with waitress until interrupted; run the scheduled jobs meanwhile."""
    import logging
    import signal

    from waitress import create_server

    from web.app import create_app

    settings = state.settings
    logging.basicConfig(level=settings.logging.level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    state.platform.ledger  # open the ledger now: a wrong mode or a locked store stops start-up here
    app = create_app(state.platform)
    host = host or settings.server.host
    port = port or settings.server.port
    if (host, port) != (settings.server.host, settings.server.port):
        # what this server is reached at, for the QR codes it puts on documents (unless public_url says)
        settings = settings.model_copy(update={"server": settings.server.model_copy(update={"host": host,
                                                                                               "port": port})})
        state.platform.settings = settings
    try:
        server = create_server(app, host=host, port=port, threads=threads, ident="CertLedger")
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    click.echo(f"CertLedger serving on http://{host}:{port}  (data: {state.data_dir}, "
               f"ledger: {'chain' if settings.blockchain.enabled else 'local store'})")

    def _terminate(*_):  # SIGTERM ends like Ctrl-C: the platform closes, and stops a node it started
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, _terminate)
    jobs = start_jobs(state.platform)
    try:
        server.print_listen("Serving on http://{}:{}")
        server.run()
    finally:
        for job in jobs:
            job.stop()
        server.close()
