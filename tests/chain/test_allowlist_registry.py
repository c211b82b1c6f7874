"""The node's sender allowlist follows the issuer registry: once node.toml names the registry,
accounts the registry holds as active issuers may send, strangers and suspended issuers may not."""

import time

import pytest
from eth_account import Account
from web3.exceptions import Web3RPCError

from chain_client.connection import connect
from chain_client.contracts import contract, deploy_all, type_code_id
from chain_client.devnode import LedgerNode
from chain_client.transactions import Sender

pytestmark = pytest.mark.slow


def _transfer(w3, account, to, value=1):
    tx = {"to": to, "value": value, "gas": 21000, "chainId": w3.eth.chain_id,
          "nonce": w3.eth.get_transaction_count(account.address, "pending"),
          "maxFeePerGas": 10 * w3.eth.gas_price, "maxPriorityFeePerGas": w3.eth.max_priority_fee}
    return w3.eth.send_raw_transaction(account.sign_transaction(tx).raw_transaction)


def _wait_reloaded(node, needle, timeout=15):
    deadline = time.time() + timeout
    while needle not in (node.home / "node.log").read_text():
        assert time.time() < deadline, "the node did not reload node.toml"
        time.sleep(0.2)


def test_registered_issuers_may_send_strangers_and_suspended_ones_not(tmp_path):
    with LedgerNode(tmp_path / "node", allowlist=True) as node:
        w3 = connect(node.url)
        admin = node.faucet                                    # funded in genesis: allowed
        dept, stranger = Account.create(), Account.create()
        sender = Sender(w3, admin)
        for a in (dept, stranger):
            sender.transfer(a.address, 10**20)                 # ether alone does not let anyone send
        with pytest.raises(Web3RPCError) as refused:
            _transfer(w3, dept, admin.address)
        assert refused.value.rpc_response["error"]["code"] == -32003
        deployed = deploy_all(sender)
        registry = contract(w3, "IssuerRegistry", deployed.registry)
        sender.transact(registry.functions.registerIssuer(dept.address, "哈尔滨市市场监督管理局",
                                                          [type_code_id("T1")]))
        cfg = node.home / "node.toml"
        cfg.write_text(cfg.read_text().replace("[allowlist]\n", f'[allowlist]\nregistry = "{deployed.registry}"\n'))
        _wait_reloaded(node, "following registry")

        receipt = w3.eth.wait_for_transaction_receipt(_transfer(w3, dept, admin.address), timeout=20)
        assert receipt.status == 1                             # an active issuer sends
        with pytest.raises(Web3RPCError) as refused:
            _transfer(w3, stranger, admin.address)
        assert refused.value.rpc_response["error"]["code"] == -32003

        sender.transact(registry.functions.suspendIssuer(dept.address))
        with pytest.raises(Web3RPCError) as refused:
            _transfer(w3, dept, admin.address)                 # suspended: refused from the next head on
        assert refused.value.rpc_response["error"]["code"] == -32003
