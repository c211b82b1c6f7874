"""`certledger verify ID_OR_FILE`: every check of one certificate, exit 0 only if it is valid.

A file (OFD, or PDF by its %PDF header) is checked on its own (its seals or signature, then the
data it carries against the ledger); a file that cannot be read is one line of error; an
identifier is checked from this deployment's record (data decrypted, stored Merkle proof) against
the ledger, and its stored layout file too when there is one.
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
    from sqlalchemy import select

    from issuance import canonical, lifecycle
    from issuance.errors import NotFound
    from issuance.models import Certificate, OutboxItem
    from issuance.pipeline.documents import documents_dir, file_path
    from issuance.verification import Check, verify_data, verify_ofd_file, verify_pdf_file

    platform = state.platform
    day: date = today.date() if today else date.today()
    roots = [platform.ca.certificate]
    path = Path(target)
    if _present(path):  # a file was meant: one that cannot be read is an error, not an identifier
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise click.ClickException(f"{target}: cannot read the file: {exc.strerror or exc}") from None
        if data.startswith(b"%PDF"):  # PDFs are signed under the ECDSA PDF root (readers know no SM2)
            verdict = verify_pdf_file(platform.ledger, data, [platform.pdf_ca.certificate], today=day)
        else:
            verdict = verify_ofd_file(platform.ledger, data, roots, today=day)
    else:
        with platform.uow() as uow:
            cert = uow.session.execute(select(Certificate).where(Certificate.identifier == target)).scalar_one_or_none()
            if cert is None:
                raise NotFound(f"no certificate {target} in this deployment, and no such file")
            data = lifecycle.canonical_data(uow, cert)
            stored_proof = uow.session.execute(select(OutboxItem.proof).where(
                OutboxItem.certificate_id == target, OutboxItem.kind == "anchor", OutboxItem.state == "done")
            ).scalars().first()
        basic, values = canonical.parse(data)
        proof = [bytes.fromhex(p) for p in stored_proof] if stored_proof is not None else None
        extra = []
        stored = file_path(documents_dir(platform.settings.data_dir), target)
        if stored.exists():
            doc = verify_ofd_file(platform.ledger, stored.read_bytes(), roots, today=day)
            bad = [c for c in doc.checks if not c.ok]
            extra.append(Check("document", not bad, "; ".join(f"{c.name}: {c.detail}" for c in bad)
                               or f"{stored.name}: seals intact, carries this record's data"))
        verdict = verify_data(platform.ledger, basic, values, proof=proof, today=day, extra=extra)
    _print(verdict)
    if not verdict.valid:
        raise SystemExit(1)
