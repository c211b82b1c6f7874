"""SM2 certificates and the platform CA, checked by us and by the system openssl."""

import os
import subprocess
from datetime import datetime, timedelta, timezone

import pytest
from asn1crypto import crl as asn1_crl

from certledger.crypto import x509 as X
from certledger.crypto.ca import CAError, CertificateAuthority
from certledger.crypto.signers import SoftECDSASigner, SoftRSASigner, SoftSM2Signer
from certledger.crypto.sm2 import SM2PrivateKey


@pytest.fixture
def ca(tmp_path):
    return CertificateAuthority.create(tmp_path / "ca", os.urandom(16), "CertLedger 平台根证书", "CertLedger")


def dept_cert(ca, kind="department", signer=None, **kw):
    signer = signer or SoftSM2Signer(SM2PrivateKey.generate())
    der = ca.issue(kind, X.name("哈尔滨市市场监督管理局", "哈尔滨市市场监督管理局", province="黑龙江省"),
                   signer.public_key_der(), **kw)
    return signer, der


def all_ok(checks):
    return all(c.ok for c in checks)


def test_issue_and_check_chain(ca):
    _, der = dept_cert(ca)
    cert = X.load(der)
    assert X.algorithm_of(cert) == "sm2-sm3" and not cert.ca
    checks = X.check_chain(cert, [], [ca.certificate])
    assert all_ok(checks), checks
    assert [c.name for c in checks][:2] == ["certificate validity", "certificate signature"]


@pytest.mark.parametrize("kind", ["person", "seal", "pdf"])
def test_other_kinds(ca, kind):
    signer = SoftECDSASigner() if kind == "pdf" else None
    _, der = dept_cert(ca, kind, signer)
    assert all_ok(X.check_chain(X.load(der), [], [ca.certificate]))


def test_openssl_checks_our_sm2_certificate(ca, tmp_path):
    """OpenSSL 3.0's `verify` cannot check SM2 certificate signatures at all (not even those it
    makes itself), so openssl checks the signature over the to-be-signed part with `dgst`, and
    parses the certificate with `x509`."""
    _, der = dept_cert(ca)
    cert = X.load(der)
    (tmp_path / "tbs.der").write_bytes(cert["tbs_certificate"].dump())
    (tmp_path / "sig").write_bytes(cert["signature_value"].native)
    (tmp_path / "ca_pub.pem").write_bytes(X.to_pem(X.public_key_der(ca.certificate), "PUBLIC KEY"))
    r = subprocess.run(["openssl", "dgst", "-sm3", "-verify", str(tmp_path / "ca_pub.pem"), "-sigopt",
                        "distid:1234567812345678", "-signature", str(tmp_path / "sig"), str(tmp_path / "tbs.der")],
                       capture_output=True, text=True)
    assert r.returncode == 0 and "Verified OK" in r.stdout, r.stderr
    (tmp_path / "c.pem").write_bytes(X.to_pem(der))
    r = subprocess.run(["openssl", "x509", "-in", str(tmp_path / "c.pem"), "-noout", "-text"], capture_output=True, text=True)
    assert r.returncode == 0 and "SM2-with-SM3" in r.stdout and "CA:FALSE" in r.stdout


def test_one_changed_byte_breaks_the_signature(ca):
    _, der = dept_cert(ca)
    tampered = bytearray(der)
    i = der.find("哈尔滨".encode())
    tampered[i] ^= 1
    checks = X.check_chain(X.load(bytes(tampered)), [], [ca.certificate])
    assert not next(c for c in checks if c.name == "certificate signature").ok


def test_untrusted_and_expired(ca, tmp_path):
    other = CertificateAuthority.create(tmp_path / "other", os.urandom(16), "Other CA", "Elsewhere")
    _, der = dept_cert(ca)
    checks = X.check_chain(X.load(der), [], [other.certificate])
    assert not all_ok(checks) and checks[-1].name == "trusted root" and not checks[-1].ok
    _, old = dept_cert(ca, days=10, not_before=datetime.now(timezone.utc) - timedelta(days=30))
    checks = X.check_chain(X.load(old), [], [ca.certificate])
    assert not checks[0].ok and checks[0].name == "certificate validity"


def test_revoke_and_crl(ca):
    _, der = dept_cert(ca)
    _, kept = dept_cert(ca)
    ca.revoke(der, "key_compromise")
    crl = asn1_crl.CertificateList.load(ca.crl())
    checks = X.check_chain(X.load(der), [], [ca.certificate], crls=[crl])
    revoked = next(c for c in checks if c.name == "certificate not revoked")
    assert not revoked.ok and "key_compromise" in revoked.detail
    assert all_ok(X.check_chain(X.load(kept), [], [ca.certificate], crls=[crl]))
    with pytest.raises(CAError, match="revoked certificate cannot be renewed"):
        ca.renew(der)
    with pytest.raises(CAError, match="unknown revocation reason"):
        ca.revoke(kept, "bored")


def test_forged_crl_is_reported(ca, tmp_path):
    _, der = dept_cert(ca)
    ca.revoke(der)
    raw = bytearray(ca.crl())
    raw[-3] ^= 1
    checks = X.check_chain(X.load(der), [], [ca.certificate], crls=[asn1_crl.CertificateList.load(bytes(raw))])
    assert "bad signature" in next(c for c in checks if c.name == "certificate not revoked").detail


def test_renew_keeps_subject_and_key(ca):
    _, der = dept_cert(ca)
    new = X.load(ca.renew(der, days=730))
    old = X.load(der)
    assert new.subject.dump() == old.subject.dump() and X.public_key_der(new) == X.public_key_der(old)
    assert new.serial_number != old.serial_number and new.not_valid_after > old.not_valid_after


def test_ca_state_survives_reopen_and_needs_the_right_kek(ca):
    from certledger.crypto.sm import DecryptionError

    again = CertificateAuthority(ca.folder, ca._kek)
    assert again.certificate_der == ca.certificate_der
    with pytest.raises(DecryptionError):
        CertificateAuthority(ca.folder, os.urandom(16))
    with pytest.raises(CAError, match="already exists"):
        CertificateAuthority.create(ca.folder, ca._kek, "x", "y")
    assert (ca.folder / "ca.key.enc").stat().st_mode & 0o077 == 0


@pytest.mark.parametrize("signer_cls", [SoftECDSASigner, SoftRSASigner])
def test_ecdsa_and_rsa_certificates_for_pdf_are_read_by_cryptography(signer_cls):
    from cryptography import x509 as cx509

    ca_signer = signer_cls()
    n = X.name("PDF CA", "CertLedger")
    now = datetime.now(timezone.utc)
    ca_der = X.build_certificate(n, ca_signer.public_key_der(), n, ca_signer, now, now + timedelta(days=10), X.CA_PROFILE)
    leaf = signer_cls()
    der = X.build_certificate(X.name("签章"), leaf.public_key_der(), n, ca_signer, now, now + timedelta(days=5),
                              X.PDF_SIGNING_PROFILE)
    c = cx509.load_der_x509_certificate(der)
    c.verify_directly_issued_by(cx509.load_der_x509_certificate(ca_der))


def test_garbage_is_not_a_certificate():
    with pytest.raises(X.CertificateError):
        X.load(b"\x30\x03\x02\x01\x01")
