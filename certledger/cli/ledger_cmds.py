"""`certledger ledger ...`: inspect and check the ledger."""

from __future__ import annotations

import click

from .main import cli


@cli.group("ledger")
def ledger_group() -> None:
    """Inspect the ledger of this deployment."""


@ledger_group.command("check")
@click.pass_obj
def check(state) -> None:
    """Walk the local store's log; report the first tampered or missing entry (exit 1)."""
    from ledger.local.check import check_log

    settings = state.settings
    if settings.blockchain.enabled:
        raise click.UsageError("ledger check walks the local store; this deployment anchors on the chain")
    report = check_log(settings.ledger_path)
    if report.ok:
        click.echo(f"ledger ok: {report.entries} entries, hash chain intact")
        return
    click.echo(f"ledger BROKEN: {report.first_problem}", err=True)
    raise SystemExit(1)
