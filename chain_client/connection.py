"""One way to reach a node: web3 over HTTP, ready for proof-of-authority headers.

Clique (our node, geth, Besu) puts validator seals in ``extraData``; web3.py refuses blocks whose
extraData is longer than 32 bytes unless this middleware moves it aside. Anvil is unaffected.
"""

from __future__ import annotations

from web3 import Web3
from web3.middleware import ExtraDataToPOAMiddleware


def connect(url: str, timeout: float = 15) -> Web3:
    w3 = Web3(Web3.HTTPProvider(url, request_kwargs={"timeout": timeout}))
    w3.middleware_onion.inject(ExtraDataToPOAMiddleware, layer=0)
    return w3
