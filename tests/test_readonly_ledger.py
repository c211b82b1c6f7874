"""A read-only chain ledger (what a web worker of several uses) answers as the writing one does.

A chain-mode data directory with its embedded node; certificates issued through the pipeline by
the writing platform, which keeps holding the chain index (LevelDB) throughout; a second platform
opened with ``read_only_ledger`` on the same directory follows the chain's logs and is told where
certificates sit by the database. Every verification verdict and ledger status must match.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date, timedelta

import pytest

from certledger.config import load_settings
from certledger.datadir import init_data_dir
from certledger.runtime import Platform
from issuance import canonical, lifecycle
from issuance.anchoring import Worker
from issuance.models import Certificate
from issuance.pipeline import issue
from issuance.verification import verify_data
from ledger import AnchorItem, LedgerError, LedgerStatus as LS
from tests.conftest import FAST_HASHING, make_world
from tests.helpers import approved_licence_type
from tests.test_pipeline import issuing

pytestmark = pytest.mark.slow


@pytest.fixture
def chain_world(tmp_path):
    d = tmp_path / "data"
    init_data_dir(d, blockchain_enabled=True)
    platform = Platform(load_settings(d, environ=FAST_HASHING))
    try:
        yield make_world(platform)
    finally:
        platform.close()


def _data(world, cert_id):
    with world.uow() as uow:
        return canonical.parse(lifecycle.canonical_data(uow, uow.session.get(Certificate, cert_id)))


def _committed(world, fn, *args):
    with world.uow() as uow:
        fn(uow, *args)
        uow.commit()


def test_a_reader_answers_as_the_writer_while_the_writer_holds_the_index(chain_world):
    world = chain_world
    t = approved_licence_type(world, annual_review=True)
    certs = issuing(world, t, range(1, 7), next_review_due=(date.today() + timedelta(days=90)).isoformat())
    assert issue(world.platform, [c.id for c in certs], workers=0).ok
    writer = world.platform.ledger
    _committed(world, lifecycle.revoke, world.clerk, certs[0].id, "吊销")
    _committed(world, lifecycle.report_loss, world.clerk, certs[1].id, "遗失")
    _committed(world, lifecycle.pass_annual_review, world.clerk, certs[2].id, date.today() + timedelta(days=400))
    assert Worker(world.platform.session_factory, writer).drain().waiting == 0

    reader_platform = Platform(world.platform.settings, read_only_ledger=True)
    try:
        reader = reader_platform.ledger
        assert type(reader).__name__ == "ChainReadLedger"
        for c in certs:
            mine, theirs = reader.status(c.identifier), writer.status(c.identifier)
            assert (mine.status, mine.issuer, mine.digest, mine.root, mine.issued_block, mine.last_block,
                    mine.next_review_due) == (theirs.status, theirs.issuer, theirs.digest, theirs.root,
                                              theirs.issued_block, theirs.last_block, theirs.next_review_due)
            basic, values = _data(world, c.id)
            a, b = verify_data(reader, basic, values), verify_data(writer, basic, values)
            assert [(x.name, x.ok, x.detail) for x in a.checks] == [(x.name, x.ok, x.detail) for x in b.checks]
            assert a.ledger_block is not None
        assert reader.status(certs[0].identifier).status is LS.REVOKED
        assert reader.status(certs[1].identifier).status is LS.LOST
        assert verify_data(reader, *_data(world, certs[3].id)).valid
        basic, values = _data(world, certs[4].id)
        assert not verify_data(reader, {**basic, "holder": "冒名公司"}, values).valid
        assert reader.status("no-such-certificate") is None
        issuer = reader.status(certs[3].identifier).issuer
        assert reader.issuer_info(issuer).type_codes == writer.issuer_info(issuer).type_codes == {t.code}
        with pytest.raises(LedgerError, match="reads the ledger only"):
            reader.anchor_batch(issuer, t.code, [AnchorItem("x", os.urandom(32))])
        # a later event reaches the reader through the chain alone
        _committed(world, lifecycle.revoke, world.clerk, certs[5].id, "注销")
        Worker(world.platform.session_factory, writer).drain()
        reader.follower.mark_stale()
        assert reader.status(certs[5].identifier).status is LS.REVOKED
    finally:
        reader_platform.close()

    # and from another process, while this one still holds the writing ledger
    code = ("import sys; from certledger.config import load_settings; from certledger.runtime import Platform; "
            "p = Platform(load_settings(sys.argv[1], environ={}), read_only_ledger=True); "
            "print(p.ledger.status(sys.argv[2]).status.value); p.close()")
    r = subprocess.run([sys.executable, "-c", code, str(world.platform.settings.data_dir), certs[0].identifier],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and r.stdout.strip() == "revoked", r.stderr[-2000:]
