"""`certledger matter ...`: the Excel template and the all-or-nothing import of matters."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import click
from sqlalchemy import select

from .import_errors import rows_reported
from .main import cli
from .user_cmds import admin_actor


@cli.group("matter")
def matter_group() -> None:
    """Matters (事项)."""


@matter_group.command("template")
@click.argument("out", type=click.Path(path_type=Path, dir_okay=False))
def template(out: Path) -> None:
    """Write the Excel template for importing matters."""
    from issuance.matter_import import build_template

    out.write_bytes(build_template())
    click.echo(f"wrote {out}")


@matter_group.command("import")
@click.argument("file", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option("--department", "department_code", default=None, metavar="CODE",
              help="Department of the rows that leave 所属部门编码 empty.")
@click.option("--errors-out", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="When the import is refused, write the row-by-row problems to this .xlsx.")
@click.pass_obj
def import_cmd(state, file: Path, department_code: str | None, errors_out: Path | None) -> None:
    """Import matters from FILE: every row, or none with each row's problems listed.

    The CLI acts as the platform admin, so any department may be named in the file.
    """
    from issuance.errors import ValidationError
    from issuance.matter_import import error_report, import_matters
    from issuance.models import Department

    platform = state.platform
    with platform.uow() as uow:
        actor = admin_actor(uow, platform)
        if department_code:
            dept_id = uow.session.execute(select(Department.id).where(
                Department.tenant_id == actor.tenant_id, Department.code == department_code.strip().upper())).scalar()
            if dept_id is None:
                raise ValidationError({"department": f"no department with code {department_code}"})
            actor = dataclasses.replace(actor, department_id=dept_id)
        with rows_reported(errors_out, error_report):
            report = import_matters(uow, actor, file.read_bytes())
        uow.commit()
    click.echo(f"imported {report.created} matters")
