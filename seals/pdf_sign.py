"""PAdES signatures with a visible seal on PDF faces (pyHanko), and their verification.

PDF readers know no SM2, so PDFs are signed with ECDSA P-256 under the platform's PDF root; the
seal picture is the appearance of the signature field.
"""

from __future__ import annotations

import asyncio
import io
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable, Sequence, TypeVar

from asn1crypto import keys, x509 as asn1_x509

from certledger.crypto import x509 as X

MM = 72 / 25.4
T = TypeVar("T")


def _outside_event_loop(fn: Callable[[], T]) -> T:
    """pyHanko runs its own ``asyncio.run``; from a thread with a running loop, use another thread."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return fn()
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(fn).result()


class PDFSignError(ValueError):
    pass


@dataclass(frozen=True)
class PdfPlacement:
    page: int = 0
    x: float = 200       # millimetres from the left
    y: float = 150       # millimetres from the top
    size: float = 42
    page_height: float = 210


_appearances: dict[tuple[str, float], str] = {}


def seal_appearance(seal_png: bytes, size_mm: float) -> str:
    """A one-page PDF holding the seal picture, made once per seal and size.

    pyHanko copies that page's already-encoded image stream into each signed PDF, so the picture
    is never encoded again per document.
    """
    import hashlib
    import os
    import tempfile

    key = (hashlib.sha256(seal_png).hexdigest(), size_mm)
    path = _appearances.get(key)
    if path is None or not os.path.exists(path):
        from reportlab.lib.utils import ImageReader
        from reportlab.pdfgen import canvas

        fd, path = tempfile.mkstemp(prefix="certledger-seal-", suffix=".pdf")
        with os.fdopen(fd, "wb") as fh:
            c = canvas.Canvas(fh, pagesize=(size_mm * MM, size_mm * MM))
            c.drawImage(ImageReader(io.BytesIO(seal_png)), 0, 0, size_mm * MM, size_mm * MM, mask="auto")
            c.showPage()
            c.save()
        _appearances[key] = path
    return path


def sign_pdf(pdf: bytes, seal_png: bytes, key_pkcs8: bytes, cert_der: bytes, chain: Sequence[bytes],
             placement: PdfPlacement = PdfPlacement(), field_name: str = "Seal", reason: str = "电子证照签发") -> bytes:
    from pyhanko import stamp
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    signer = signers.SimpleSigner(
        signing_cert=asn1_x509.Certificate.load(cert_der), signing_key=keys.PrivateKeyInfo.load(key_pkcs8),
        cert_registry=SimpleCertificateStore.from_certs([asn1_x509.Certificate.load(c) for c in chain]))
    style = stamp.StaticStampStyle.from_pdf_file(seal_appearance(seal_png, placement.size), border_width=0,
                                                 background_opacity=1.0)
    x1 = placement.x * MM
    y2 = (placement.page_height - placement.y) * MM
    box = (x1, y2 - placement.size * MM, x1 + placement.size * MM, y2)
    meta = signers.PdfSignatureMetadata(field_name=field_name, subfilter=fields.SigSeedSubFilter.PADES,
                                        md_algorithm="sha256", reason=reason)
    try:
        writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
        out = io.BytesIO()
        pdf_signer = signers.PdfSigner(meta, signer, stamp_style=style,
                                       new_field_spec=fields.SigFieldSpec(field_name, on_page=placement.page, box=box))
        _outside_event_loop(lambda: pdf_signer.sign_pdf(writer, output=out))
    except Exception as exc:  # pyHanko raises many kinds for a broken PDF
        raise PDFSignError(f"cannot sign this PDF: {exc}") from None
    return out.getvalue()


def verify_pdf(pdf: bytes, roots: Sequence[asn1_x509.Certificate]) -> list[list[X.Check]]:
    """Each signature of the PDF with its checks; [] for an unsigned PDF."""
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    try:
        reader = PdfFileReader(io.BytesIO(pdf), strict=False)
        sigs = reader.embedded_signatures
    except Exception as exc:
        raise PDFSignError(f"not a readable PDF: {exc}") from None
    reports = []
    for sig in sigs:
        context = ValidationContext(trust_roots=list(roots), allow_fetching=False)
        status = _outside_event_loop(lambda: validate_pdf_signature(sig, context))
        reports.append([
            X.Check("file digests", bool(status.intact), "signed bytes unchanged" if status.intact else "changed"),
            X.Check("signature", bool(status.valid), status.signing_cert.subject.human_friendly),
            X.Check("signer certificate", bool(status.trusted), "trusted" if status.trusted else "not trusted"),
            X.Check("covers the whole file", status.coverage.name in ("ENTIRE_FILE", "ENTIRE_REVISION"),
                    status.coverage.name),
        ])
    return reports
