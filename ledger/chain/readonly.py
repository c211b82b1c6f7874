"""A read-only chain ledger for processes that only answer questions (web and sharing workers).

The writing ``ChainLedger`` keeps its chain index in LevelDB, which one process holds; a web tier
of several worker processes cannot share it. A worker therefore follows the chain's logs into
memory (``MemoryStore``; catching up costs one log query per 50,000 blocks on start) and is told
where a certificate sits (digest, root, proof) by the caller, who reads it from the deployment's
anchoring records: a claim that the chain checks, as the proof must lead to an anchored root.
Writes are refused: anchors and events are sent by the one process that holds the writing ledger.
"""

from __future__ import annotations

from typing import Callable, Mapping, Sequence

from web3 import Web3

from chain_client.contracts import Deployed, contract
from chain_client.reader import LedgerReader

from ..interface import (
    AnchorItem, BatchReceipt, EventReceipt, IssuerInfo, Ledger, LedgerError, LifecycleEvent,
)
from .follower import ChainFollower, MemoryStore
from .reads import FollowedReads, Located

READ_ONLY = "this process reads the ledger only; anchors and events are sent by the issuing process"


class ChainReadLedger(FollowedReads, Ledger):
    def __init__(self, w3: Web3, deployed: Deployed, locate: Callable[[str], Located | None],
                 issuers: Callable[[], Mapping[str, Mapping]], interval: float = 0.25) -> None:
        self.w3, self.deployed = w3, deployed
        self.registry = contract(w3, "IssuerRegistry", deployed.registry)
        self.contract = contract(w3, "CertificateLedger", deployed.ledger)
        self.reader = LedgerReader(self.contract)
        self.follower = ChainFollower(w3, self.contract, self.registry, MemoryStore(), interval)
        self._locate_fn, self._issuers_fn = locate, issuers

    def _locate(self, certificate_id: str) -> Located | None:
        return self._locate_fn(certificate_id)

    def _issuers(self) -> Mapping[str, Mapping]:
        return self._issuers_fn()

    def register_issuer(self, issuer: str, name: str, type_codes: Sequence[str]) -> IssuerInfo:
        raise LedgerError(READ_ONLY)

    def suspend_issuer(self, issuer: str) -> None:
        raise LedgerError(READ_ONLY)

    def anchor_batch(self, issuer: str, type_code: str, items: Sequence[AnchorItem]) -> BatchReceipt:
        raise LedgerError(READ_ONLY)

    def record_events(self, events: Sequence[LifecycleEvent]) -> list[EventReceipt]:
        raise LedgerError(READ_ONLY)
