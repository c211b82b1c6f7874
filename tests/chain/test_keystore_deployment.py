import json
import os

import pytest

from chain_client.deployment import DeploymentError, deploy_once, record_path
from chain_client.keystore import Keystores, KeystoreError
from chain_client.transactions import Sender

FAST = 2**10  # scrypt cost for tests; deployments use the default 2**18


def test_keystores_are_encrypted_private_and_reopen(tmp_path):
    kek = os.urandom(16)
    ks = Keystores(tmp_path / "ks", kek, FAST)
    acct = ks.create("11230100MB0000001X")
    path = tmp_path / "ks" / "11230100MB0000001X.json"
    assert path.stat().st_mode & 0o077 == 0
    assert acct.key.hex()[2:] not in path.read_text() and "crypto" in json.loads(path.read_text())
    again = Keystores(tmp_path / "ks", kek, FAST)
    assert again.get("11230100MB0000001X").address == acct.address == again.address("11230100MB0000001X")
    with pytest.raises(KeystoreError, match="already exists"):
        ks.create("11230100MB0000001X")
    with pytest.raises(KeystoreError, match="does not open"):
        Keystores(tmp_path / "ks", os.urandom(16), FAST).get("11230100MB0000001X")
    with pytest.raises(KeystoreError, match="not a keystore name"):
        ks.get("../etc/passwd")
    with pytest.raises(KeystoreError, match="no account"):
        ks.get("missing")


def test_deploy_once_records_and_reuses(w3, tmp_path, new_accounts):
    [admin] = new_accounts()
    sender = Sender(w3, admin)
    first = deploy_once(sender, tmp_path)
    assert record_path(tmp_path).exists()
    assert deploy_once(sender, tmp_path) == first  # nothing deployed the second time
    rec = json.loads(record_path(tmp_path).read_text())
    rec["chain_id"] = 1
    record_path(tmp_path).write_text(json.dumps(rec))
    with pytest.raises(DeploymentError, match="records chain 1"):
        deploy_once(sender, tmp_path)
    rec["chain_id"] = w3.eth.chain_id
    rec["ledger"] = "0x" + "12" * 20
    record_path(tmp_path).write_text(json.dumps(rec))
    with pytest.raises(DeploymentError, match="no contract at the recorded ledger"):
        deploy_once(sender, tmp_path)
