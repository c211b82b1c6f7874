"""`certledger db ...` and `certledger audit ...`: schema and audit-log maintenance."""

from __future__ import annotations

import click

from .main import cli


@cli.group("db")
def db_group() -> None:
    """Database schema."""


@db_group.command("upgrade")
@click.pass_obj
def upgrade(state) -> None:
    """Apply pending migrations."""
    from certledger.db.migrate import current_revision, upgrade as do_upgrade

    engine = state.platform.engine
    do_upgrade(engine)
    click.echo(f"database at revision {current_revision(engine)}")


@db_group.command("current")
@click.pass_obj
def current(state) -> None:
    """Print the schema revision of the database."""
    from certledger.db.migrate import current_revision, head_revision

    rev = current_revision(state.platform.engine)
    click.echo(f"{rev} (head {head_revision()})")


@cli.group("audit")
def audit_group() -> None:
    """The append-only audit log."""


@audit_group.command("check")
@click.pass_obj
def audit_check(state) -> None:
    """Verify the audit log's hash chain; exit 1 at the first changed or missing entry."""
    from issuance.audit import verify_chain

    with state.platform.uow() as uow:
        report = verify_chain(uow.session)
    if report.ok:
        click.echo(f"audit log ok: {report.entries} entries")
        return
    click.echo(f"audit log BROKEN: {report.problem}", err=True)
    raise SystemExit(1)
