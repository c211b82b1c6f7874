"""A real EVM node over JSON-RPC for the chain tests, one per kind per test session: anvil (london)
and our own ledger node (``python -m node``, Clique on py-evm). Every test that takes ``w3`` runs
on both."""

from __future__ import annotations

import pytest

from chain_client.devnode import AnvilNode, LedgerNode, funded  # noqa: F401  (funded is used by the tests)

NODE_KINDS = ["anvil", "ledger-node"]


@pytest.fixture(scope="session", params=NODE_KINDS)
def chain_node(request, tmp_path_factory):
    try:
        node = AnvilNode().start() if request.param == "anvil" else LedgerNode(tmp_path_factory.mktemp("node")).start()
    except RuntimeError as exc:
        pytest.fail(str(exc))
    yield node
    node.stop()


@pytest.fixture(scope="session")
def node_url(chain_node):
    return chain_node.url


@pytest.fixture(scope="session")
def w3(chain_node):
    from chain_client.connection import connect

    return connect(chain_node.url)


@pytest.fixture(scope="session")
def fund(chain_node, w3):
    """fund(address, wei): ether for an account on whichever node runs the test."""
    return lambda address, wei=10**22: chain_node.fund(w3, address, wei)


@pytest.fixture(scope="session")
def new_accounts(chain_node, w3):
    """new_accounts(n): fresh funded accounts on whichever node runs the test."""
    return lambda n=1, wei=10**21: funded(w3, n, wei, chain_node)


@pytest.fixture
def chain_ledger(w3, tmp_path, fund):
    """A ChainLedger on freshly deployed contracts with two registered issuers, D1 (T1) and D2 (T2)."""
    import os

    from chain_client.deployment import deploy_once
    from chain_client.keystore import Keystores
    from chain_client.transactions import Sender
    from ledger.chain import ChainLedger

    keys = Keystores(tmp_path / "keystores", os.urandom(16), scrypt_n=2**10)
    admin = keys.create("platform-admin")
    fund(admin.address)
    deployed = deploy_once(Sender(w3, admin), tmp_path)
    led = ChainLedger(w3, deployed, keys, tmp_path / "chain" / "index")
    led.register_issuer("D1", "哈尔滨市市场监督管理局", ["T1"])
    led.register_issuer("D2", "大庆市市场监督管理局", ["T2"])
    yield led
    led.close()
