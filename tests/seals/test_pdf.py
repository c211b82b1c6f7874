"""PDF faces (reportlab, CJK embedded) signed with a visible seal; checked by pyHanko and poppler."""

import io
import os
import subprocess

import pytest
from cryptography.hazmat.primitives import serialization

from certledger.crypto import x509 as X
from certledger.crypto.ca import CertificateAuthority
from certledger.crypto.signers import SoftECDSASigner
from ofd.design import default_for
from ofd.pdf import render_pdf, render_png
from ofd.qr import qr_png
from seals.pdf_sign import PDFSignError, sign_pdf, verify_pdf
from seals.picture import generate

VALUES = {"ENTNAME": "哈尔滨某某科技有限公司", "holder": "哈尔滨某某科技有限公司", "issue_dept": "哈尔滨市市场监督管理局",
          "number": "91230100MA1234567X", "issue_date": "2024年3月1日"}


@pytest.fixture(scope="module")
def pdf_pki(tmp_path_factory):
    ca = CertificateAuthority.create(tmp_path_factory.mktemp("ca") / "ca-pdf", os.urandom(16), "PDF CA", "CertLedger",
                                     algorithm="ecdsa-sha256")
    k = SoftECDSASigner()
    cert = ca.issue("pdf", X.name("哈尔滨市市场监督管理局"), k.public_key_der())
    key = k.key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return ca, key, cert


def face_pdf():
    return render_pdf(default_for([("ENTNAME", "名称")]), VALUES, "营业执照", qr_png=qr_png("http://127.0.0.1/verify/x"))


def test_pdf_has_the_text_and_an_embedded_cjk_font(tmp_path):
    path = tmp_path / "face.pdf"
    path.write_bytes(face_pdf())
    text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True).stdout
    assert "哈尔滨某某科技有限公司" in text and "91230100MA1234567X" in text
    fonts = subprocess.run(["pdffonts", str(path)], capture_output=True, text=True).stdout
    cjk = [l for l in fonts.splitlines() if "WenQuanYi" in l]
    assert cjk and " yes yes " in cjk[0]  # embedded, subset


def test_png_face():
    from PIL import Image

    im = Image.open(io.BytesIO(render_png(default_for([]), VALUES, dpi=100)))
    assert im.format == "PNG" and im.size == (1169, 827)
    assert im.convert("L").getextrema()[0] < 50  # there is dark text on it


def test_signed_pdf_is_valid_for_poppler_and_pyhanko(pdf_pki, tmp_path):
    ca, key, cert = pdf_pki
    signed = sign_pdf(face_pdf(), generate("official", "哈尔滨市市场监督管理局", "电子证照专用章"), key, cert,
                      [ca.certificate_der])
    [checks] = verify_pdf(signed, [ca.certificate])
    assert all(c.ok for c in checks), checks
    path = tmp_path / "signed.pdf"
    path.write_bytes(signed)
    out = subprocess.run(["pdfsig", str(path)], capture_output=True, text=True).stdout
    assert "Signature Validation: Signature is Valid." in out and "Total document signed" in out


def test_changed_pdf_fails_both(pdf_pki, tmp_path):
    ca, key, cert = pdf_pki
    signed = bytearray(sign_pdf(face_pdf(), generate("party", "测试"), key, cert, [ca.certificate_der]))
    i = signed.find(b"/Title")
    signed[i + 8] ^= 0x01
    [checks] = verify_pdf(bytes(signed), [ca.certificate])
    assert not all(c.ok for c in checks)
    path = tmp_path / "bad.pdf"
    path.write_bytes(bytes(signed))
    out = subprocess.run(["pdfsig", str(path)], capture_output=True, text=True).stdout
    assert "Signature is Valid" not in out


def test_untrusted_root_and_bad_input(pdf_pki, tmp_path):
    ca, key, cert = pdf_pki
    other = CertificateAuthority.create(tmp_path / "o", os.urandom(16), "Other", "O", algorithm="ecdsa-sha256")
    signed = sign_pdf(face_pdf(), generate("party", "测试"), key, cert, [ca.certificate_der])
    [checks] = verify_pdf(signed, [other.certificate])
    assert not next(c for c in checks if c.name == "signer certificate").ok
    assert verify_pdf(face_pdf(), [ca.certificate]) == []
    with pytest.raises(PDFSignError):
        sign_pdf(b"%PDF-1.4 garbage", generate("party", "测试"), key, cert, [])
