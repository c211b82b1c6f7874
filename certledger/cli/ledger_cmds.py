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


@ledger_group.command("backfill")
@click.pass_obj
def backfill(state) -> None:
    """Replay the local store's history onto the chain (blockchain.enabled = true); resumable."""
    from tqdm import tqdm

    from ledger.backfill import backfill as run_backfill

    settings = state.settings
    if not settings.blockchain.enabled:
        raise click.UsageError("backfill writes to the chain: set blockchain.enabled = true and blockchain.rpc_url")
    platform = state.platform
    chain = platform.ledger
    local = platform.open_local_store()
    try:
        with tqdm(total=local.head(), unit="entry", desc="backfill") as bar:
            report = run_backfill(local, chain, settings.data_dir / "chain" / "backfill.json", bar.update)
    finally:
        local.close()
    click.echo(f"backfill done: {report.replayed} replayed, {report.skipped} already on the chain, "
               f"up to local entry {report.last_seq}")


@ledger_group.command("drain")
@click.option("--batch", default=1000, show_default=True, type=click.IntRange(1, 10000))
@click.pass_obj
def drain(state, batch: int) -> None:
    """Write what waits in the outbox to the ledger; exit 1 if the ledger could not take it all."""
    from issuance.anchoring import Worker

    platform = state.platform
    report = Worker(platform.session_factory, platform.ledger, batch).drain()
    click.echo(f"anchored {report.anchored}, events {report.events}, recovered {report.recovered}, "
               f"waiting {report.waiting}")
    if report.error:
        click.echo(f"ledger: {report.error}", err=True)
        raise SystemExit(1)
