"""`certledger contracts build|check`: compile the Solidity sources; compare with committed artifacts."""

from __future__ import annotations

import click

from .main import cli


@cli.group("contracts")
def contracts_group() -> None:
    """The ledger's Solidity contracts."""


@contracts_group.command("build")
def build() -> None:
    """Compile contracts/*.sol (solc-js, london) and write contracts/build/*.json."""
    from chain_client.artifacts import BuildError, compile_contracts, write_artifacts

    try:
        paths = write_artifacts(compile_contracts())
    except BuildError as exc:
        raise click.ClickException(str(exc)) from None
    for p in paths:
        click.echo(f"wrote {p}")


@contracts_group.command("check")
def check() -> None:
    """Exit 1 when the committed artifacts no longer match the sources."""
    from chain_client.artifacts import BuildError, compile_contracts, differences

    try:
        problems = differences(compile_contracts())
    except BuildError as exc:
        raise click.ClickException(str(exc)) from None
    if problems:
        for p in problems:
            click.echo(f"  {p}", err=True)
        raise click.ClickException("artifacts differ from the sources: run `certledger contracts build`")
    click.echo("contracts: artifacts match the sources")
