"""`certledger serve`: the web platform on one process (the local ledger store is single-process)."""

from __future__ import annotations

import click

from .main import cli


@cli.command("serve")
@click.option("--host", default=None, help="Interface to listen on (default from config: 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port (default from config: 8000).")
@click.option("--threads", type=int, default=8, show_default=True)
@click.pass_obj
def serve(state, host: str | None, port: int | None, threads: int) -> None:
    """Serve the platform with waitress until interrupted."""
    import logging

    from waitress import serve as waitress_serve

    from web.app import create_app

    settings = state.settings
    logging.basicConfig(level=settings.logging.level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    state.platform.ledger  # open the ledger now: a wrong mode or a locked store stops start-up here
    app = create_app(state.platform)
    host = host or settings.server.host
    port = port or settings.server.port
    click.echo(f"CertLedger serving on http://{host}:{port}  (data: {state.data_dir}, "
               f"ledger: {'chain' if settings.blockchain.enabled else 'local store'})")
    import signal

    def _terminate(*_):  # SIGTERM ends like Ctrl-C: the platform closes, and stops a node it started
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, _terminate)
    try:
        waitress_serve(app, host=host, port=port, threads=threads, ident="CertLedger")
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
