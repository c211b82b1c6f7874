"""`certledger matter ...`: the Excel template and the all-or-nothing import of matters."""

from __future__ import annotations

from pathlib import Path

import click

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
@click.option("--errors-out", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Write the row-by-row problems to this .xlsx when the import is refused.")
@click.pass_obj
def import_cmd(state, file: Path, errors_out: Path | None) -> None:
    """Import matters from FILE: every row, or none with each row's problems listed."""
    from issuance.errors import ValidationError
    from issuance.matter_import import error_report, import_matters

    platform = state.platform
    with platform.uow() as uow:
        try:
            report = import_matters(uow, admin_actor(uow, platform), file.read_bytes())
        except ValidationError as exc:
            for key, problem in exc.errors.items():
                click.echo(f"  {key}: {problem}", err=True)
            if errors_out:
                errors_out.write_bytes(error_report(exc.errors))
                click.echo(f"  row-by-row report written to {errors_out}", err=True)
            raise
        uow.commit()
    click.echo(f"imported {report.created} matters")
