"""`certledger verify`: an issued certificate by identifier and by its file, after revocation,
and a tampered file; exit 0 only for a valid certificate."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
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


def _cli(data_dir, *args):
    return CliRunner().invoke(main, ["--data-dir", data_dir, *args])


def test_pdf_rendition_rendered_by_the_cli_and_verified_from_the_file(world, tmp_path):
    from PIL import Image

    t = approved_licence_type(world)
    with_design(world, t)
    (cert,) = issuing(world, t, [1])
    assert issue(world.platform, [cert.id], workers=0).ok
    data_dir = str(world.platform.settings.data_dir)
    world.platform.close()

    r = _cli(data_dir, "doc", "render", cert.identifier, "--format", "pdf")
    assert r.exit_code == 0, r.output
    pdf = Path(r.output.strip())
    assert pdf.name == f"{cert.identifier}.pdf" and pdf.read_bytes().startswith(b"%PDF")
    r = _cli(data_dir, "doc", "render", cert.identifier)  # pdf by default, the kept file
    assert r.exit_code == 0 and Path(r.output.strip()) == pdf
    r = _cli(data_dir, "doc", "render", cert.identifier, "--format", "png")
    assert r.exit_code == 0 and Image.open(r.output.strip()).format == "PNG", r.output

    copy = tmp_path / "presented.pdf"
    shutil.copy(pdf, copy)
    r = _run(data_dir, str(copy))
    assert r.exit_code == 0, r.output
    assert "[ok] 版式文件签章 (document)" in r.output and "[ok] 数据摘要 (digest)" in r.output
    assert f"{cert.identifier}: VALID 有效" in r.output
    r = _cli(data_dir, "doc", "verify", str(copy))  # the PAdES checks alone agree
    assert r.exit_code == 0 and "seal 1: VALID" in r.output, r.output

    tampered = bytearray(copy.read_bytes())
    i = tampered.index(b'"holder":"') + len(b'"holder":"')  # the carried data names another holder
    tampered[i:i + 3] = "张".encode()
    bad = tmp_path / "tampered.pdf"
    bad.write_bytes(bytes(tampered))
    r = _run(data_dir, str(bad))
    assert r.exit_code == 1 and "[FAIL] 版式文件签章 (document)" in r.output and "NOT VALID" in r.output, r.output
    assert "[FAIL] 数据摘要 (digest)" in r.output

    r = _cli(data_dir, "doc", "render", "1.2.156.3005.2.NOPE")
    assert r.exit_code == 1 and "error: certificate 1.2.156.3005.2.NOPE not found" in r.output, r.output
    r = _cli(data_dir, "doc", "render", cert.identifier, "--format", "tiff")
    assert r.exit_code == 2 and "tiff" in r.output


def test_verify_an_unreadable_file_says_so_in_one_line(world, tmp_path):
    data_dir = str(world.platform.settings.data_dir)
    world.platform.close()
    folder = tmp_path / "a-folder.ofd"
    folder.mkdir()
    dangling = tmp_path / "gone.pdf"
    dangling.symlink_to(tmp_path / "nowhere.pdf")
    for target, why in ((folder, "Is a directory"), (dangling, "No such file or directory")):
        r = _run(data_dir, str(target))
        assert r.exit_code != 0 and "Traceback" not in r.output, r.output
        assert r.output.strip().splitlines() == [f"Error: {target}: cannot read the file: {why}"], r.output

    locked = tmp_path / "locked.ofd"
    locked.write_bytes(b"PK\x03\x04")
    locked.chmod(0)
    command = [str(Path(sys.executable).with_name("certledger")), "--data-dir", data_dir, "verify", str(locked)]
    if os.geteuid() == 0:  # root reads anything: run the command without the capabilities that allow it
        if not shutil.which("setpriv"):
            pytest.skip("running as root without setpriv: a permission error cannot be produced")
        command = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search", "--inh-caps", "-all", *command]
    r = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert r.returncode != 0 and "Traceback" not in r.stderr, r.stderr
    assert (r.stdout + r.stderr).strip().splitlines() == [f"Error: {locked}: cannot read the file: Permission denied"]
