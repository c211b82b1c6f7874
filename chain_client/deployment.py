"""Deploy the contracts once per chain and remember where, in the data directory."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from web3 import Web3

from .contracts import Deployed, deploy_all
from .transactions import Sender


class DeploymentError(Exception):
    pass


def record_path(data_dir: Path) -> Path:
    return Path(data_dir) / "chain" / "deployment.json"


def load_record(path: Path, w3: Web3) -> Deployed | None:
    """The recorded deployment if it belongs to this chain and its code is there; None if none."""
    if not path.exists():
        return None
    rec = json.loads(path.read_text())
    if rec["chain_id"] != w3.eth.chain_id:
        raise DeploymentError(f"{path} records chain {rec['chain_id']}, but the node serves chain {w3.eth.chain_id}")
    for key in ("registry", "ledger"):
        if w3.eth.get_code(Web3.to_checksum_address(rec[key])) in (b"", b"\x00"):
            raise DeploymentError(f"no contract at the recorded {key} address {rec[key]} (a reset chain?)")
    return Deployed(rec["registry"], rec["ledger"], rec["block"])


def deploy_once(sender: Sender, data_dir: Path) -> Deployed:
    path = record_path(data_dir)
    found = load_record(path, sender.w3)
    if found is not None:
        return found
    deployed = deploy_all(sender)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"chain_id": sender.w3.eth.chain_id, **asdict(deployed)}, indent=1))
    tmp.replace(path)
    return deployed
