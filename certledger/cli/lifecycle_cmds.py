"""`certledger lifecycle ...`: report loss, revoke, annual review and the overdue job from the shell.

The CLI acts as the platform admin ('cli' in the audit log), like the other commands. The
commands only change the database and queue the ledger events in the outbox, in one unit of
work; `certledger ledger drain` (or the running server's worker) writes them to the ledger.
A separate top-level group so it does not collide with the `cert` group of template/import.
"""

from __future__ import annotations

from datetime import date

import click

from .main import cli
from .user_cmds import admin_actor


def _cert_id(uow, actor, ref: str) -> int:
    """A certificate named by its GB/T 36904 identifier or by its database id."""
    from issuance import certificates

    ref = ref.strip()
    if ref.isdigit():
        return certificates.get(uow, actor, int(ref)).id
    return certificates.get_by_identifier(uow, actor, ref).id


def _date(_ctx, _param, value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter("a date such as 2026-03-01") from None


@cli.group("lifecycle")
def lifecycle_group() -> None:
    """Lifecycle of issued certificates: loss, revocation, annual review."""


@lifecycle_group.command("lost")
@click.argument("certificate")
@click.option("--reason", required=True, help="Why it is reported lost (kept with the certificate).")
@click.pass_obj
def lost(state, certificate: str, reason: str) -> None:
    """Report CERTIFICATE (identifier or id) lost (挂失)."""
    from issuance import lifecycle

    platform = state.platform
    with platform.uow() as uow:
        actor = admin_actor(uow, platform)
        cert = lifecycle.report_loss(uow, actor, _cert_id(uow, actor, certificate), reason)
        uow.commit()
        click.echo(f"{cert.identifier}: {cert.status.value} (ledger event queued)")


@lifecycle_group.command("revoke")
@click.argument("certificate")
@click.option("--reason", required=True, help="Why it is revoked; revocation is final.")
@click.pass_obj
def revoke(state, certificate: str, reason: str) -> None:
    """Revoke CERTIFICATE (identifier or id) for good (注销)."""
    from issuance import lifecycle

    platform = state.platform
    with platform.uow() as uow:
        actor = admin_actor(uow, platform)
        cert = lifecycle.revoke(uow, actor, _cert_id(uow, actor, certificate), reason)
        uow.commit()
        click.echo(f"{cert.identifier}: {cert.status.value} (ledger event queued)")


@lifecycle_group.command("review")
@click.argument("certificate")
@click.option("--next-due", required=True, callback=_date, help="Date the next annual review is due (YYYY-MM-DD).")
@click.option("--reason", default="", help="Note kept with the review (default 年审通过).")
@click.pass_obj
def review(state, certificate: str, next_due: date, reason: str) -> None:
    """Pass the annual review (年审) of CERTIFICATE; an overdue one becomes effective again."""
    from issuance import lifecycle

    platform = state.platform
    with platform.uow() as uow:
        actor = admin_actor(uow, platform)
        cert = lifecycle.pass_annual_review(uow, actor, _cert_id(uow, actor, certificate), next_due, reason)
        uow.commit()
        click.echo(f"{cert.identifier}: {cert.status.value}, next review due {cert.next_review_due.isoformat()}")


@lifecycle_group.command("mark-overdue")
@click.option("--today", callback=_date, default=None, help="Run as of this date (default: today).")
@click.pass_obj
def mark_overdue(state, today: date | None) -> None:
    """The scheduled job: effective certificates past their review date become review_overdue."""
    from issuance import lifecycle

    with state.platform.uow() as uow:
        count = lifecycle.mark_overdue(uow, today)
        uow.commit()
    click.echo(f"marked {count} certificate(s) review_overdue")
