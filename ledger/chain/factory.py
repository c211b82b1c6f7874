"""Opening the chain ledger of a data directory: node, keystores, contracts (deployed once)."""

from __future__ import annotations

from pathlib import Path

from ..interface import LedgerError

ADMIN_ACCOUNT = "platform-admin"


def open_chain_ledger(data_dir: Path, rpc_url: str, kek: bytes, confirmations: int = 0):
    from chain_client.connection import connect

    from chain_client.deployment import DeploymentError, deploy_once
    from chain_client.keystore import Keystores
    from chain_client.transactions import ChainError, Sender

    from .store import ChainLedger

    w3 = connect(rpc_url)
    if not w3.is_connected():
        raise LedgerError(f"cannot reach the chain at {rpc_url}")
    keys = Keystores(Path(data_dir) / "keystores", kek)
    admin = keys.get_or_create(ADMIN_ACCOUNT)
    try:
        deployed = deploy_once(Sender(w3, admin, confirmations), data_dir)
    except (DeploymentError, ChainError) as exc:
        raise LedgerError(f"cannot deploy or find the contracts: {exc} (platform admin account {admin.address})") from None
    return ChainLedger(w3, deployed, keys, Path(data_dir) / "chain" / "index", confirmations)
