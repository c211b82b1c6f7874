"""Verification of certificates against the ledger (local store): from data, from a sealed OFD
file, in batches; every check reported, status and digest taken from the ledger."""

import os
from datetime import date, datetime, timedelta, timezone

import pytest

from certledger.config import load_settings
from certledger.crypto import x509 as X
from certledger.crypto.signers import SoftSM2Signer
from certledger.crypto.sm2 import SM2PrivateKey
from certledger.datadir import init_data_dir
from certledger.runtime import Platform
from issuance import canonical
from issuance.verification import verify_data, verify_many, verify_ofd_file
from ledger import AnchorItem, EventKind as K, LifecycleEvent as Ev

TODAY = date(2026, 6, 1)


def _basic(i, **over):
    b = {"identifier": f"1.2.156.3005.2.T1.D1.{i:06d}.1.X", "name": "营业执照", "type_code": "T1",
         "issue_dept_code": "D1", "holder": f"某公司{i}", "holder_code": "91230100MA1B2C3D4E", "holder_type": "法人",
         "number": f"N{i}", "issue_date": "2026-01-01", "valid_from": "2026-01-01", "valid_to": "2030-12-31",
         "version": "1"}
    b.update(over)
    return b


VALUES = {"capital": "100万元", "scope": "软件开发"}


def _checks(v):
    return {c.name: c.ok for c in v.checks}


@pytest.fixture
def platform(tmp_path):
    d = tmp_path / "data"
    init_data_dir(d)
    p = Platform(load_settings(d, environ={}))
    yield p
    p.close()


@pytest.fixture
def anchored(platform):
    led = platform.ledger
    led.register_issuer("D1", "哈尔滨市市场监督管理局", ["T1"])
    led.register_issuer("D2", "大庆市市场监督管理局", ["T2"])
    basics = [_basic(i) for i in range(5)]
    digests = [canonical.ledger_digest(canonical.canonical_bytes(b, VALUES)) for b in basics]
    receipt = led.anchor_batch("D1", "T1", [AnchorItem(b["identifier"], d) for b, d in zip(basics, digests)])
    return led, basics, receipt


def test_genuine_data_passes_every_check(anchored):
    led, basics, receipt = anchored
    v = verify_data(led, basics[0], VALUES, proof=receipt.proofs[basics[0]["identifier"]], today=TODAY)
    assert v.valid and _checks(v) == {"ledger": True, "digest": True, "proof": True, "issuer": True,
                                      "status": True, "validity": True}
    assert v.ledger_block == receipt.block and v.as_dict()["checks"][0]["label"] == "链上记录"


def test_tampered_data_forged_proof_and_unknown_identifier_fail(anchored):
    led, basics, receipt = anchored
    v = verify_data(led, {**basics[1], "holder": "冒名公司"}, VALUES, proof=receipt.proofs[basics[1]["identifier"]],
                    today=TODAY)
    assert not v.valid and _checks(v)["digest"] is False and _checks(v)["proof"] is False
    forged = [os.urandom(32) for _ in receipt.proofs[basics[2]["identifier"]]]
    v = verify_data(led, basics[2], VALUES, proof=forged, today=TODAY)
    assert not v.valid and _checks(v)["proof"] is False and _checks(v)["digest"] is True
    v = verify_data(led, _basic(99), VALUES, today=TODAY)
    assert not v.valid and _checks(v) == {"ledger": False}
    v = verify_data(led, {**basics[0], "identifier": ""}, VALUES, today=TODAY)
    assert not v.valid and _checks(v) == {"data": False}


def test_statuses_from_the_ledger_and_dates(anchored):
    led, basics, _ = anchored
    led.record_event(Ev(basics[0]["identifier"], K.REVOKE, "D1", reason="吊销"))
    led.record_event(Ev(basics[1]["identifier"], K.REPORT_LOSS, "D1", reason="遗失"))
    led.record_event(Ev(basics[2]["identifier"], K.ANNUAL_REVIEW, "D1", next_review_due=date(2026, 3, 1)))
    for b, why in ((basics[0], "revoked"), (basics[1], "lost"), (basics[2], "overdue")):
        v = verify_data(led, b, VALUES, today=TODAY)
        assert not v.valid and _checks(v)["status"] is False and why in next(
            c.detail for c in v.checks if c.name == "status"), (why, v.checks)
    assert _checks(verify_data(led, basics[2], VALUES, today=date(2026, 2, 1)))["annual_review"] is True
    v = verify_data(led, basics[3], VALUES, today=date(2031, 1, 1))
    assert not v.valid and _checks(v)["validity"] is False and _checks(v)["status"] is True


def test_an_issuer_not_authorised_for_the_type_is_reported(anchored):
    led, basics, _ = anchored
    b = _basic(7, type_code="T2")   # claims type T2, anchored by D1 which holds only T1
    led.anchor_batch("D1", "T1", [AnchorItem(b["identifier"], canonical.ledger_digest(canonical.canonical_bytes(b, VALUES)))])
    v = verify_data(led, b, VALUES, today=TODAY)
    assert not v.valid and _checks(v)["issuer"] is False and _checks(v)["digest"] is True


def test_batch_verification_keeps_order(anchored):
    led, basics, _ = anchored
    out = verify_many(led, [(basics[0], VALUES), ({**basics[1], "number": "X"}, VALUES), (basics[2], VALUES)], TODAY)
    assert [v.valid for v in out] == [True, False, True] and [v.identifier for v in out] == [
        b["identifier"] for b in basics[:3]]


def test_a_sealed_ofd_file_carries_its_data_and_is_checked_twice(platform, anchored, tmp_path):
    from ofd.design import default_for
    from ofd.package import Package
    from ofd.writer import OFDMeta, write_ofd, zip_package
    from seals.ofd_sign import sign_ofd
    from seals.seal import make_seal

    led, basics, _ = anchored
    signer = SoftSM2Signer(SM2PrivateKey.generate())
    cert = platform.ca.issue("department", X.name("哈尔滨市市场监督管理局"), signer.public_key_der())
    now = datetime.now(timezone.utc)
    seal = make_seal(name="电子证照专用章", picture=b"\x89PNG\r\n\x1a\n", picture_type="PNG", width_mm=42, height_mm=42,
                     signer_certs=[cert], maker=signer, maker_cert=cert, valid_start=now - timedelta(days=1),
                     valid_end=now + timedelta(days=30))
    data = canonical.canonical_bytes(basics[4], VALUES).decode()
    meta = OFDMeta(basics[4]["identifier"], "营业执照", custom={canonical.DOCUMENT_DATA_KEY: data})
    doc = sign_ofd(write_ofd(default_for([]), {"holder": basics[4]["holder"]}, meta), seal, signer, cert)
    roots = [platform.ca.certificate]
    v = verify_ofd_file(led, doc, roots, today=TODAY)
    assert v.valid and _checks(v)["document"] is True and _checks(v)["digest"] is True, v.checks
    # the carried data changed: the seal breaks (OFD.xml is signed) and the digest no longer matches
    files = Package.load(doc).files
    files["OFD.xml"] = files["OFD.xml"].replace(basics[4]["holder"].encode(), "冒名公司".encode())
    v = verify_ofd_file(led, zip_package(files), roots, today=TODAY)
    assert not v.valid and _checks(v)["document"] is False and _checks(v)["digest"] is False
    # a genuine file of a certificate the ledger does not know, and a file without data
    v = verify_ofd_file(led, doc, [], today=TODAY)
    assert not v.valid and _checks(v)["document"] is False
    plain = sign_ofd(write_ofd(default_for([]), {}, OFDMeta("d", "t")), seal, signer, cert)
    assert _checks(verify_ofd_file(led, plain, roots, today=TODAY)) == {"data": False}
    assert _checks(verify_ofd_file(led, b"PK\x03\x04junk", roots, today=TODAY)) == {"document": False}
