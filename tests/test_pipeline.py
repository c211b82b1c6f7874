"""The issuance pipeline on the local store: steps, skip rule, failures and retry, crashes, batches, CLI.

Real parts throughout: SQLite database of an initialised data directory, LevelDB local ledger,
the platform CA, OFD writing and GB/T 38540 sealing, worker processes. Crashes are real: the
pipeline runs in a subprocess that kills itself (SIGKILL) at a chosen point.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from issuance import canonical, certificates, lifecycle
from issuance.certificates import Entry
from issuance.models import (Certificate, CertificateStatus as S, CertificateType, Department, IssuanceStep,
                             OutboxItem, SigningIdentity, StepStatus as SS)
from issuance.pipeline import ORDER, Step, issue, issuing_ids, progress, resume
from issuance.pipeline.steps import label
from ofd.design import default_for
from tests.helpers import approved_licence_type, basic, licence_values

ROOT = Path(__file__).resolve().parents[1]
COLUMNS = [("ENTNAME", "名称"), ("dom", "住所"), ("name", "法定代表人"), ("opscope", "经营范围")]


# --- builders --------------------------------------------------------------------------------

def with_design(world, t) -> None:
    from issuance import cert_types

    with world.uow() as uow:
        cert_types.save_surface_design(uow, world.dept_admin, t.id, default_for(COLUMNS).to_json())
        uow.commit()


@dataclass(frozen=True)
class Issued:
    id: int
    identifier: str


def issuing(world, t, seeds, **basic_over) -> list[Issued]:
    """Certificates of type ``t`` in status issuing: entered, then both reviews as batch decisions."""
    with world.uow() as uow:
        certs = certificates.enter_many(uow, world.clerk, t.id, [Entry(basic(i, **basic_over), licence_values(f"企业{i}"))
                                                                  for i in seeds])
        uow.commit()
    ids = [c.id for c in certs]
    with world.uow() as uow:
        certificates.submit_many(uow, world.clerk, ids)
        certificates.review_many(uow, world.reviewer, ids, certificates.ENTRY_REVIEW, True)
        certificates.review_many(uow, world.reviewer, ids, certificates.ISSUANCE_REVIEW, True)
        uow.commit()
    with world.uow() as uow:
        return [Issued(c.id, c.identifier) for c in (uow.session.get(Certificate, i) for i in ids)]


def steps_of(world, cert_id: int) -> dict[Step, IssuanceStep]:
    with world.platform.session_factory() as s:  # a plain session: the rows stay readable after it
        rows = s.execute(select(IssuanceStep).where(IssuanceStep.certificate_id == cert_id)).scalars().all()
        return {Step(r.step): r for r in rows}


def status_of(world, cert_id: int) -> S:
    with world.uow() as uow:
        return uow.session.get(Certificate, cert_id).status


def anchored_counts(platform) -> dict[str, int]:
    """How often each certificate appears in an anchored batch of the local store's log."""
    seen: dict[str, int] = {}
    for e in platform.ledger.export_entries():
        if e["kind"] == "batch":
            for cid, _digest in e["items"]:
                seen[cid] = seen.get(cid, 0) + 1
    return seen


def expected_digest(world, cert_id: int) -> bytes:
    with world.uow() as uow:
        return canonical.ledger_digest(lifecycle.canonical_data(uow, uow.session.get(Certificate, cert_id)))


def ofd_file(world, identifier: str) -> Path:
    return world.platform.settings.data_dir / "files" / "certificates" / f"{identifier}.ofd"


# --- the flow ----------------------------------------------------------------------------------

def test_type_with_surface_design_goes_through_all_six_steps(world):
    from seals.ofd_sign import verify_ofd
    from issuance.verification import verify_ofd_file

    t = approved_licence_type(world)
    with_design(world, t)
    certs = issuing(world, t, [1, 2])
    report = issue(world.platform, [c.id for c in certs], workers=0)
    assert report.ok and sorted(report.effective) == sorted(c.identifier for c in certs), report
    p = world.platform
    ca_root = p.ca.certificate
    for c in certs:
        assert status_of(world, c.id) is S.EFFECTIVE
        state = p.ledger.status(c.identifier)
        assert state is not None and state.status.value == "effective"
        assert state.digest == expected_digest(world, c.id)
        rows = steps_of(world, c.id)
        assert [rows[s].status for s in ORDER] == [SS.DONE] * 6
        for s in ORDER:
            r = rows[s]
            assert r.started_at is not None and r.ended_at is not None and r.started_at <= r.ended_at, s
            assert r.attempts == 1 and r.error == ""
        assert rows[Step.ENCRYPT].detail.startswith("sm3:") and "local:" in rows[Step.ANCHOR].detail
        # steps ran in flow order
        ends = [rows[s].ended_at for s in ORDER]
        assert ends == sorted(ends)
        data = ofd_file(world, c.identifier).read_bytes()
        reports = verify_ofd(data, [ca_root])
        assert len(reports) == 1 and reports[0].ok, [(ch.name, ch.detail) for ch in reports[0].checks if not ch.ok]
        verdict = verify_ofd_file(p.ledger, data, [ca_root])
        assert verdict.valid and verdict.identifier == c.identifier, verdict.as_dict()
    # one Merkle batch for the chunk, anchored once
    assert anchored_counts(p) == {c.identifier: 1 for c in certs}
    with world.uow() as uow:
        ident = uow.session.execute(select(SigningIdentity)).scalars().all()
        assert len(ident) == 1 and ident[0].department_id == world.dept.id
        assert b"BEGIN" not in ident[0].key_enc.encode() and ident[0].key_enc.startswith("sm4gcm1:")


def test_type_without_surface_design_skips_layout_signature_and_seal(world):
    t = approved_licence_type(world)
    (c,) = issuing(world, t, [1])
    report = issue(world.platform, [c.id], workers=0)
    assert report.effective == [c.identifier]
    rows = steps_of(world, c.id)
    assert {s: rows[s].status for s in ORDER} == {
        Step.ENCRYPT: SS.DONE, Step.LAYOUT: SS.SKIPPED, Step.SIGN: SS.SKIPPED, Step.SEAL: SS.SKIPPED,
        Step.ANCHOR: SS.DONE, Step.EFFECTIVE: SS.DONE}
    assert rows[Step.LAYOUT].started_at is None and rows[Step.LAYOUT].attempts == 0
    assert not ofd_file(world, c.identifier).exists()
    assert world.platform.ledger.status(c.identifier).digest == expected_digest(world, c.id)
    with world.uow() as uow:  # no signing identity was needed
        assert uow.session.scalar(select(func.count()).select_from(SigningIdentity)) == 0


def test_labels_follow_the_seed_and_the_blockchain_setting():
    assert [label(s) for s in ORDER] == ["证照加密", "生成版式文件", "电子签名", "电子印章", "上链", "生效"]
    assert label(Step.ANCHOR, blockchain_enabled=False) == "本地存储"
    assert label(Step.SIGN, language="en") == "Digital signature"


def test_progress_of_a_certificate_not_yet_issued_shows_the_plan(world):
    t = approved_licence_type(world)
    (c,) = issuing(world, t, [1])
    with world.uow() as uow:
        views = progress(uow.session, uow.session.get(Certificate, c.id))
    assert [v.status for v in views] == [SS.PENDING, SS.SKIPPED, SS.SKIPPED, SS.SKIPPED, SS.PENDING, SS.PENDING]


# --- failures and retry -------------------------------------------------------------------------

def test_corrupted_design_fails_the_layout_step_and_a_retry_after_fixing_finishes(world):
    t = approved_licence_type(world)
    with_design(world, t)
    (c,) = issuing(world, t, [1])
    with world.uow() as uow:  # damaged in the database: an element of an unknown kind
        uow.session.execute(update(CertificateType).where(CertificateType.id == t.id).values(
            surface_design={"version": 1, "elements": [{"kind": "hologram"}]}))
        uow.commit()
    report = issue(world.platform, [c.id], workers=0)
    assert report.effective == [] and report.failed[c.identifier][0] is Step.LAYOUT
    assert "surface design" in report.failed[c.identifier][1]
    rows = steps_of(world, c.id)
    assert rows[Step.ENCRYPT].status is SS.DONE and rows[Step.LAYOUT].status is SS.FAILED
    assert "hologram" in rows[Step.LAYOUT].error or "surface design" in rows[Step.LAYOUT].error
    assert [rows[s].status for s in (Step.SIGN, Step.SEAL, Step.ANCHOR, Step.EFFECTIVE)] == [SS.PENDING] * 4
    assert status_of(world, c.id) is S.ISSUING
    assert world.platform.ledger.status(c.identifier) is None
    with world.uow() as uow:  # resume leaves a failed certificate alone; naming it retries it
        assert issuing_ids(uow.session, include_failed=False) == []
    assert resume(world.platform, workers=0).effective == []
    with_design(world, t)  # fixed
    report = issue(world.platform, [c.id], workers=0)
    assert report.effective == [c.identifier] and report.ok
    rows = steps_of(world, c.id)
    assert rows[Step.LAYOUT].status is SS.DONE and rows[Step.LAYOUT].attempts == 2 and rows[Step.LAYOUT].error == ""
    assert rows[Step.ENCRYPT].attempts == 1  # done steps are not run again
    assert anchored_counts(world.platform) == {c.identifier: 1}


def test_seal_picture_that_cannot_be_made_fails_the_signature_until_the_name_is_fixed(world):
    """The seal picture holds the department's name on its rim, at most 40 characters."""
    t = approved_licence_type(world)
    with_design(world, t)
    (c,) = issuing(world, t, [1])
    long_name = "黑龙江省哈尔滨市某某区市场监督管理局行政审批与证照服务中心第一分中心综合业务受理窗口办公室"
    with world.uow() as uow:
        uow.session.get(Department, world.dept.id).name = long_name
        uow.commit()
    report = issue(world.platform, [c.id], workers=0)
    step, error = report.failed[c.identifier]
    assert step is Step.SIGN and "seal picture" in error and "40" in error
    rows = steps_of(world, c.id)
    assert rows[Step.LAYOUT].status is SS.DONE and rows[Step.SIGN].status is SS.FAILED
    assert rows[Step.SEAL].status is SS.PENDING and not ofd_file(world, c.identifier).exists()
    with world.uow() as uow:
        uow.session.get(Department, world.dept.id).name = "哈尔滨市市场监督管理局"
        uow.commit()
    assert issue(world.platform, [c.id], workers=0).effective == [c.identifier]
    assert steps_of(world, c.id)[Step.SIGN].attempts == 2


def test_the_face_carries_a_qr_code_that_scans_to_the_verification_url(world):
    import io

    import zxingcpp
    from PIL import Image

    from ofd.package import Package
    from ofd.qr import verification_url

    t = approved_licence_type(world)
    with_design(world, t)
    (c,) = issuing(world, t, [1])
    issue(world.platform, [c.id], workers=0)
    pkg = Package.load(ofd_file(world, c.identifier).read_bytes())
    pngs = [data for name, data in pkg.files.items() if name.startswith("Doc_0/Res/") and data.startswith(b"\x89PNG")]
    texts = [r.text for png in pngs for r in zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))]
    st = world.platform.settings.server
    assert texts == [verification_url(f"http://{st.host}:{st.port}", c.identifier)]
    face = pkg.files["Doc_0/Pages/Page_0/Content.xml"].decode()
    assert "企业1" in face and "2024年3月1日" in face  # holder, and the issue date as printed


def test_a_certificate_the_ledger_already_holds_is_not_anchored_again(world):
    """A database restored from a backup older than the anchor: the ledger's record is taken."""
    t = approved_licence_type(world)
    (c,) = issuing(world, t, [1])
    issue(world.platform, [c.id], workers=0)
    head = world.platform.ledger.head()
    with world.uow() as uow:  # the restored database: issuing, no steps, no outbox record
        uow.session.execute(update(Certificate).where(Certificate.id == c.id).values(status=S.ISSUING))
        uow.session.query(IssuanceStep).filter(IssuanceStep.certificate_id == c.id).delete()
        uow.session.query(OutboxItem).filter(OutboxItem.certificate_id == c.identifier).delete()
        uow.commit()
    report = issue(world.platform, [c.id], workers=0)
    assert report.effective == [c.identifier] and world.platform.ledger.head() == head
    assert "already on the ledger" in steps_of(world, c.id)[Step.ANCHOR].detail
    assert anchored_counts(world.platform) == {c.identifier: 1}


def test_a_new_version_issued_through_the_pipeline_supersedes_the_old_one_on_the_ledger(world):
    t = approved_licence_type(world)
    (old,) = issuing(world, t, [1])
    assert issue(world.platform, [old.id], workers=0).effective == [old.identifier]
    with world.uow() as uow:
        new = lifecycle.change(uow, world.clerk, old.id, "住所变更", values={"dom": "哈尔滨市道里区某路2号"})
        uow.commit()
        new = Issued(new.id, new.identifier)
    with world.uow() as uow:
        certificates.submit(uow, world.clerk, new.id)
        certificates.review_entry(uow, world.reviewer, new.id, True)
        certificates.review_issuance(uow, world.reviewer, new.id, True)
        uow.commit()
    assert issue(world.platform, [new.id], workers=0).effective == [new.identifier]
    assert status_of(world, old.id) is S.SUPERSEDED and status_of(world, new.id) is S.EFFECTIVE
    on_ledger = world.platform.ledger.status(old.identifier)
    assert on_ledger.status.value == "superseded" and on_ledger.superseded_by == new.identifier
    assert world.platform.ledger.status(new.identifier).digest == expected_digest(world, new.id)


def test_a_seal_made_outside_the_platform_fails_the_seal_step_until_the_identity_is_renewed(world, tmp_path):
    from datetime import datetime, timedelta, timezone

    from certledger.crypto.ca import CertificateAuthority
    from seals.seal import make_seal

    t = approved_licence_type(world)
    with_design(world, t)
    first, second = issuing(world, t, [1, 2])
    assert issue(world.platform, [first.id], workers=0).ok  # the department's identity now exists
    stranger = CertificateAuthority.create(tmp_path / "other-ca", os.urandom(16), "某私刻章机构", "X")
    now = datetime.now(timezone.utc)
    with world.uow() as uow:
        row = uow.session.execute(select(SigningIdentity)).scalar_one()
        row.seal_der = make_seal(name="私刻章", picture=b"\x89PNG\r\n\x1a\n", picture_type="PNG", width_mm=42,
                                 height_mm=42, signer_certs=[row.certificate_der], maker=stranger.signer,
                                 maker_cert=stranger.certificate_der, valid_start=now - timedelta(days=1),
                                 valid_end=now + timedelta(days=365))
        uow.commit()
    report = issue(world.platform, [second.id], workers=0)
    step, error = report.failed[second.identifier]
    assert step is Step.SEAL and "seal maker certificate" in error
    rows = steps_of(world, second.id)
    assert rows[Step.SIGN].status is SS.DONE and rows[Step.SEAL].status is SS.FAILED
    assert not ofd_file(world, second.identifier).exists()
    with world.uow() as uow:  # the forged identity removed: the next run makes a new one
        uow.session.query(SigningIdentity).delete()
        uow.commit()
    assert issue(world.platform, [second.id], workers=0).effective == [second.identifier]
    assert all(r.ok for r in verify_ofd_reports(world, second.identifier))


def verify_ofd_reports(world, identifier: str):
    from seals.ofd_sign import verify_ofd

    return verify_ofd(ofd_file(world, identifier).read_bytes(), [world.platform.ca.certificate])


def test_certificates_not_in_issuing_are_reported_and_left_alone(world):
    t = approved_licence_type(world)
    with world.uow() as uow:
        draft = certificates.enter(uow, world.clerk, t.id, basic(1), licence_values())
        uow.commit()
        draft = Issued(draft.id, draft.identifier)
    report = issue(world.platform, [draft.id, 999_999], workers=0)
    assert report.effective == [] and set(report.not_issuing) == {draft.identifier, "#999999"}
    assert steps_of(world, draft.id) == {}


# --- crashes ---------------------------------------------------------------------------------------

BIN = Path(sys.executable).with_name("certledger")


def cli(data_dir: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    e = {k: v for k, v in os.environ.items() if not k.startswith(("CERTLEDGER_", "BECP_"))}
    e.update(env or {})
    return subprocess.run([str(BIN), "--data-dir", str(data_dir), *args], capture_output=True, text=True, env=e,
                          timeout=120)


def outbox_anchors(world) -> dict[str, list[str]]:
    with world.platform.session_factory() as s:
        rows = s.execute(select(OutboxItem.certificate_id, OutboxItem.state).where(OutboxItem.kind == "anchor")).all()
    out: dict[str, list[str]] = {}
    for cid, state in rows:
        out.setdefault(cid, []).append(state)
    return out


def assert_finished_or_resumable(world, certs) -> None:
    """What a crash may leave: effective with every step finished, or issuing with no failed step."""
    for c in certs:
        rows = steps_of(world, c.id)
        if status_of(world, c.id) is S.EFFECTIVE:
            assert all(rows[s].status is SS.DONE for s in ORDER), c.identifier
        else:
            assert status_of(world, c.id) is S.ISSUING and all(r.status is not SS.FAILED for r in rows.values())


@pytest.mark.parametrize("point, count, chunk, workers", [
    ("encrypt", 5, 3, 0), ("documents", 5, 3, 0), ("enqueue", 5, 3, 0), ("ledger-write", 5, 3, 0),
    ("anchor", 5, 3, 0), ("effective", 5, 3, 0),
    ("documents", 70, 40, 2),  # with worker processes: they leave with the killed runner
])
def test_crash_at_any_point_then_resume_makes_each_certificate_effective_exactly_once(world, point, count, chunk,
                                                                                      workers):
    t = approved_licence_type(world)
    with_design(world, t)
    certs = issuing(world, t, range(1, count + 1))
    data_dir = world.platform.settings.data_dir
    world.platform.close()  # the subprocess needs the LevelDB store, which one process holds at a time
    # a worker left behind would keep the output pipe open and this call would time out
    r = cli(data_dir, "issue", "run", "--all-approved", "--chunk", str(chunk), "--workers", str(workers),
            env={"CERTLEDGER_TEST_CRASH_AFTER": point})
    assert r.returncode == -9, (r.returncode, r.stdout, r.stderr)
    assert_finished_or_resumable(world, certs)
    if point in ("encrypt", "documents"):
        assert all(status_of(world, c.id) is S.ISSUING for c in certs)
    if point == "effective":  # the first chunk finished, the second was under way
        assert [status_of(world, c.id) for c in certs].count(S.EFFECTIVE) == chunk
    waiting = sum(status_of(world, c.id) is S.ISSUING for c in certs)
    world.platform.close()
    r = cli(data_dir, "issue", "resume", "--workers", str(workers))
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"effective {waiting}, failed 0" in r.stdout
    assert all(status_of(world, c.id) is S.EFFECTIVE for c in certs)
    assert anchored_counts(world.platform) == {c.identifier: 1 for c in certs}
    assert outbox_anchors(world) == {c.identifier: ["done"] for c in certs}
    for c in certs:
        assert world.platform.ledger.status(c.identifier).digest == expected_digest(world, c.id)
        assert ofd_file(world, c.identifier).is_file()


def test_a_second_resume_finds_nothing_to_do(world):
    t = approved_licence_type(world)
    certs = issuing(world, t, [1, 2])
    assert sorted(resume(world.platform, workers=0).effective) == sorted(c.identifier for c in certs)
    head = world.platform.ledger.head()
    report = resume(world.platform, workers=0)
    assert report.effective == [] and report.ok and world.platform.ledger.head() == head


# --- batches -------------------------------------------------------------------------------------

def test_a_batch_of_500_is_made_in_worker_processes_and_anchored_one_merkle_batch_per_chunk(world):
    from seals.ofd_sign import verify_ofd

    t = approved_licence_type(world)
    with_design(world, t)
    certs = issuing(world, t, range(1, 501))
    report = issue(world.platform, [c.id for c in certs], workers=2, chunk_size=250)
    assert report.ok and len(report.effective) == 500, (report.failed, report.ledger_error)
    assert len(report.document_processes) == 2 and os.getpid() not in report.document_processes
    with world.uow() as uow:
        n = uow.session.scalar(select(func.count()).select_from(Certificate).where(Certificate.status == S.EFFECTIVE))
        done = uow.session.scalar(select(func.count()).select_from(IssuanceStep).where(IssuanceStep.status == SS.DONE))
    assert n == 500 and done == 500 * 6
    batches = [e for e in world.platform.ledger.export_entries() if e["kind"] == "batch"]
    assert [b["count"] for b in batches] == [250, 250]
    assert anchored_counts(world.platform) == {c.identifier: 1 for c in certs}
    for c in (certs[0], certs[249], certs[499]):
        assert all(r.ok for r in verify_ofd(ofd_file(world, c.identifier).read_bytes(), [world.platform.ca.certificate]))


# --- command line ----------------------------------------------------------------------------------

def test_cli_run_and_status_show_each_step_with_times_and_errors(world):
    from click.testing import CliRunner

    from certledger.cli import cli as main

    t = approved_licence_type(world)
    with_design(world, t)
    good, bad = issuing(world, t, [1, 2])
    data_dir = str(world.platform.settings.data_dir)
    world.platform.close()
    runner = CliRunner()
    r = runner.invoke(main, ["--data-dir", data_dir, "issue", "run"])
    assert r.exit_code == 2 and "--all-approved" in r.output
    r = runner.invoke(main, ["--data-dir", data_dir, "issue", "run", good.identifier, "--workers", "0"])
    assert r.exit_code == 0, r.output
    assert "effective 1, failed 0" in r.output
    r = runner.invoke(main, ["--data-dir", data_dir, "issue", "status", good.identifier])
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    assert "status: effective" in lines[0]
    for n, (step, zh) in enumerate(zip(ORDER, ["证照加密", "生成版式文件", "电子签名", "电子印章", "本地存储", "生效"]), 1):
        assert lines[n].startswith(f"{n} {step.value}") and zh in lines[n] and " done " in lines[n], lines[n]
        assert lines[n].count("Z") >= 2  # start and end times
    with world.uow() as uow:
        uow.session.execute(update(CertificateType).where(CertificateType.id == t.id).values(
            surface_design={"version": 1, "width": 5}))
        uow.commit()
    world.platform.close()
    r = runner.invoke(main, ["--data-dir", data_dir, "issue", "run", "--type-id", str(t.id), "--workers", "0"])
    assert r.exit_code == 1 and f"failed {bad.identifier} at layout (生成版式文件)" in r.output
    r = runner.invoke(main, ["--data-dir", data_dir, "issue", "status", bad.identifier])
    assert "status: issuing" in r.output and "failed" in r.output and "error: " in r.output
    assert "width" in r.output  # the design's problem is named
