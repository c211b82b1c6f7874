"""The `certledger` command, run as a real process where exit codes and output lines matter."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from certledger.cli import cli
from ledger.interface import LedgerError

BIN = Path(sys.executable).with_name("certledger")


def run(*args, env=None, data=None):
    e = {k: v for k, v in os.environ.items() if not k.startswith(("CERTLEDGER_", "BECP_"))}
    e.update(env or {})
    cmd = [str(BIN)] + (["--data-dir", str(data)] if data else []) + list(args)
    return subprocess.run(cmd, capture_output=True, text=True, env=e, timeout=120)


@pytest.fixture(scope="module")
def initialised(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli") / "data"
    r = run("init", "--local", str(d))
    assert r.returncode == 0, r.stderr
    return d


def test_init_by_default_makes_a_deployment_on_its_own_chain(tmp_path):
    import json

    d = tmp_path / "data"
    r = run("init", str(d))
    assert r.returncode == 0, r.stderr
    assert "own ledger chain" in r.stdout
    assert "enabled = true" in (d / "config.toml").read_text()
    genesis = json.loads((d / "node" / "genesis.json").read_text())
    extra = bytes.fromhex(genesis["extraData"][2:])
    assert len(extra) == 32 + 20 + 65 and extra[32:52] != b"\0" * 20  # one validator: this node's key
    admin = json.loads(next((d / "keystores").glob("platform-admin*")).read_text())["address"].lower()
    assert any(a.lower().removeprefix("0x") == admin.removeprefix("0x") for a in genesis["alloc"])
    assert not (d / "ledger").exists()
    r = run("config", "check", env={"CERTLEDGER_DATA": str(d)})
    assert r.returncode == 0 and "chain" in r.stdout, r.stdout


def test_init_creates_a_complete_data_directory(initialised):
    d = initialised
    assert (d / "config.toml").exists() and (d / "certledger.db").exists() and (d / "keys" / "kek.bin").exists()
    assert (d / "ledger").is_dir()
    assert (d / "keys" / "kek.bin").stat().st_mode & 0o077 == 0
    pw = (d / "keys" / "initial_admin_password").read_text().strip()
    assert len(pw) >= 12
    cfg = (d / "config.toml").read_text()
    assert "secret_key" in cfg and pw not in cfg
    assert "[jobs]\noverdue_interval_seconds = 86400\noutbox_interval_seconds = 10" in cfg  # scheduled jobs, shown to operators


def test_init_refuses_an_initialised_directory_unless_exist_ok(initialised):
    r = run("init", str(initialised))
    assert r.returncode == 1 and "already a data directory" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert run("init", "--exist-ok", str(initialised)).returncode == 0


def test_a_failed_init_leaves_no_directory_and_init_runs_again(tmp_path):
    d = tmp_path / "new" / "data"
    # the database cannot be opened: fails while the schema is made
    r = run("init", "--local", str(d), "--database-url", f"sqlite:///{tmp_path / 'missing' / 'x.db'}")
    assert r.returncode == 1 and r.stderr.strip().splitlines() == [
        "config error: database.url cannot be used (unable to open database file); nothing was created"]
    assert list(tmp_path.iterdir()) == []  # no data directory, no parent made for it, no hidden work folder
    # a weak admin password: fails after the directory is complete, while the first admin is made
    r = run("init", "--local", str(d), "--admin-password", "short")
    assert r.returncode == 1 and "at least 8 characters" in r.stderr
    assert list(tmp_path.iterdir()) == []
    r = run("init", "--local", str(d))
    assert r.returncode == 0, r.stderr
    assert (d / "config.toml").exists() and (d / "keys" / "initial_admin_password").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["new"] and [p.name for p in d.parent.iterdir()] == ["data"]


def test_a_failed_init_in_an_existing_directory_removes_only_what_it_made(tmp_path):
    d = tmp_path / "volume"
    (d / "keys").mkdir(parents=True)
    (d / "notes.txt").write_text("the operator's own")
    (d / "keys" / "README").write_text("kept")
    before = sorted(p.relative_to(d) for p in d.rglob("*"))
    r = run("init", "--local", str(d), "--admin-password", "short")
    assert r.returncode == 1 and "at least 8 characters" in r.stderr
    assert sorted(p.relative_to(d) for p in d.rglob("*")) == before
    assert (d / "notes.txt").read_text() == "the operator's own"
    r = run("init", "--local", str(d))
    assert r.returncode == 0, r.stderr
    assert (d / "config.toml").exists() and (d / "notes.txt").exists() and (d / "keys" / "README").exists()


@pytest.mark.parametrize("failure", [LedgerError("node init failed: no genesis"), KeyboardInterrupt()],
                         ids=["error", "ctrl-c"])
def test_a_node_init_failure_leaves_no_directory(tmp_path, monkeypatch, failure):
    """The own chain's node is made last; when it fails, keys, CAs and database go too."""
    import certledger.embedded_node

    made_before_the_node = []

    def failing_init_node(data_dir, admin_address):
        made_before_the_node.extend(p.name for p in Path(data_dir).iterdir())
        raise failure

    for name in [k for k in os.environ if k.startswith(("CERTLEDGER_", "BECP_"))]:
        monkeypatch.delenv(name)
    monkeypatch.setattr(certledger.embedded_node, "init_node", failing_init_node)
    d = tmp_path / "data"
    result = CliRunner().invoke(cli, ["init", str(d)])
    assert result.exit_code == 1
    assert "node init failed" in result.output if isinstance(failure, LedgerError) else "Aborted" in result.output
    assert {"config.toml", "keys", "keystores", "certledger.db", "ca"} <= set(made_before_the_node)
    assert list(tmp_path.iterdir()) == []
    monkeypatch.undo()
    r = run("init", str(d))
    assert r.returncode == 0, r.stderr
    assert (d / "node" / "genesis.json").exists()


def test_data_dir_from_environment(initialised):
    r = run("config", "check", env={"CERTLEDGER_DATA": str(initialised)})
    assert r.returncode == 0 and "local store" in r.stdout


def test_config_typo_stops_with_one_line(initialised, tmp_path):
    import shutil

    d = tmp_path / "typo"
    shutil.copytree(initialised, d)
    with open(d / "config.toml", "a") as f:
        f.write("\n[ledger]\npth = 'x'\n")
    r = run("config", "check", data=d)
    assert r.returncode == 1
    assert r.stderr.strip().splitlines() == [
        f"config error: unknown key 'ledger.pth' in {d / 'config.toml'} (did you mean 'ledger.path'?)"]


def test_bad_environment_value_stops_serve_with_one_line(initialised):
    r = run("serve", data=initialised, env={"CERTLEDGER_SERVER__PORT": "eighty"})
    assert r.returncode == 1 and len(r.stderr.strip().splitlines()) == 1 and "server.port" in r.stderr


def test_missing_data_directory(tmp_path):
    r = run("config", "check", data=tmp_path / "nowhere")
    assert r.returncode == 1 and "is not a data directory" in r.stderr


def test_config_show_masks_secrets(initialised):
    r = run("config", "show", data=initialised)
    assert r.returncode == 0 and "server.secret_key = '********'" in r.stdout
    assert "blockchain.enabled = False" in r.stdout
    assert "jobs.overdue_interval_seconds = 86400" in r.stdout


def test_seed_alias_switches_ledger_mode(initialised):
    r = run("config", "check", data=initialised, env={"BECP_ECMS_BLOCKCHAIN_ENABLED": "true"})
    assert r.returncode == 0 and "chain" in r.stdout


def test_users_create_list_unlock_and_audit(initialised):
    r = run("user", "create", "auditor1", "--password", "Audit-pass-9", "--name", "审计员", data=initialised)
    assert r.returncode == 0, r.stderr
    r = run("user", "create", "weak", "--password", "short", data=initialised)
    assert r.returncode == 1 and "at least 8 characters" in r.stderr
    r = run("user", "list", data=initialised)
    assert "auditor1" in r.stdout and "admin" in r.stdout
    r = run("user", "unlock", "ghost", data=initialised)
    assert r.returncode == 1 and "no user ghost" in r.stderr
    r = run("audit", "check", data=initialised)
    assert r.returncode == 0 and "audit log ok" in r.stdout


def test_db_current_is_head(initialised):
    r = run("db", "current", data=initialised)
    from certledger.db.migrate import head_revision

    assert r.returncode == 0 and r.stdout.split()[0] == head_revision() and r.stdout.strip().endswith(f"(head {head_revision()})")


def test_in_process_help_lists_commands():
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    for cmd in ("init", "serve", "ledger", "user", "config", "db", "audit"):
        assert cmd in result.output


def test_ledger_check_good_then_tampered(initialised, tmp_path):
    import shutil

    import plyvel

    from ledger import AnchorItem
    from ledger.local import LocalLedger
    from ledger.local import layout as L

    d = tmp_path / "ledgered"
    shutil.copytree(initialised, d)
    with LocalLedger(d / "ledger") as s:
        s.register_issuer("D1", "d", ["T1"])
        s.anchor_batch("D1", "T1", [AnchorItem(f"c{i}", bytes([i]) * 32) for i in range(3)])
    r = run("ledger", "check", data=d)
    assert r.returncode == 0 and "ledger ok: 2 entries" in r.stdout
    db = plyvel.DB(str(d / "ledger"))
    raw = bytearray(db.get(L.log_key(2)))
    raw[40] ^= 1
    db.put(L.log_key(2), bytes(raw))
    db.close()
    r = run("ledger", "check", data=d)
    assert r.returncode == 1 and r.stderr.strip() == "ledger BROKEN: entry 2: hash mismatch: its content or its hash was changed"


def test_chain_mode_without_a_node_stops_serve_with_one_line(initialised):
    """A local-store deployment switched to the chain has no node of its own and names no RPC URL."""
    r = run("serve", data=initialised, env={"CERTLEDGER_BLOCKCHAIN__ENABLED": "true"})
    assert r.returncode == 1 and len(r.stderr.strip().splitlines()) == 1
    assert "no ledger node in" in r.stderr and "blockchain.rpc_url" in r.stderr
    r = run("serve", data=initialised, env={"CERTLEDGER_BLOCKCHAIN__ENABLED": "true",
                                            "CERTLEDGER_BLOCKCHAIN__RPC_URL": "http://127.0.0.1:9"})
    assert r.returncode == 1 and len(r.stderr.strip().splitlines()) == 1 and "cannot reach the chain" in r.stderr


def test_doc_verify_good_tampered_and_not_a_document(initialised, tmp_path):
    """A document sealed with a department certificate from the platform CA of the data dir."""
    from datetime import datetime, timedelta, timezone

    from certledger.config import load_settings
    from certledger.crypto import x509 as X
    from certledger.crypto.signers import SoftSM2Signer
    from certledger.crypto.sm2 import SM2PrivateKey
    from certledger.runtime import Platform
    from ofd.design import default_for
    from ofd.package import Package
    from ofd.writer import OFDMeta, write_ofd, zip_package
    from seals.ofd_sign import sign_ofd
    from seals.seal import make_seal

    platform = Platform(load_settings(initialised, environ={}))
    ca = platform.ca
    signer = SoftSM2Signer(SM2PrivateKey.generate())
    cert = ca.issue("department", X.name("测试局"), signer.public_key_der())
    now = datetime.now(timezone.utc)
    seal = make_seal(name="章", picture=b"\x89PNG\r\n\x1a\n", picture_type="PNG", width_mm=42, height_mm=42,
                     signer_certs=[cert], maker=signer, maker_cert=cert, valid_start=now - timedelta(days=1),
                     valid_end=now + timedelta(days=30))
    doc = sign_ofd(write_ofd(default_for([]), {"holder": "某某"}, OFDMeta("d", "t")), seal, signer, cert)
    good = tmp_path / "good.ofd"
    good.write_bytes(doc)
    r = run("doc", "verify", str(good), data=initialised)
    assert r.returncode == 0 and "seal 1: VALID" in r.stdout and "[ok] file digests" in r.stdout, r.stdout + r.stderr
    files = Package.load(doc).files
    files["Doc_0/Pages/Page_0/Content.xml"] = files["Doc_0/Pages/Page_0/Content.xml"].replace("某某".encode(), "他人".encode())
    bad = tmp_path / "bad.ofd"
    bad.write_bytes(zip_package(files))
    r = run("doc", "verify", str(bad), data=initialised)
    assert r.returncode == 1 and "[FAIL] file digests" in r.stdout
    junk = tmp_path / "junk.ofd"
    junk.write_bytes(b"PK\x03\x04 not really")
    r = run("doc", "verify", str(junk), data=initialised)
    assert r.returncode == 1 and len(r.stderr.strip().splitlines()) == 1


def test_seal_generate(tmp_path):
    out = tmp_path / "seal.png"
    r = run("seal", "generate", "--style", "official", "--text", "哈尔滨市市场监督管理局", "--bottom", "电子证照专用章",
            "--out", str(out))
    assert r.returncode == 0 and out.read_bytes().startswith(b"\x89PNG")
    r = run("seal", "generate", "--style", "official", "--text", "", "--out", str(out))
    assert r.returncode == 1 and "1-40 characters" in r.stderr


def test_doc_verify_pdf(initialised, tmp_path):
    from cryptography.hazmat.primitives import serialization

    from certledger.config import load_settings
    from certledger.crypto import x509 as X
    from certledger.crypto.signers import SoftECDSASigner
    from certledger.runtime import Platform
    from ofd.design import default_for
    from ofd.pdf import render_pdf
    from seals.pdf_sign import sign_pdf
    from seals.picture import generate

    ca = Platform(load_settings(initialised, environ={})).pdf_ca
    k = SoftECDSASigner()
    cert = ca.issue("pdf", X.name("测试局"), k.public_key_der())
    key = k.key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    pdf = tmp_path / "face.pdf"
    pdf.write_bytes(sign_pdf(render_pdf(default_for([]), {"holder": "某某"}), generate("party", "测试局"), key, cert,
                             [ca.certificate_der]))
    r = run("doc", "verify", str(pdf), data=initialised)
    assert r.returncode == 0 and "seal 1: VALID" in r.stdout, r.stdout + r.stderr
    plain = tmp_path / "plain.pdf"
    plain.write_bytes(render_pdf(default_for([]), {"holder": "某某"}))
    r = run("doc", "verify", str(plain), data=initialised)
    assert r.returncode == 1 and "no seal" in r.stdout


def test_ledger_drain_writes_the_outbox(initialised, tmp_path):
    import os
    import shutil

    from certledger.config import load_settings
    from certledger.runtime import Platform
    from issuance.anchoring import enqueue_anchor

    d = tmp_path / "drain"
    shutil.copytree(initialised, d)
    p = Platform(load_settings(d, environ={}))
    p.ledger.register_issuer("D1", "测试局", ["T1"])
    with p.session_factory() as s:
        for i in range(7):
            enqueue_anchor(s, f"c{i}", "D1", "T1", os.urandom(32))
        enqueue_anchor(s, "x0", "NOBODY", "T1", os.urandom(32))
        s.commit()
    p.close()
    r = run("ledger", "drain", data=d)
    assert r.returncode == 1 and "anchored 7" in r.stdout and "waiting 1" in r.stdout
    assert "NOBODY is not an active registered issuer" in r.stderr


def test_serve_on_a_busy_port_says_so_in_one_line(initialised):
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        r = run("serve", "--port", str(port), data=initialised)
    assert r.returncode == 1 and f"cannot listen on 127.0.0.1:{port}" in r.stderr
    assert "Traceback" not in r.stderr
