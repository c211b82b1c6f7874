"""The `certledger` command. Each command group lives in a module of this package."""

from .main import main, cli  # noqa: F401
