"""`certledger sharing ...`: client systems (系统清单), usage of catalogs (用证申请, 用证清单),
usage records (用证记录) and their statistics, without the web UI.

Every command here acts as a person, because the decisions it records name one: a client system
is registered by a clerk or department admin of its department and approved by a platform
admin, an application to use a catalog is decided by the issuing department's reviewer, and the
audit and approval logs must say who. So each command takes ``--as USERNAME`` and acts with that
user's roles in their current department, exactly as ``cert import`` does and as if they had
signed in (a locked or disabled account is refused). No password is asked: the CLI runs on the
server, by the operator who already holds the data directory, its keys and its database, and
could act as anyone anyway; the actor is recorded with ip 'cli'. Visibility is the domain's:
a department sees its own systems and usage, an admin every department's.

Each command is one unit of work, committed when it succeeds; a refusal by the domain is one
line on stderr with exit code 1 (the top-level group's handling), a wrong command line exit 2.
"""

from __future__ import annotations

import unicodedata
from typing import Iterable, Sequence

import click

from .cert_cmds import user_actor
from .main import State, cli

AS_HELP = "The user to act as (their roles in their current department)."


@cli.group("sharing")
def sharing_group() -> None:
    """The sharing access domain: client systems, usage applications, records, statistics."""


@sharing_group.group("system")
def system_group() -> None:
    """Client systems (系统清单): the business systems that call the sharing interface."""


@sharing_group.group("usage")
def usage_group() -> None:
    """Applications to use other departments' catalogs (用证申请) and the usage list (用证清单)."""


# --- helpers ------------------------------------------------------------------------------------

def _width(text: str) -> int:
    """Columns a text takes in a terminal: CJK characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


def _table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    rows = [[("" if v is None else str(v)) for v in row] for row in rows]
    widths = [max([_width(h)] + [_width(r[i]) for r in rows]) for i, h in enumerate(headers)]
    for row in [list(headers), *rows]:
        cells = [v + " " * (w - _width(v)) for v, w in zip(row, widths)]
        click.echo("  ".join(cells).rstrip())


def _footer(page, noun: str) -> None:
    click.echo(f"page {page.page} of {page.pages} ({page.total} {noun})")


def _decision(approve: bool, reject: bool, reason: str | None) -> bool:
    """``--approve`` or ``--reject --reason TEXT``: exactly one, and a rejection says why."""
    if approve == reject:
        raise click.UsageError("give either --approve or --reject")
    if reject and reason is None:
        raise click.UsageError("--reject needs --reason TEXT")
    return approve


def _decision_options(f):
    f = click.option("--reason", default=None, help="Why (required with --reject).")(f)
    f = click.option("--reject", is_flag=True, help="Reject (with --reason).")(f)
    f = click.option("--approve", is_flag=True, help="Approve.")(f)
    return f


def _as_option(f):
    return click.option("--as", "username", required=True, metavar="USERNAME", help=AS_HELP)(f)


# --- client systems -----------------------------------------------------------------------------

@system_group.command("register")
@_as_option
@click.option("--name", required=True, help="Name of the business system (unique in the department).")
@click.option("--ip", "ips", multiple=True, required=True, metavar="IP",
              help="An address the system calls from (repeat for several).")
@click.option("--description", default="", help="What the system is for.")
@click.pass_obj
def system_register(state: State, username: str, name: str, ips: tuple[str, ...], description: str) -> None:
    """Register a client system of the user's department; it goes to the admin's review."""
    from issuance import client_systems

    platform = state.platform
    with platform.uow() as uow:
        cs = client_systems.register(uow, user_actor(uow, platform, username), name, list(ips), description)
        uow.commit()
        click.echo(f"client system {cs.id}: {cs.status.value}")


@system_group.command("review")
@click.argument("system_id", type=int, metavar="ID")
@_as_option
@_decision_options
@click.pass_obj
def system_review(state: State, system_id: int, username: str, approve: bool, reject: bool,
                  reason: str | None) -> None:
    """The platform admin's decision on a client system; the first approval issues its AccountId."""
    from issuance import client_systems

    decision = _decision(approve, reject, reason)
    platform = state.platform
    with platform.uow() as uow:
        cs = client_systems.review(uow, user_actor(uow, platform, username), system_id, decision, reason or "")
        uow.commit()
        if decision:
            click.echo(f"client system {cs.id}: {cs.status.value}, AccountId {cs.account_id} "
                       f"(bound to {', '.join(cs.ips)})")
        else:
            click.echo(f"client system {cs.id}: {cs.status.value}")


@system_group.command("list")
@_as_option
@click.option("--status", default="", help="Only systems in this state (draft, submitted, approved, rejected, disabled).")
@click.option("--page", type=click.IntRange(min=1), default=1, show_default=True)
@click.pass_obj
def system_list(state: State, username: str, status: str, page: int) -> None:
    """The client systems the user may see: their department's, or every department's for an admin."""
    from issuance import client_systems, departments

    platform = state.platform
    with platform.uow() as uow:
        actor = user_actor(uow, platform, username)
        result = client_systems.search(uow, actor, status=status, page=page, size=50)
        names = departments.names(uow, actor, {cs.department_id for cs in result.items})
        _table(("ID", "DEPARTMENT", "NAME", "IPS", "STATUS", "ACCOUNTID"),
               [(cs.id, names.get(cs.department_id, ""), cs.name, ",".join(cs.ips), cs.status.value,
                 cs.account_id or "-") for cs in result.items])
        _footer(result, "systems")


@system_group.command("disable")
@click.argument("system_id", type=int, metavar="ID")
@_as_option
@click.option("--reason", default="", help="Why the system is switched off.")
@click.pass_obj
def system_disable(state: State, system_id: int, username: str, reason: str) -> None:
    """Stop a client system's AccountId at once (the platform admin or its department's admin)."""
    from issuance import client_systems

    platform = state.platform
    with platform.uow() as uow:
        cs = client_systems.disable(uow, user_actor(uow, platform, username), system_id, reason)
        uow.commit()
        click.echo(f"client system {cs.id}: {cs.status.value}")


# --- catalogs open to usage ----------------------------------------------------------------------

@sharing_group.command("catalogs")
@_as_option
@click.option("--page", type=click.IntRange(min=1), default=1, show_default=True)
@click.pass_obj
def catalogs_list(state: State, username: str, page: int) -> None:
    """The approved shared catalogs: the ids `sharing usage apply --catalog` takes."""
    from sqlalchemy import select

    from issuance import catalogs
    from issuance.models import CertificateType, Department

    platform = state.platform
    with platform.uow() as uow:
        result = catalogs.search(uow, user_actor(uow, platform, username), status="approved", page=page, size=50)
        shown = [c for c in result.items if catalogs.can_apply_for_use(c)]
        types = {t.id: t for t in uow.session.execute(select(CertificateType).where(
            CertificateType.id.in_({c.type_id for c in shown}))).scalars()} if shown else {}
        depts = dict(uow.session.execute(select(Department.id, Department.name).where(
            Department.id.in_({c.department_id for c in shown}))).all()) if shown else {}
        _table(("ID", "TYPE CODE", "TYPE", "DEPARTMENT", "SHARE TYPE"),
               [(c.id, types[c.type_id].code, types[c.type_id].name, depts.get(c.department_id, ""),
                 c.share_type.value) for c in shown])
        _footer(result, "approved catalogs")


# --- usage --------------------------------------------------------------------------------------

@usage_group.command("apply")
@_as_option
@click.option("--system", "system_id", type=int, required=True, metavar="ID",
              help="The department's approved client system that will call.")
@click.option("--catalog", "catalog_id", type=int, required=True, metavar="ID", help="The catalog to use.")
@click.option("--matter", "matter_id", type=int, default=None, metavar="ID", help="A matter of the department.")
@click.option("--reason", required=True, help="Why the certificates are needed.")
@click.pass_obj
def usage_apply(state: State, username: str, system_id: int, catalog_id: int, matter_id: int | None,
                reason: str) -> None:
    """Apply to use a catalog; a public (社会公示) catalog's application is approved at once."""
    from issuance import usage

    platform = state.platform
    with platform.uow() as uow:
        app = usage.apply(uow, user_actor(uow, platform, username), system_id, catalog_id, reason, matter_id)
        uow.commit()
        click.echo(f"usage application {app.id}: {app.status.value}")


@usage_group.command("review")
@click.argument("usage_id", type=int, metavar="ID")
@_as_option
@_decision_options
@click.pass_obj
def usage_review(state: State, usage_id: int, username: str, approve: bool, reject: bool,
                 reason: str | None) -> None:
    """The issuing department's reviewer or admin decides an application to use its catalog."""
    from issuance import usage

    decision = _decision(approve, reject, reason)
    platform = state.platform
    with platform.uow() as uow:
        app = usage.review(uow, user_actor(uow, platform, username), usage_id, decision, reason or "")
        uow.commit()
        click.echo(f"usage application {app.id}: {app.status.value}")


@usage_group.command("list")
@_as_option
@click.option("--status", default="", help="Only applications in this state (withdrawn ones only on request).")
@click.option("--page", type=click.IntRange(min=1), default=1, show_default=True)
@click.pass_obj
def usage_list(state: State, username: str, status: str, page: int) -> None:
    """The usage list (用证清单) of the user's department, with the call parameters of approved usage."""
    from issuance import usage

    platform = state.platform
    with platform.uow() as uow:
        result = usage.usage_list(uow, user_actor(uow, platform, username), status=status, page=page, size=50)
        for e in result.items:
            a = e.application
            click.echo(f"{a.id}  {a.status.value}  {e.client_system_name} ({e.department_name})  "
                       f"{e.type_name} {e.type_code} [{e.share_type.value}] of {e.issuer_department_name}")
            if e.call is not None:
                click.echo(f"    AccountId   {e.call.account_id}")
                click.echo(f"    type codes  {', '.join(e.call.type_codes)}")
                click.echo(f"    IPs         {', '.join(e.call.ips)}")
                click.echo(f"    interfaces  {', '.join(e.call.interfaces)}")
        _footer(result, "applications")


# --- records and statistics ---------------------------------------------------------------------

@sharing_group.command("records")
@_as_option
@click.option("--interface", default="", help="Only calls of this interface method (e.g. VerifyCertificate).")
@click.option("--page", type=click.IntRange(min=1), default=1, show_default=True)
@click.pass_obj
def records(state: State, username: str, interface: str, page: int) -> None:
    """The usage records (用证记录) the user may see, newest first."""
    from issuance import usage

    platform = state.platform
    with platform.uow() as uow:
        result = usage.records(uow, user_actor(uow, platform, username), interface=interface, page=page, size=50)
        _table(("AT", "INTERFACE", "RESULT", "ACCOUNTID", "IP", "TYPE CODE", "CERTIFICATE", "MS"),
               [(r.at.strftime("%Y-%m-%d %H:%M:%S"), r.interface, r.result_code, r.account_id or "-", r.ip or "-",
                 r.type_code or "-", r.certificate_identifier or "-", r.duration_ms) for r in result.items])
        _footer(result, "records")


@sharing_group.command("stats")
@_as_option
@click.pass_obj
def stats(state: State, username: str) -> None:
    """Figures of the sharing overview (platform admins)."""
    from issuance import usage

    platform = state.platform
    with platform.uow() as uow:
        actor = user_actor(uow, platform, username)
        actor.require_admin()
        st = usage.stats(uow.session, actor.tenant_id)
    click.echo(f"calls: {st['total_calls']} ({st['successful_calls']} successful)")
    for name, n in sorted(st["calls_by_interface"].items()):
        click.echo(f"  {name}: {n}")
    click.echo("calls by department:")
    for dept_id, n in sorted(st["calls_by_department"].items()):
        click.echo(f"  {st['department_names'].get(dept_id, dept_id)}: {n}")
    click.echo("usage applications: " + (", ".join(f"{k} {v}" for k, v in sorted(st["usage_by_status"].items()))
                                         or "none"))
    click.echo(f"certificates used: {st['used_certificates']} of {st['issued_certificates']} issued "
               f"({st['used_share']:.1%})")
