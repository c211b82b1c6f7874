"""`certledger jobs`: the writing side of a deployment whose web tier runs elsewhere.

Behind gunicorn the web workers open the ledger read-only (several processes cannot share the
chain index); this process holds the writing ledger, starts the embedded node when the
deployment has one, and runs the scheduled jobs of `certledger serve` (outbox drain, overdue
check) until SIGTERM or Ctrl-C.
"""

from __future__ import annotations

import click

from .main import cli


@cli.command("jobs")
@click.pass_obj
def jobs(state) -> None:
    """Hold the writing ledger and run the scheduled jobs until interrupted (for gunicorn deployments)."""
    import logging
    import signal
    import threading

    from .serve_cmd import start_jobs

    settings = state.settings
    logging.basicConfig(level=settings.logging.level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    state.platform.ledger  # a wrong mode or a store held by another process stops start-up here
    stop = threading.Event()

    def _terminate(*_):
        stop.set()

    signal.signal(signal.SIGTERM, _terminate)
    running = start_jobs(state.platform)
    click.echo(f"CertLedger jobs running: {', '.join(j.name for j in running) or 'none enabled'} "
               f"(data: {state.data_dir}, ledger: {'chain' if settings.blockchain.enabled else 'local store'})")
    try:
        while not stop.wait(1.0):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        for job in running:
            job.stop()
