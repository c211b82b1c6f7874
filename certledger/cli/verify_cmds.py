"""`certledger verify ID_OR_FILE`: every check of one certificate, exit 0 only if it is valid.

A file (OFD, or PDF by its %PDF header) is checked on its own (its seals or signature, then the
data it carries against the ledger); a file that cannot be read, or is neither OFD nor PDF, is one
line of error; an identifier is checked from this deployment's record (data decrypted, stored
Merkle proof) against the ledger, and its stored layout file too when there is one. Both go
through ``issuance.public_verification``, the service behind the public verification pages, so
the command and the QR code's page cannot disagree.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import click

from .main import cli


def _print(verdict) -> None:
    for c in verdict.checks:
        click.echo(f"[{'ok' if c.ok else 'FAIL'}] {c.label} ({c.name}): {c.detail}")
    where = f" (ledger at {verdict.ledger_block})" if verdict.ledger_block is not None else ""
    click.echo(f"{verdict.identifier or '?'}: {'VALID 有效' if verdict.valid else 'NOT VALID 无效'}{where}")


def _present(path: Path) -> bool:
    """Whether something is at ``path`` (a dangling link too); an unsearchable folder counts."""
    try:
        return path.exists() or path.is_symlink()
    except OSError:
        return True


@cli.command("verify")
@click.argument("target")
@click.option("--today", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="Check validity and review dates as of this day (default: today).")
@click.pass_obj
def verify(state, target: str, today) -> None:
    """Verify a certificate by identifier, or a sealed OFD or signed PDF file."""
    from issuance.errors import NotFound
    from issuance.public_verification import FileRefused, verify_file, verify_identifier
    from ofd.package import DEFAULT_LIMITS

    platform = state.platform
    day: date = today.date() if today else date.today()
    path = Path(target)
    if _present(path):  # a file was meant: one that cannot be read is an error, not an identifier
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise click.ClickException(f"{target}: cannot read the file: {exc.strerror or exc}") from None
        try:  # the operator's own file: the OFD loader's limit, not the public upload limit
            verdict = verify_file(platform, data, today=day, max_bytes=DEFAULT_LIMITS.max_file)
        except FileRefused as exc:
            raise click.ClickException(f"{target}: {exc}") from None
    else:
        verdict = verify_identifier(platform, target, today=day)  # the same service as the public QR page
        if not verdict.found:
            raise NotFound(f"no certificate {target} in this deployment, and no such file")
    _print(verdict)
    if not verdict.valid:
        raise SystemExit(1)
