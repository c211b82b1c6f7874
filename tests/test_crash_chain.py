"""SIGKILL in the middle of a 10,000-certificate batch on the deployment's own chain, then resume.

Real parts only: a chain-mode data directory with its embedded ledger node (started here and
shared, as a running node is by `certledger serve`), the SQLite database, the `certledger issue`
command in a subprocess killed from outside with SIGKILL while it works (not at a chosen point:
the six chosen points are tested on the local store in test_pipeline), then `certledger issue
resume`. What must hold is counted on the chain itself: the BatchAnchored logs of the ledger
contract add up to exactly 10,000 certificates, each certificate's record leads to one of those
batches, and every certificate is effective once in the database.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest
from sqlalchemy import func, select

from certledger.config import load_settings
from certledger.datadir import init_data_dir
from certledger.embedded_node import EmbeddedNode
from certledger.runtime import Platform
from issuance import canonical, lifecycle
from issuance.models import Certificate, CertificateStatus as S, OutboxItem
from tests.conftest import FAST_HASHING, make_world
from tests.helpers import approved_licence_type
from tests.test_pipeline import BIN, issuing, with_design

pytestmark = pytest.mark.slow
N = 10_000
KILL_AFTER = 2_500  # effective certificates seen before the kill: well inside the batch


def _effective(platform) -> int:
    with platform.session_factory() as s:
        return s.scalar(select(func.count()).select_from(Certificate).where(Certificate.status == S.EFFECTIVE))


def _cli_env() -> dict:
    e = {k: v for k, v in os.environ.items() if not k.startswith(("CERTLEDGER_", "BECP_"))}
    e.update(FAST_HASHING)
    return e


def test_sigkill_in_a_10000_batch_on_the_chain_then_resume_anchors_each_certificate_once(tmp_path):
    data_dir = tmp_path / "data"
    init_data_dir(data_dir, blockchain_enabled=True)
    node = EmbeddedNode(data_dir)
    node.ensure()  # kept running across the processes below, as under `certledger serve`
    try:
        platform = Platform(load_settings(data_dir, environ=FAST_HASHING))
        world = make_world(platform)
        t = approved_licence_type(world)
        with_design(world, t)
        certs = issuing(world, t, range(1, N + 1))
        platform.ledger  # deploys the contracts now, so the killed run does not
        platform.close()  # the chain index (LevelDB) is held by one process at a time

        run = subprocess.Popen([str(BIN), "--data-dir", str(data_dir), "issue", "run", "--all-approved",
                                "--workers", "2"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=_cli_env())
        deadline = time.time() + 900
        while True:
            assert run.poll() is None, run.stdout.read().decode(errors="replace")[-2000:]
            if _effective(platform) >= KILL_AFTER:
                break
            assert time.time() < deadline, "the run made no progress"
            time.sleep(0.2)
        run.send_signal(signal.SIGKILL)
        assert run.wait(timeout=60) == -9
        run.stdout.close()
        killed_at = _effective(platform)
        assert KILL_AFTER <= killed_at < N, killed_at

        r = subprocess.run([str(BIN), "--data-dir", str(data_dir), "issue", "resume", "--workers", "2"],
                           capture_output=True, text=True, env=_cli_env(), timeout=1800)
        assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
        assert "failed 0" in r.stdout, r.stdout[-2000:]

        platform = Platform(load_settings(data_dir, environ=FAST_HASHING))
        try:
            assert _effective(platform) == N
            with platform.session_factory() as s:
                anchors = s.execute(select(OutboxItem.certificate_id, func.count()).where(OutboxItem.kind == "anchor")
                                    .group_by(OutboxItem.certificate_id)).all()
                states = set(s.scalars(select(OutboxItem.state).where(OutboxItem.kind == "anchor")))
            assert len(anchors) == N and {n for _, n in anchors} == {1} and states == {"done"}

            led = platform.ledger
            logs = led.contract.events.BatchAnchored().get_logs(from_block=0)
            assert sum(log["args"]["count"] for log in logs) == N  # no batch anchored twice, none missing
            roots = {bytes(log["args"]["root"]) for log in logs}
            assert len(roots) == len(logs)
            assert led.contract.events.CertificateEvent().get_logs(from_block=0) == []
            # every certificate's ledger record leads to one of those batches, with its own digest
            sample = certs[:: N // 200] + [certs[-1]]
            with platform.uow() as uow:
                for c in sample:
                    cert = uow.session.get(Certificate, c.id)
                    state = led.status(c.identifier)
                    assert state is not None and state.root in roots, c.identifier
                    assert state.digest == canonical.ledger_digest(lifecycle.canonical_data(uow, cert))
        finally:
            platform.close()
    finally:
        node.stop()
