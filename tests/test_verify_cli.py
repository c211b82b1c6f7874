"""`certledger verify`: an issued certificate by identifier and by its file, after revocation,
and a tampered file; exit 0 only for a valid certificate."""

import shutil

from click.testing import CliRunner

from certledger.cli import cli as main
from issuance import lifecycle
from issuance.anchoring import Worker
from issuance.pipeline import issue
from tests.helpers import approved_licence_type
from tests.test_pipeline import issuing, ofd_file, with_design


def _run(data_dir, *args):
    return CliRunner().invoke(main, ["--data-dir", data_dir, "verify", *args])


def test_verify_by_identifier_and_file_then_after_revocation(world, tmp_path):
    from ofd.package import Package
    from ofd.writer import zip_package

    t = approved_licence_type(world)
    with_design(world, t)
    cert, other = issuing(world, t, [1, 2])
    assert issue(world.platform, [cert.id, other.id], workers=0).ok
    data_dir = str(world.platform.settings.data_dir)
    copy = tmp_path / "presented.ofd"
    shutil.copy(ofd_file(world, cert.identifier), copy)
    world.platform.close()

    r = _run(data_dir, cert.identifier)
    assert r.exit_code == 0, r.output
    assert "[ok] 链上记录 (ledger)" in r.output and "[ok] 默克尔证明 (proof)" in r.output
    assert "[ok] 版式文件签章 (document)" in r.output and "VALID 有效" in r.output
    r = _run(data_dir, str(copy))
    assert r.exit_code == 0 and "[ok] 数据摘要 (digest)" in r.output, r.output

    files = Package.load(copy.read_bytes()).files
    page = "Doc_0/Pages/Page_0/Content.xml"
    files[page] = files[page] + b" "
    tampered = tmp_path / "tampered.ofd"
    tampered.write_bytes(zip_package(files))
    r = _run(data_dir, str(tampered))
    assert r.exit_code == 1 and "[FAIL] 版式文件签章 (document)" in r.output and "NOT VALID" in r.output

    with world.uow() as uow:
        lifecycle.revoke(uow, world.clerk, cert.id, "吊销营业执照")
        uow.commit()
    Worker(world.platform.session_factory, world.platform.ledger).drain()
    world.platform.close()
    r = _run(data_dir, cert.identifier)
    assert r.exit_code == 1 and "[FAIL] 证照状态 (status)" in r.output and "revoked" in r.output, r.output
    r = _run(data_dir, other.identifier)
    assert r.exit_code == 0, r.output

    r = _run(data_dir, "1.2.156.3005.2.NOPE")
    assert r.exit_code == 1 and "no certificate" in r.output
