"""The local ledger: LevelDB (plyvel), an append-only hash-chained log plus derived indexes."""

from .store import LocalLedger

__all__ = ["LocalLedger"]
