"""Contract objects from the committed artifacts, and deployment of a deployment's pair."""

from __future__ import annotations

from dataclasses import dataclass

from web3 import Web3

from .artifacts import load
from .transactions import Sender


@dataclass(frozen=True)
class Deployed:
    registry: str
    ledger: str
    block: int


def contract(w3: Web3, name: str, address: str):
    return w3.eth.contract(address=Web3.to_checksum_address(address), abi=load(name)["abi"])


def deploy_all(sender: Sender, admin: str | None = None) -> Deployed:
    """The issuer registry (admin: ``admin`` or the sender) and the ledger bound to it."""
    reg = load("IssuerRegistry")
    registry, _ = sender.deploy(reg["abi"], reg["bytecode"], admin or sender.account.address)
    led = load("CertificateLedger")
    ledger, sent = sender.deploy(led["abi"], led["bytecode"], registry)
    return Deployed(registry, ledger, sent.block)


def type_code_id(type_code: str) -> bytes:
    """How a certificate-type code is named on chain: keccak256 of its text."""
    return Web3.keccak(text=type_code)
