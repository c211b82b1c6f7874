"""Per-certificate document work on one core: OFD write, SM2 signature (more stages as they land).

    .venv/bin/python bench/bench_documents.py

Prints milliseconds per certificate; asserts nothing.
"""

from __future__ import annotations

import time

import os
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

from certledger.crypto import x509 as X
from certledger.crypto.ca import CertificateAuthority
from certledger.crypto.signers import SoftSM2Signer
from certledger.crypto.sm2 import SM2PrivateKey
from ofd.design import default_for
from ofd.package import Package
from ofd.qr import qr_png
from ofd.writer import OFDMeta, write_ofd, zip_package
from seals.ofd_sign import sign_files, verify_ofd
from seals.seal import make_seal

VALUES = {"ENTNAME": "哈尔滨某某科技有限公司", "dom": "哈尔滨市南岗区某路1号", "name": "张三", "REPORTTYPE": "有限责任公司",
          "opscope": "软件开发；信息技术咨询服务", "estdate": "2019-02-03", "number": "91230100MA1234567X",
          "holder": "哈尔滨某某科技有限公司", "issue_dept": "哈尔滨市市场监督管理局", "issue_date": "2024年3月1日"}
COLUMNS = [("ENTNAME", "名称"), ("dom", "住所"), ("name", "法定代表人"), ("REPORTTYPE", "类型"),
           ("opscope", "经营范围"), ("estdate", "成立日期")]


def per_call_ms(fn, n: int) -> float:
    fn()
    t = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t) / n * 1e3


def main() -> None:
    design = default_for(COLUMNS)
    qr = qr_png("http://127.0.0.1:8000/verify/1.2.156.3005.2.X")
    meta = OFDMeta("doc", "营业执照")
    ofd = write_ofd(design, VALUES, meta, qr_png=qr)
    key = SM2PrivateKey.generate()
    print(f"OFD write           {per_call_ms(lambda: write_ofd(design, VALUES, meta, qr_png=qr), 500):7.3f} ms")
    print(f"QR code (PNG)       {per_call_ms(lambda: qr_png('http://127.0.0.1/v/1'), 200):7.3f} ms")
    print(f"OFD read + text     {per_call_ms(lambda: Package.load(ofd).page_texts(), 500):7.3f} ms")
    print(f"SM2 sign (OFD)      {per_call_ms(lambda: key.sign(ofd), 2000):7.3f} ms")
    sig = key.sign(ofd)
    pub = key.public_key()
    print(f"SM2 verify (OFD)    {per_call_ms(lambda: pub.verify(ofd, sig), 1000):7.3f} ms")
    ca = CertificateAuthority.create(Path(tempfile.mkdtemp()) / "ca", os.urandom(16), "Bench CA", "Bench")
    signer = SoftSM2Signer(key)
    cert = ca.issue("department", X.name("bench"), signer.public_key_der())
    now = datetime.now(timezone.utc)
    seal = make_seal(name="章", picture=qr, picture_type="PNG", width_mm=42, height_mm=42, signer_certs=[cert],
                     maker=signer, maker_cert=cert, valid_start=now - timedelta(days=1), valid_end=now + timedelta(days=9))
    files = Package.load(ofd).files

    def write_and_seal() -> bytes:
        # the pipeline's path: write the face, seal its files, zip once
        raw = write_ofd(design, VALUES, meta, qr_png=qr)
        return zip_package(sign_files(Package.load(raw).files, seal, signer, cert))

    sealed = write_and_seal()
    print(f"GB/T 38540 seal     {per_call_ms(lambda: sign_files(files, seal, signer, cert), 500):7.3f} ms")
    print(f"OFD write + seal    {per_call_ms(write_and_seal, 300):7.3f} ms  (goal < 5 ms)")
    print(f"full verify         {per_call_ms(lambda: verify_ofd(sealed, [ca.certificate]), 200):7.3f} ms  (goal < 5 ms)")
    print(f"OFD size            {len(ofd):7,d} bytes, sealed {len(sealed):,d} bytes")

    from cryptography.hazmat.primitives import serialization

    from certledger.crypto.signers import SoftECDSASigner
    from ofd.pdf import render_pdf, render_png
    from seals.pdf_sign import sign_pdf, verify_pdf
    from seals.picture import generate

    pdf_ca = CertificateAuthority.create(Path(tempfile.mkdtemp()) / "ca-pdf", os.urandom(16), "Bench PDF CA", "Bench",
                                         algorithm="ecdsa-sha256")
    ecdsa = SoftECDSASigner()
    pdf_cert = pdf_ca.issue("pdf", X.name("bench"), ecdsa.public_key_der())
    pkcs8 = ecdsa.key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
    seal_png = generate("official", "哈尔滨市市场监督管理局", "电子证照专用章")
    pdf = render_pdf(design, VALUES, "营业执照", qr_png=qr)
    print(f"PDF render          {per_call_ms(lambda: render_pdf(design, VALUES, '营业执照', qr_png=qr), 100):7.3f} ms")
    print(f"PNG render          {per_call_ms(lambda: render_png(design, VALUES, qr_png=qr), 20):7.3f} ms")
    signed_pdf = sign_pdf(pdf, seal_png, pkcs8, pdf_cert, [pdf_ca.certificate_der])
    print(f"PDF sign (PAdES)    {per_call_ms(lambda: sign_pdf(pdf, seal_png, pkcs8, pdf_cert, [pdf_ca.certificate_der]), 30):7.3f} ms")
    print(f"PDF verify          {per_call_ms(lambda: verify_pdf(signed_pdf, [pdf_ca.certificate]), 30):7.3f} ms")


if __name__ == "__main__":
    main()
