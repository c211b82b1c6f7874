"""The ledger: one interface, two backends (local LevelDB store, Ethereum-compatible chain)."""

from .interface import (
    AnchorItem, BatchReceipt, CertificateState, EventKind, EventReceipt, EventRecord,
    IssuerInfo, Ledger, LedgerError, LedgerStatus, LifecycleEvent, RootInfo,
)

__all__ = [
    "AnchorItem", "BatchReceipt", "CertificateState", "EventKind", "EventReceipt", "EventRecord",
    "IssuerInfo", "Ledger", "LedgerError", "LedgerStatus", "LifecycleEvent", "RootInfo",
]
