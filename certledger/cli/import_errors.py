"""What `cert import` and `matter import` do with a refused file: list every row, write the report."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator, Mapping

import click


@contextmanager
def rows_reported(errors_out: Path | None, error_report: Callable[[Mapping[str, str]], bytes]) -> Iterator[None]:
    """On a ``ValidationError``: print each row's problem, write ``error_report`` to ``errors_out``, re-raise."""
    from issuance.errors import ValidationError

    try:
        yield
    except ValidationError as exc:
        # the top-level handler prints the one-line summary; the operator also needs every row
        for key, problem in exc.errors.items():
            if key.startswith("row "):
                click.echo(f"  {key}: {problem}", err=True)
        if errors_out:
            errors_out.write_bytes(error_report(exc.errors))
            click.echo(f"  row-by-row report written to {errors_out}", err=True)
        raise
