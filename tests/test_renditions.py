"""PDF and PNG renditions of issued certificates: rendered on first request, kept, verifiable.

Real parts throughout: an initialised data directory, the LevelDB local ledger, the pipeline
issuing real sealed OFDs, reportlab and Pillow faces, pyHanko signatures under the platform's
PDF CA, poppler's pdftotext/pdfsig and zxing-cpp reading what was made.
"""

from __future__ import annotations

import io
import re
import subprocess

import pytest
from sqlalchemy import select

from issuance import lifecycle
from issuance.anchoring import Worker
from issuance.errors import IllegalTransition, NotFound, ValidationError
from issuance.models import Certificate, PdfSigningIdentity
from issuance.pipeline import issue
from issuance.renditions import RenditionEnv, render_counts, rendition
from issuance.verification import verify_pdf_file
from tests.test_pipeline import issuing, ofd_file, with_design
from tests.helpers import approved_licence_type, at_once


@pytest.fixture
def issued(world):
    """Two effective certificates of a type with a surface design, with their sealed OFDs."""
    t = approved_licence_type(world)
    with_design(world, t)
    certs = issuing(world, t, [1, 2])
    assert issue(world.platform, [c.id for c in certs], workers=0).ok
    return certs


def _canonical(world, cert_id: int) -> bytes:
    with world.uow() as uow:
        return lifecycle.canonical_data(uow, uow.session.get(Certificate, cert_id))


def _verify(world, data: bytes):
    return verify_pdf_file(world.platform.ledger, data, [world.platform.pdf_ca.certificate])


def _check(verdict, name: str):
    return next(c for c in verdict.checks if c.name == name)


def test_pdf_is_rendered_signed_on_first_request_and_kept(world, issued, tmp_path):
    c = issued[0]
    before = render_counts["pdf"]
    path = rendition(world.platform, c.identifier, "pdf")
    assert path == ofd_file(world, c.identifier).with_name(f"{c.identifier}.pdf")
    assert render_counts["pdf"] == before + 1
    data, stat = path.read_bytes(), path.stat()
    assert data.startswith(b"%PDF")

    again = rendition(world.platform, c.identifier, "pdf")  # the cached file, not a new signature
    assert again == path and render_counts["pdf"] == before + 1
    assert again.read_bytes() == data and again.stat().st_mtime_ns == stat.st_mtime_ns
    assert not list(path.parent.glob("*.tmp"))

    verdict = _verify(world, data)
    assert verdict.valid and verdict.identifier == c.identifier, verdict.as_dict()
    assert "1 signature(s) intact" in _check(verdict, "document").detail
    assert _check(verdict, "digest").ok and _check(verdict, "status").detail.startswith("effective")

    # the face shows what the OFD shows; poppler agrees the signature is valid
    text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout
    assert "企业1" in text and "2024年3月1日" in text
    sig = subprocess.run(["pdfsig", str(path)], capture_output=True, text=True).stdout
    assert "Signature is Valid" in sig and "Total document signed" in sig
    # the carried data is the certificate's canonical data, as an embedded file
    out = subprocess.run(["pdfdetach", "-list", str(path)], capture_output=True, text=True, check=True).stdout
    assert "certledger.data.json" in out
    subprocess.run(["pdfdetach", "-save", "1", "-o", str(tmp_path / "d.json"), str(path)], check=True)
    assert (tmp_path / "d.json").read_bytes() == _canonical(world, c.id)


def test_pdf_identity_is_made_once_chained_to_the_pdf_ca_and_its_key_encrypted(world, issued):
    from certledger.crypto import x509 as X

    p = world.platform
    a = rendition(p, issued[0].identifier, "pdf")
    b = rendition(p, issued[1].identifier, "pdf")
    with world.uow() as uow:  # in the database, one per department, no longer a file
        rows = [(r.department_id, r.key_enc, r.certificate_der)
                for r in uow.session.execute(select(PdfSigningIdentity)).scalars()]
    ((department_id, key_enc, certificate_der),) = rows
    assert department_id == world.dept.id
    assert key_enc.startswith("sm4gcm1:") and "BEGIN" not in key_enc
    assert not (p.settings.data_dir / "keys" / "pdf-signing").exists()
    cert = X.load(certificate_der)
    assert X.signed_by(cert, X.public_key_der(p.pdf_ca.certificate))
    assert "哈尔滨市市场监督管理局" in cert.subject.human_friendly
    for path in (a, b):
        assert _verify(world, path.read_bytes()).valid


def test_changed_pdf_is_not_valid(world, issued, tmp_path):
    from pyhanko.pdf_utils import embed
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    c = issued[0]
    data = rendition(world.platform, c.identifier, "pdf").read_bytes()

    carried = bytearray(data)  # one byte of the carried data: the certificate number's last character
    i = carried.index(b'"number":"') + len(b'"number":"')
    j = carried.index(b'"', i) - 1
    carried[j] = ord("0") if carried[j] != ord("0") else ord("1")
    v = _verify(world, bytes(carried))
    assert not v.valid and not _check(v, "document").ok and not _check(v, "digest").ok, v.as_dict()
    assert "file digests" in _check(v, "document").detail

    page = bytearray(data)  # one byte inside the page's (compressed) content stream
    contents = int(re.search(rb"/Contents (\d+) 0 R", data).group(1))
    k = page.index(b"stream", page.index(b"\n%d 0 obj" % contents)) + 20
    page[k] ^= 0x01
    v = _verify(world, bytes(page))
    assert not v.valid and not _check(v, "document").ok, v.as_dict()

    # an update appended after the signature, carrying other data: the signed data is what counts
    w = IncrementalPdfFileWriter(io.BytesIO(data))
    other = _canonical(world, issued[1].id)
    stream = embed.EmbeddedFileObject.from_file_data(w, other, compress=False)
    embed.embed_file(w, embed.FileSpec(file_spec_string="certledger.data", embedded_data=stream))
    out = io.BytesIO()
    w.write(out)
    v = _verify(world, out.getvalue())
    assert not v.valid and v.identifier == c.identifier, v.as_dict()
    assert "changed after it was signed" in _check(v, "document").detail


def test_pdf_without_data_or_without_signature_is_not_valid(world, issued):
    from ofd.design import default_for
    from ofd.pdf import render_pdf
    from issuance.renditions import _with_data

    face = render_pdf(default_for([]), {"holder": "企业1"}, "营业执照")
    v = _verify(world, face)
    assert not v.valid and [(c.name, c.detail) for c in v.checks] == [("data", "the file carries no certificate data")]
    v = _verify(world, _with_data(face, _canonical(world, issued[0].id)))
    assert not v.valid and _check(v, "document").detail == "the file is not signed"
    assert _check(v, "digest").ok  # the data itself is the anchored data
    v = _verify(world, b"%PDF-1.7 not really")
    assert not v.valid and not v.checks[0].ok


def test_revoked_certificate_still_renders_and_its_pdf_reports_revoked(world, issued):
    c = issued[0]
    with world.uow() as uow:
        lifecycle.revoke(uow, world.clerk, c.id, "吊销营业执照")
        uow.commit()
    Worker(world.platform.session_factory, world.platform.ledger).drain()
    path = rendition(world.platform, c.identifier, "pdf")  # first requested after the revocation
    v = _verify(world, path.read_bytes())
    assert not v.valid and _check(v, "document").ok and _check(v, "digest").ok
    assert not _check(v, "status").ok and "revoked" in _check(v, "status").detail


def test_png_is_a_real_picture_of_the_face_with_the_ofd_qr_code(world, issued):
    import zxingcpp
    from PIL import Image

    from ofd.package import Package

    c = issued[0]
    before = render_counts["png"]
    path = rendition(world.platform, c.identifier, "png")
    assert path.name == f"{c.identifier}.png" and render_counts["png"] == before + 1
    im = Image.open(path)
    assert im.format == "PNG" and im.size == (round(297 * 150 / 25.4), round(210 * 150 / 25.4))  # A4 at 150 dpi
    assert im.convert("L").getextrema()[0] < 50
    # the seal picture is on it (red), at the design's seal slot (bottom right)
    rgb = im.convert("RGB")
    w, h = im.size
    reds = sum(1 for x in range(w * 2 // 3, w, 4) for y in range(h // 2, h, 4)
               if (lambda p: p[0] > 150 and p[1] < 90 and p[2] < 90)(rgb.getpixel((x, y))))
    assert reds > 100
    texts = [r.text for r in zxingcpp.read_barcodes(im)]
    pkg = Package.load(ofd_file(world, c.identifier).read_bytes())
    ofd_texts = [r.text for name, d in pkg.files.items() if d.startswith(b"\x89PNG")
                 for r in zxingcpp.read_barcodes(Image.open(io.BytesIO(d)))]
    assert texts == ofd_texts and texts[0].endswith(f"/verify/{c.identifier}")
    mtime = path.stat().st_mtime_ns
    assert rendition(world.platform, c.identifier, "png") == path
    assert path.stat().st_mtime_ns == mtime and render_counts["png"] == before + 1


def test_two_requests_at_once_render_one_valid_file(world, issued):
    c = issued[1]
    env = RenditionEnv.from_platform(world.platform)
    before = render_counts["pdf"]
    results, errors = at_once(lambda: rendition(env, c.identifier, "pdf"), 3)
    assert not errors and len(set(results)) == 1 and len(results) == 3
    assert render_counts["pdf"] == before + 1
    assert _verify(world, results[0].read_bytes()).valid
    assert not list(results[0].parent.glob("*.tmp"))


def test_errors_unknown_not_issued_no_design_other_department(world, issued):
    from tests.helpers import TYPE_CODE

    p = world.platform
    with pytest.raises(NotFound, match="not found"):
        rendition(p, "1.2.156.3005.2.NOPE", "pdf")
    with pytest.raises(ValidationError, match="one of pdf, png"):
        rendition(p, issued[0].identifier, "tiff")

    t2 = approved_licence_type(world, code=TYPE_CODE[:-1] + "9")  # no surface design
    (plain,) = issuing(world, t2, [7])
    with pytest.raises(IllegalTransition, match="issuing.*issued"):  # in review-approved state, not issued yet
        rendition(p, plain.identifier, "pdf")
    assert issue(p, [plain.id], workers=0).ok
    with pytest.raises(NotFound, match="no surface design"):
        rendition(p, plain.identifier, "png")

    other, other_admin = world.add_department("大庆市市场监督管理局", "11230600MB0000002X", "230600")
    with pytest.raises(NotFound):
        rendition(p, issued[0].identifier, "png", actor=other_admin)
    assert rendition(p, issued[0].identifier, "png", actor=world.clerk).is_file()
    assert rendition(p, issued[0].identifier, "png", actor=world.admin).is_file()
