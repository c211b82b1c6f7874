"""GB/T 38540 seals: made, read back, and every check catching what it should."""

import os
from datetime import datetime, timedelta, timezone

import pytest
from asn1crypto import crl as asn1_crl

from certledger.crypto import x509 as X
from certledger.crypto.ca import CertificateAuthority
from certledger.crypto.signers import SoftECDSASigner, SoftSM2Signer
from certledger.crypto.sm2 import SM2PrivateKey
from seals.seal import SealError, check_seal, describe, load_seal, make_seal

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64
NOW = datetime.now(timezone.utc)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    ca = CertificateAuthority.create(tmp_path_factory.mktemp("ca") / "ca", os.urandom(16), "CertLedger CA", "CertLedger")
    maker = SoftSM2Signer(SM2PrivateKey.generate())
    maker_cert = ca.issue("seal", X.name("制章人", "CertLedger"), maker.public_key_der())
    signer = SoftSM2Signer(SM2PrivateKey.generate())
    signer_cert = ca.issue("department", X.name("哈尔滨市市场监督管理局"), signer.public_key_der())
    return ca, maker, maker_cert, signer, signer_cert


def seal_of(pki, **kw):
    ca, maker, maker_cert, _, signer_cert = pki
    args = dict(name="哈尔滨市市场监督管理局电子证照专用章", picture=PNG, picture_type="PNG", width_mm=42, height_mm=42,
                signer_certs=[signer_cert], maker=maker, maker_cert=maker_cert,
                valid_start=NOW - timedelta(days=1), valid_end=NOW + timedelta(days=365))
    args.update(kw)
    return make_seal(**args)


def test_seal_reads_back_with_its_properties(pki):
    seal = load_seal(seal_of(pki, es_id="230100-SEAL-0001"))
    d = describe(seal)
    assert (d.es_id, d.name, d.picture_type, d.width_mm, d.seal_type) == (
        "230100-SEAL-0001", "哈尔滨市市场监督管理局电子证照专用章", "PNG", 42, 1)
    assert d.picture == PNG and d.signer_certs == (pki[4],)
    assert seal["eSealInfo"]["header"].native == {"ID": "ES", "version": 4, "Vid": "CertLedger"}


def test_all_checks_pass_for_a_good_seal(pki):
    checks = check_seal(load_seal(seal_of(pki)), [pki[0].certificate])
    assert [c.name for c in checks] == ["seal format", "seal signature", "seal maker certificate", "seal validity"]
    assert all(c.ok for c in checks), checks


def test_every_changed_byte_of_the_seal_info_is_caught(pki):
    der = seal_of(pki)
    seal = load_seal(der)
    start = len(der) - len(seal["eSealInfo"].dump()) - len(seal["cert"].dump()) - len(seal["signAlgID"].dump()) \
        - len(seal["signedValue"].dump())
    info_len = len(seal["eSealInfo"].dump())
    for offset in range(start + 8, start + info_len, max(1, info_len // 40)):
        tampered = bytearray(der)
        tampered[offset] ^= 0x01
        try:
            s = load_seal(bytes(tampered))
        except SealError:
            continue  # no longer parses: caught too
        sig = next(c for c in check_seal(s, [pki[0].certificate]) if c.name == "seal signature")
        assert not sig.ok, offset


def test_expired_seal_untrusted_maker_and_revoked_maker(pki, tmp_path):
    ca = pki[0]
    old = load_seal(seal_of(pki, valid_start=NOW - timedelta(days=30), valid_end=NOW - timedelta(days=1)))
    assert not next(c for c in check_seal(old, [ca.certificate]) if c.name == "seal validity").ok
    other = CertificateAuthority.create(tmp_path / "other", os.urandom(16), "Other", "Other")
    assert not next(c for c in check_seal(load_seal(seal_of(pki)), [other.certificate])
                    if c.name == "seal maker certificate").ok
    ca.revoke(pki[2], "key_compromise")
    crl = asn1_crl.CertificateList.load(ca.crl())
    maker_check = next(c for c in check_seal(load_seal(seal_of(pki)), [ca.certificate], crls=[crl])
                       if c.name == "seal maker certificate")
    assert not maker_check.ok and "key_compromise" in maker_check.detail


def test_refusals(pki):
    with pytest.raises(SealError, match="SM2"):
        seal_of(pki, maker=SoftECDSASigner())
    with pytest.raises(SealError, match="picture type"):
        seal_of(pki, picture_type="BMP")
    with pytest.raises(SealError, match="at least one signer"):
        seal_of(pki, signer_certs=[])
    with pytest.raises(SealError, match="end after"):
        seal_of(pki, valid_end=NOW - timedelta(days=5))
    with pytest.raises(SealError, match="not a GB/T 38540 seal"):
        load_seal(b"\x30\x03\x02\x01\x01")
