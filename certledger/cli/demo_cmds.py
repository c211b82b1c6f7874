"""`certledger demo --count N`: the whole flow on this data directory, for a first look."""

from __future__ import annotations

import click

from .main import cli


@cli.command("demo")
@click.option("--count", type=click.IntRange(1, 100_000), default=10, show_default=True)
@click.option("--admin", "admin_name", default="admin", show_default=True, help="The platform admin to act as.")
@click.pass_obj
def demo(state, count: int, admin_name: str) -> None:
    """Create the demo department and business-licence type if missing, then enter, review and issue N certificates;
    register the demo client system for 127.0.0.1 with an approved usage and print its AccountId."""
    import time

    from issuance.demo import run_demo

    t = time.perf_counter()
    report = run_demo(state.platform, count, admin_name)
    took = time.perf_counter() - t
    files = {p.name.removesuffix(".ofd"): p for p in report.files}
    for ident in report.identifiers:
        click.echo(f"{ident}  {files.get(ident, '')}")
    for ident, why in report.failed.items():
        click.echo(f"FAILED {ident}: {why}", err=True)
    click.echo(f"{len(report.identifiers)} certificate(s) effective in {took:.1f} s "
               f"(verify one with: certledger verify {report.identifiers[0] if report.identifiers else 'ID'})")
    server = state.settings.server
    click.echo(f"sharing interface: AccountId {report.account_id} (client system 演示业务系统, bound to 127.0.0.1); "
               f"token: curl -d AccountId={report.account_id} http://127.0.0.1:{server.port}/sharing/Token")
    if report.failed:
        raise SystemExit(1)
