"""`certledger node ...`: the ledger node's own command line (``python -m node``), run in place of
this process so signals reach the node directly. ``start`` without ``--data-dir`` runs the node
of the current data directory (DATA/node)."""

from __future__ import annotations

import os
import sys

import click

from .main import cli


@cli.command("node", context_settings={"ignore_unknown_options": True, "allow_extra_args": True,
                                       "help_option_names": []})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@click.pass_obj
def node(state, args: tuple[str, ...]) -> None:
    """The ledger node: `node init DIR`, `node init-network DIR --nodes 3`, `node start [--data-dir DIR]`."""
    argv = list(args)
    if argv[:1] == ["start"] and not any(a == "--data-dir" or a.startswith("--data-dir=") for a in argv):
        argv += ["--data-dir", str(state.data_dir / "node")]
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, [sys.executable, "-m", "node", *(argv or ["--help"])])
