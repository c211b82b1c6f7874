"""End to end in both ledger modes: 1,000 certificates entered, issued with documents and
verified; then revoked, lost, reviewed and changed ones verified again; tampered data, a
tampered file, a forged proof and a department not authorised for the type are caught."""

import os
from datetime import date, timedelta

import pytest
from certledger.config import load_settings
from certledger.datadir import init_data_dir
from certledger.runtime import Platform
from issuance import certificates, lifecycle
from issuance.anchoring import Worker
from issuance.models import Certificate, CertificateStatus as S
from issuance.pipeline import issue
from issuance.verification import verify_data, verify_ofd_file
from issuance import canonical
from ofd.package import Package
from ofd.writer import zip_package
from ledger import AnchorItem
from tests.conftest import FAST_HASHING, make_world
from tests.helpers import approved_licence_type
from tests.test_pipeline import issuing, ofd_file, with_design

pytestmark = pytest.mark.slow
N = 1000


@pytest.fixture(params=["local", "chain"])
def world(request, tmp_path):
    d = tmp_path / "data"
    init_data_dir(d, blockchain_enabled=request.param == "chain")
    platform = Platform(load_settings(d, environ=FAST_HASHING))
    try:
        yield make_world(platform)
    finally:
        platform.close()


def _verify(world, cert_id, today=None):
    with world.uow() as uow:
        cert = uow.session.get(Certificate, cert_id)
        basic, values = canonical.parse(lifecycle.canonical_data(uow, cert))
    return verify_data(world.platform.ledger, basic, values, today=today)


def _committed(world, fn, *args, **kw):
    with world.uow() as uow:
        out = fn(uow, *args, **kw)
        uow.commit()
        return out


def test_thousand_certificates_through_their_whole_life(world, tmp_path):
    t = approved_licence_type(world, annual_review=True)
    with_design(world, t)
    first_due = date.today() + timedelta(days=200)
    certs = issuing(world, t, range(1, N + 1), next_review_due=first_due.isoformat())
    report = issue(world.platform, [c.id for c in certs], workers=2)
    assert report.ok and len(report.effective) == N, report.failed
    led = world.platform.ledger
    assert all(_verify(world, c.id).valid for c in certs)
    # the ledger knows each first due date from issuance: never reviewed and past it is overdue
    assert led.status(certs[0].identifier).next_review_due == first_due
    late = _verify(world, certs[0].id, today=first_due + timedelta(days=1))
    assert not late.valid and "overdue" in next(c.detail for c in late.checks if c.name == "status")

    revoked, lost, renewed, changed = certs[10:15], certs[20:25], certs[30:35], certs[40]
    for c in revoked:
        _committed(world, lifecycle.revoke, world.clerk, c.id, "吊销")
    for c in lost:
        _committed(world, lifecycle.report_loss, world.clerk, c.id, "遗失")
    due = date.today() + timedelta(days=365)
    for c in renewed:
        _committed(world, lifecycle.pass_annual_review, world.clerk, c.id, due)
    v2 = _committed(world, lifecycle.change, world.clerk, changed.id, "变更住所",
                    values={"dom": "哈尔滨市道里区新址2号"}).id
    _committed(world, certificates.submit, world.clerk, v2)
    _committed(world, certificates.review_entry, world.reviewer, v2, True)
    _committed(world, certificates.review_issuance, world.reviewer, v2, True)
    assert issue(world.platform, [v2], workers=0).ok
    drained = Worker(world.platform.session_factory, led).drain()
    assert drained.waiting == 0, drained

    def status_check(cid):
        return next(c for c in _verify(world, cid).checks if c.name == "status")

    assert all("revoked" in status_check(c.id).detail for c in revoked)
    assert all("lost" in status_check(c.id).detail for c in lost)
    assert all(_verify(world, c.id).valid and led.status(c.identifier).next_review_due == due for c in renewed)
    assert "superseded" in status_check(changed.id).detail and _verify(world, v2).valid
    assert _verify(world, certs[-1].id).valid
    with world.uow() as uow:
        assert uow.session.get(Certificate, changed.id).status is S.SUPERSEDED

    # tampered data, a tampered file, a forged proof
    with world.uow() as uow:
        basic, values = canonical.parse(lifecycle.canonical_data(uow, uow.session.get(Certificate, certs[50].id)))
    assert not verify_data(led, {**basic, "holder": "冒名公司"}, values).valid
    forged = [os.urandom(32) for _ in range(10)]
    v = verify_data(led, basic, values, proof=forged)
    assert not v.valid and next(c for c in v.checks if c.name == "proof").ok is False
    doc = ofd_file(world, certs[60].identifier).read_bytes()
    roots = [world.platform.ca.certificate]
    assert verify_ofd_file(led, doc, roots).valid
    files = Package.load(doc).files
    page = "Doc_0/Pages/Page_0/Content.xml"
    files[page] = files[page].replace("企业".encode(), "他人".encode())
    v = verify_ofd_file(led, zip_package(files), roots)
    assert not v.valid and next(c for c in v.checks if c.name == "document").ok is False

    # a department the ledger knows, not authorised for this type, anchors a look-alike
    led.register_issuer("OTHER", "某无权部门", ["T-OTHER"])
    fake = {**basic, "identifier": basic["identifier"] + "F"}
    led.anchor_batch("OTHER", "T-OTHER", [AnchorItem(fake["identifier"], canonical.ledger_digest(
        canonical.canonical_bytes(fake, values)))])
    v = verify_data(led, fake, values)
    assert not v.valid and next(c for c in v.checks if c.name == "issuer").ok is False
