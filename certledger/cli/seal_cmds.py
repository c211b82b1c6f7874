"""`certledger seal generate`: draw a seal picture in one of the four styles."""

from __future__ import annotations

from pathlib import Path

import click

from .main import cli


@cli.group("seal")
def seal_group() -> None:
    """Seals (印章)."""


@seal_group.command("generate")
@click.option("--style", required=True, type=click.Choice(["party", "official", "union", "league"]),
              help="party/discipline official seal, ordinary official seal, trade-union seal, youth-league seal")
@click.option("--text", required=True, help="The organisation's name, along the upper arc.")
@click.option("--bottom", default="", help="A line under the star (e.g. 电子证照专用章).")
@click.option("--code", default="", help="A code along the lower arc (official style).")
@click.option("--size-mm", default=42.0, show_default=True, type=click.FloatRange(20, 80))
@click.option("--out", required=True, type=click.Path(path_type=Path, dir_okay=False))
def generate(style: str, text: str, bottom: str, code: str, size_mm: float, out: Path) -> None:
    """Write a transparent PNG seal picture."""
    from seals.picture import PictureError, generate as draw

    try:
        out.write_bytes(draw(style, text, bottom, code, size_mm))
    except PictureError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"wrote {out}")
