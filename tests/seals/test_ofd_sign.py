"""Sealing OFD documents and verifying them: every check catches what it is for."""

import io
import os
import zipfile
from datetime import datetime, timedelta, timezone

import pytest

from certledger.crypto import x509 as X
from certledger.crypto.ca import CertificateAuthority
from certledger.crypto.signers import SoftSM2Signer
from certledger.crypto.sm2 import SM2PrivateKey
from ofd.design import default_for
from ofd.package import Package
from ofd.writer import OFDMeta, write_ofd, zip_package
from seals.ofd_sign import Placement, SealError, sign_ofd, verify_ofd
from seals.seal import make_seal

NOW = datetime.now(timezone.utc)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    ca = CertificateAuthority.create(tmp_path_factory.mktemp("ca") / "ca", os.urandom(16), "CertLedger CA", "CertLedger")
    maker = SoftSM2Signer(SM2PrivateKey.generate())
    maker_cert = ca.issue("seal", X.name("制章人"), maker.public_key_der())
    signer = SoftSM2Signer(SM2PrivateKey.generate())
    signer_cert = ca.issue("department", X.name("哈尔滨市市场监督管理局"), signer.public_key_der())
    seal = make_seal(name="电子证照专用章", picture=b"\x89PNG\r\n\x1a\n" + b"\0" * 32, picture_type="PNG",
                     width_mm=42, height_mm=42, signer_certs=[signer_cert], maker=maker, maker_cert=maker_cert,
                     valid_start=NOW - timedelta(days=1), valid_end=NOW + timedelta(days=365))
    return ca, seal, signer, signer_cert


def document():
    return write_ofd(default_for([("ENTNAME", "名称")]), {"ENTNAME": "哈尔滨某某科技有限公司", "holder": "某某"},
                     OFDMeta("doc", "营业执照"))


def signed(pki, **kw):
    ca, seal, signer, cert = pki
    return sign_ofd(document(), seal, signer, cert, **kw)


def rewrite(data: bytes, change) -> bytes:
    files = Package.load(data).files
    change(files)
    return zip_package(files)


def check(report, name):
    return next(c for c in report.checks if c.name == name)


def test_sealed_document_verifies_and_holds_the_parts(pki):
    data = signed(pki, placement=Placement(x=230, y=150))
    [report] = verify_ofd(data, [pki[0].certificate])
    assert report.ok, report.checks
    names = {c.name for c in report.checks}
    assert {"file digests", "signature", "seal signature", "signer certificate", "seal validity"} <= names
    pkg = Package.load(data)
    assert {"Doc_0/Signs/Signatures.xml", "Doc_0/Signs/Sign_0/Signature.xml", "Doc_0/Signs/Sign_0/SignedValue.dat"} <= set(pkg.files)
    sig = pkg.files["Doc_0/Signs/Sign_0/Signature.xml"].decode()
    assert 'Boundary="230 150 42 42"' in sig and "1.2.156.10197.1.401" in sig
    assert b"Doc_0/Signs/Signatures.xml" in pkg.files["OFD.xml"]


def test_unsigned_document_has_no_reports():
    assert verify_ofd(document(), []) == []


def test_any_changed_byte_of_any_file_is_caught(pki):
    data = signed(pki)
    pkg = Package.load(data)
    for name in pkg.files:
        def flip(files, name=name):
            raw = bytearray(files[name])
            raw[len(raw) // 2] ^= 0x01
            files[name] = bytes(raw)
        try:
            reports = verify_ofd(rewrite(data, flip), [pki[0].certificate])
        except Exception:
            continue  # the package no longer reads at all: caught as well
        assert reports and not all(r.ok for r in reports), name


def test_which_check_fails(pki):
    data = signed(pki)
    content = "Doc_0/Pages/Page_0/Content.xml"
    changed = rewrite(data, lambda f: f.__setitem__(content, f[content].replace("哈尔滨".encode(), "齐齐哈".encode())))
    [r] = verify_ofd(changed, [pki[0].certificate])
    assert not check(r, "file digests").ok and content in check(r, "file digests").detail
    assert check(r, "signature").ok
    sig_xml = "Doc_0/Signs/Sign_0/Signature.xml"
    moved = rewrite(data, lambda f: f.__setitem__(sig_xml, f[sig_xml].replace(b'Boundary="200', b'Boundary="100')))
    [r] = verify_ofd(moved, [pki[0].certificate])
    assert not check(r, "signature covers Signature.xml").ok
    added = rewrite(data, lambda f: f.__setitem__("Doc_0/Res/extra.png", b"x"))
    [r] = verify_ofd(added, [pki[0].certificate])
    assert not check(r, "no unprotected files").ok and "extra.png" in check(r, "no unprotected files").detail
    removed = rewrite(data, lambda f: f.pop("Doc_0/PublicRes.xml"))
    [r] = verify_ofd(removed, [pki[0].certificate])
    assert "removed" in check(r, "file digests").detail


def test_untrusted_signer_and_signer_outside_the_seal(pki, tmp_path):
    ca, seal, signer, cert = pki
    other = CertificateAuthority.create(tmp_path / "o", os.urandom(16), "Other", "Other")
    [r] = verify_ofd(signed(pki), [other.certificate])
    assert not check(r, "signer certificate").ok and not check(r, "seal maker certificate").ok
    stranger = SoftSM2Signer(SM2PrivateKey.generate())
    stranger_cert = ca.issue("person", X.name("某人"), stranger.public_key_der())
    with pytest.raises(SealError, match="not among"):
        sign_ofd(document(), seal, stranger, stranger_cert)


def test_two_seals_on_one_document(pki):
    ca, seal, signer, cert = pki
    twice = sign_ofd(signed(pki), seal, signer, cert, Placement(x=20, y=20))
    reports = verify_ofd(twice, [ca.certificate])
    assert [r.sign_id for r in reports] == ["1", "2"] and all(r.ok for r in reports)


def test_signing_time_outside_seal_validity_fails(pki):
    ca, seal, signer, cert = pki
    late = sign_ofd(document(), seal, signer, cert, at=NOW + timedelta(days=400))
    [r] = verify_ofd(late, [ca.certificate])
    assert not check(r, "seal validity").ok


def test_no_such_page(pki):
    ca, seal, signer, cert = pki
    with pytest.raises(SealError, match="no page 3"):
        sign_ofd(document(), seal, signer, cert, Placement(page=2))
