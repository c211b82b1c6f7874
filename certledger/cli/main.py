"""Entry point: the top-level group, the shared --data-dir option and one-line errors."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from certledger import __version__
from certledger.config import ConfigError, default_data_dir, load_settings


class OneLineErrors(click.Group):
    """Known failures end the command with one line on stderr and exit code 1, no traceback."""

    def invoke(self, ctx: click.Context):
        from issuance.errors import DomainError
        from ledger.interface import LedgerError
        from certledger.crypto.sm import DecryptionError

        try:
            return super().invoke(ctx)
        except (ConfigError, DomainError, LedgerError, DecryptionError) as exc:
            click.echo(f"error: {exc}" if not str(exc).startswith("config error") else str(exc), err=True)
            ctx.exit(1)


class State:
    """Lazily loaded settings and platform for the data directory given on the command line."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self._platform = None

    @property
    def settings(self):
        if not (self.data_dir / "config.toml").exists():
            raise ConfigError(f"config error: {self.data_dir} is not a data directory; run `certledger init {self.data_dir}`")
        return load_settings(self.data_dir)

    @property
    def platform(self):
        if self._platform is None:
            from certledger.runtime import Platform

            self._platform = Platform(self.settings)
        return self._platform

    def close(self) -> None:
        if self._platform is not None:
            self._platform.close()


@click.group(cls=OneLineErrors, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--data-dir", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="Data directory (default: $CERTLEDGER_DATA or ./data).")
@click.version_option(__version__, prog_name="certledger")
@click.pass_context
def cli(ctx: click.Context, data_dir: Path | None) -> None:
    """CertLedger: electronic certificates anchored on a ledger."""
    state = State(data_dir or default_data_dir())
    ctx.obj = state
    ctx.call_on_close(state.close)


def _register() -> None:
    """Each command module registers its commands on import (one line each)."""
    from . import admin_cmds  # noqa: F401
    from . import cert_cmds  # noqa: F401
    from . import config_cmds  # noqa: F401
    from . import contracts_cmds  # noqa: F401
    from . import demo_cmds  # noqa: F401
    from . import doc_cmds  # noqa: F401
    from . import init_cmd  # noqa: F401
    from . import issue_cmds  # noqa: F401
    from . import jobs_cmd  # noqa: F401
    from . import ledger_cmds  # noqa: F401
    from . import lifecycle_cmds  # noqa: F401
    from . import matter_cmds  # noqa: F401
    from . import node_cmds  # noqa: F401
    from . import seal_cmds  # noqa: F401
    from . import serve_cmd  # noqa: F401
    from . import sharing_cmds  # noqa: F401
    from . import user_cmds  # noqa: F401
    from . import verify_cmds  # noqa: F401


_register()


def main(argv: list[str] | None = None) -> None:
    cli.main(args=argv, prog_name="certledger")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
