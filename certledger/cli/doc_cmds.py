"""`certledger doc verify FILE`: check a sealed layout file, each check on its own line;
`certledger doc render ID --format pdf|png`: the PDF or PNG of an issued certificate."""

from __future__ import annotations

from pathlib import Path

import click

from .main import cli


@cli.group("doc")
def doc_group() -> None:
    """Layout files (OFD, PDF)."""


@doc_group.command("verify")
@click.argument("file", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option("--root", "roots", multiple=True, type=click.Path(path_type=Path, exists=True, dir_okay=False),
              help="Trusted root certificate (PEM or DER); default: the platform CA of the data directory.")
@click.pass_obj
def verify(state, file: Path, roots: tuple[Path, ...]) -> None:
    """Print every check of every seal; exit 0 only when the file is sealed and all checks pass."""
    from asn1crypto import crl as asn1_crl

    from certledger.crypto import x509 as X
    from ofd.package import UnsafePackage
    from seals.ofd_sign import verify_ofd

    data = file.read_bytes()
    if data.startswith(b"%PDF"):
        _verify_pdf(state, file, data, roots)
        return
    crls = []
    if roots:
        trusted = [X.load(p.read_bytes()) for p in roots]
    else:
        ca = state.platform.ca
        trusted = [ca.certificate]
        crl_file = ca.folder / "crl.der"
        if crl_file.exists():
            crls.append(asn1_crl.CertificateList.load(crl_file.read_bytes()))
    if not data.startswith(b"PK"):
        raise click.ClickException(f"{file} is neither an OFD nor a PDF file")
    try:
        reports = verify_ofd(data, trusted, crls)
    except UnsafePackage as exc:
        raise click.ClickException(f"{file}: {exc}") from None
    _print(file, [(r.sign_id, r.checks) for r in reports])


@doc_group.command("render")
@click.argument("identifier")
@click.option("--format", "kind", type=click.Choice(["pdf", "png"]), default="pdf", show_default=True,
              help="pdf: signed (PAdES) with the department's seal; png: a picture of the face.")
@click.pass_obj
def render(state, identifier: str, kind: str) -> None:
    """Print the path of an issued certificate's PDF or PNG, rendered on first request and kept."""
    from issuance.renditions import rendition

    click.echo(str(rendition(state.platform, identifier, kind)))


def _verify_pdf(state, file: Path, data: bytes, roots: tuple[Path, ...]) -> None:
    from certledger.crypto import x509 as X
    from seals.pdf_sign import PDFSignError, verify_pdf

    trusted = [X.load(p.read_bytes()) for p in roots] if roots else [state.platform.pdf_ca.certificate]
    try:
        reports = verify_pdf(data, trusted)
    except PDFSignError as exc:
        raise click.ClickException(f"{file}: {exc}") from None
    _print(file, [(str(i + 1), checks) for i, checks in enumerate(reports)])


def _print(file: Path, reports) -> None:
    if not reports:
        click.echo(f"{file}: no seal or signature found")
        raise SystemExit(1)
    ok = True
    for sign_id, checks in reports:
        valid = all(c.ok for c in checks)
        ok &= valid
        click.echo(f"seal {sign_id}: {'VALID' if valid else 'INVALID'}")
        for c in checks:
            click.echo(f"  [{'ok' if c.ok else 'FAIL'}] {c.name}" + (f": {c.detail}" if c.detail else ""))
    raise SystemExit(0 if ok else 1)
