"""The chain ledger: the ledger interface over the CertLedger contracts on an Ethereum-compatible chain."""

from .store import ChainLedger

__all__ = ["ChainLedger"]
