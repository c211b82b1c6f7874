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


def _queued(cert) -> str:
    return f"{cert.status.value} (ledger event queued)"


def _apply(state, certificate: str, change, describe=_queued) -> None:
    """Run ``change(uow, actor, cert_id)`` on CERTIFICATE as the platform admin, commit, say what it became."""
    platform = state.platform
    with platform.uow() as uow:
        actor = admin_actor(uow, platform)
        cert = change(uow, actor, _cert_id(uow, actor, certificate))
        uow.commit()
        click.echo(f"{cert.identifier}: {describe(cert)}")


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


def _status_command(name: str, action: str, doc: str, reason_help: str) -> click.Command:
    """A command applying ``lifecycle.<action>(uow, actor, cert_id, reason)`` to one certificate."""

    @lifecycle_group.command(name, help=doc)
    @click.argument("certificate")
    @click.option("--reason", required=True, help=reason_help)
    @click.pass_obj
    def command(state, certificate: str, reason: str) -> None:
        from issuance import lifecycle

        change = getattr(lifecycle, action)
        _apply(state, certificate, lambda uow, actor, cert_id: change(uow, actor, cert_id, reason))

    return command


lost = _status_command("lost", "report_loss", "Report CERTIFICATE (identifier or id) lost (挂失).",
                       "Why it is reported lost (kept with the certificate).")
revoke = _status_command("revoke", "revoke", "Revoke CERTIFICATE (identifier or id) for good (注销).",
                         "Why it is revoked; revocation is final.")


@lifecycle_group.command("review")
@click.argument("certificate")
@click.option("--next-due", required=True, callback=_date, help="Date the next annual review is due (YYYY-MM-DD).")
@click.option("--reason", default="", help="Note kept with the review (default 年审通过).")
@click.pass_obj
def review(state, certificate: str, next_due: date, reason: str) -> None:
    """Pass the annual review (年审) of CERTIFICATE; an overdue one becomes effective again."""
    from issuance import lifecycle

    _apply(state, certificate,
           lambda uow, actor, cert_id: lifecycle.pass_annual_review(uow, actor, cert_id, next_due, reason),
           lambda cert: f"{cert.status.value}, next review due {cert.next_review_due.isoformat()}")


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
