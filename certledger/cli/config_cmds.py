"""`certledger config ...`: show and check the deployment's configuration."""

from __future__ import annotations

import click

from certledger.config import ALIASES, known_keys
from .main import cli

SECRET_KEYS = {"server.secret_key"}


@cli.group("config")
def config_group() -> None:
    """Inspect the configuration of a data directory."""


@config_group.command("check")
@click.pass_obj
def check(state) -> None:
    """Load and validate the configuration; exit 1 with one line on any problem."""
    settings = state.settings
    click.echo(f"config ok: {state.data_dir / 'config.toml'} (ledger: {'chain' if settings.blockchain.enabled else 'local store'})")


@config_group.command("show")
@click.pass_obj
def show(state) -> None:
    """Print the effective configuration (secrets masked)."""
    settings = state.settings
    for key in known_keys():
        section, name = key.split(".")
        value = getattr(getattr(settings, section), name)
        if key in SECRET_KEYS:
            value = "********" if value else ""
        click.echo(f"{key} = {value!r}")


@config_group.command("keys")
def keys() -> None:
    """List every accepted key and the seed's aliases."""
    for key in known_keys():
        click.echo(key)
    for alias, key in ALIASES.items():
        click.echo(f"{alias} -> {key}")
