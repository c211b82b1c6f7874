"""`certledger cert ...`: the Excel template of a certificate type and the all-or-nothing import of certificates.

Unlike `matter import`, which acts as the platform itself, entry needs a person: certificates are
entered by a clerk or department admin of the department that owns the type, and the audit log
and each certificate's ``created_by`` must name them. So `cert import` takes ``--as USERNAME``
and acts with that user's roles in their current department, exactly as if they had signed in
(a locked or disabled account is refused). `cert template` only reads the type, so it acts as
the platform like the other read-only commands.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click
from sqlalchemy import select

from .import_errors import rows_reported
from .main import State, cli
from .user_cmds import admin_actor

if TYPE_CHECKING:  # imported at run time inside the commands, so `certledger --help` stays fast
    from certledger.runtime import Platform
    from issuance.context import Actor
    from issuance.unit_of_work import UnitOfWork


@cli.group("cert")
def cert_group() -> None:
    """Certificates (证照): Excel template and import."""


def user_actor(uow: UnitOfWork, platform: Platform, username: str) -> Actor:
    """The acting identity of an existing, usable account (as at sign-in), recorded with ip 'cli'."""
    from issuance import accounts
    from issuance.errors import NotFound, PermissionDenied
    from issuance.models import User

    user = uow.session.execute(select(User).where(User.username == username)).scalar_one_or_none()
    if user is None:
        raise NotFound(f"no user {username}")
    if not user.active or user.locked:
        raise PermissionDenied(f"the account {username} is {'locked' if user.locked else 'disabled'}")
    return accounts.actor_for(uow, user, platform.policy, "cli")


@cert_group.command("template")
@click.option("--type-id", type=int, required=True, help="Id of the certificate type.")
@click.argument("out", type=click.Path(path_type=Path, dir_okay=False))
@click.pass_obj
def template(state: State, type_id: int, out: Path) -> None:
    """Write the Excel template for entering certificates of a type to OUT (.xlsx)."""
    from issuance.certificate_import import template_for

    platform = state.platform
    with platform.uow() as uow:
        data = template_for(uow, admin_actor(uow, platform), type_id)
    out.write_bytes(data)
    click.echo(f"wrote {out}")


@cert_group.command("import")
@click.option("--type-id", type=int, required=True, help="Id of the certificate type.")
@click.option("--as", "username", required=True, metavar="USERNAME",
              help="The clerk or department admin entering the certificates (their current department).")
@click.option("--errors-out", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="When the import is refused, write the row-by-row problems to this .xlsx.")
@click.argument("file", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.pass_obj
def import_cmd(state: State, type_id: int, username: str, errors_out: Path | None, file: Path) -> None:
    """Enter the certificates of FILE as drafts: every row, or none with each row's problems listed."""
    from issuance.certificate_import import MAX_BYTES, error_report, import_certificates
    from issuance.errors import ValidationError

    if file.stat().st_size > MAX_BYTES:  # refuse before reading a huge file into memory
        raise ValidationError({"file": f"the file is larger than {MAX_BYTES // (1024 * 1024)} MB"})
    platform = state.platform
    with platform.uow() as uow:
        actor = user_actor(uow, platform, username)
        with rows_reported(errors_out, error_report):
            report = import_certificates(uow, actor, type_id, file.read_bytes())
        uow.commit()
    click.echo(f"imported {report.created} certificates"
               + (f" ({report.identifiers[0]} … {report.identifiers[-1]})" if report.identifiers else ""))
