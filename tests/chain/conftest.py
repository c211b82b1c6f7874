"""A real EVM node over JSON-RPC for the chain tests (anvil, london), one per test session."""

from __future__ import annotations

import pytest

from chain_client.devnode import AnvilNode, funded  # noqa: F401  (funded is used by the tests)


@pytest.fixture(scope="session")
def anvil():
    try:
        node = AnvilNode().start()
    except RuntimeError as exc:
        pytest.fail(str(exc))
    yield node.url
    node.stop()


@pytest.fixture(scope="session")
def w3(anvil):
    from web3 import Web3

    return Web3(Web3.HTTPProvider(anvil))
