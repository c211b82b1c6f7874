"""The chain's ledger state, kept in step with its logs: statuses read without a call per question.

A verification asks the ledger three things (the certificate's status, its batch root, its
issuer); as contract calls over JSON-RPC that is ~20 ms, so verifying in bulk would be bound by
round trips. The contracts log every change they make (``BatchAnchored``, ``CertificateEvent``,
the registry's issuer events), so the same state is rebuilt here from those logs, applied in
chain order, and answered locally with the block it reflects.

Nothing here comes from our database: only logs the chain emitted, in blocks it holds. A log is
emitted only for a change the contract accepted, so applying them in order reproduces the
contract's storage for what verification reads (status, last block, due date, superseded digest,
roots, issuers). The synced block's hash is kept; if the chain no longer has that block (a fork
won by another branch), everything is rebuilt from the first block. Reads catch up at most every
``interval`` seconds, and at once after a write of ours.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import orjson
import plyvel
from hexbytes import HexBytes
from web3 import Web3

STATUS = ("none", "effective", "lost", "revoked", "superseded")
KIND_STATUS = {1: 2, 2: 3, 4: 4}  # ReportLoss -> Lost, Revoke -> Revoked, Change -> Superseded
PREFIXES = (b"fs", b"fr", b"fa", b"fm")  # certificate states, roots, accounts, meta
META = b"fm:synced"


class MemoryStore:
    """The part of plyvel's API the follower uses, in a dict: for a process that keeps the
    followed state for itself (a web worker: the chain index's LevelDB is held by one process)."""

    def __init__(self) -> None:
        self._data: dict[bytes, bytes] = {}

    def get(self, key: bytes) -> bytes | None:
        return self._data.get(key)

    def put(self, key: bytes, value: bytes) -> None:
        self._data[key] = value

    def delete(self, key: bytes) -> None:
        self._data.pop(key, None)

    def iterator(self, prefix: bytes = b"", include_value: bool = True):
        keys = sorted(k for k in self._data if k.startswith(prefix))
        return iter(keys) if not include_value else iter((k, self._data[k]) for k in keys)

    def write_batch(self, transaction: bool = True) -> "_MemoryBatch":
        return _MemoryBatch(self)


class _MemoryBatch:
    """Writes kept aside and applied together when the block ends without an exception."""

    def __init__(self, store: MemoryStore) -> None:
        self.store, self.ops = store, []

    def put(self, key: bytes, value: bytes) -> None:
        self.ops.append((key, value))

    def delete(self, key: bytes) -> None:
        self.ops.append((key, None))

    def __enter__(self) -> "_MemoryBatch":
        return self

    def __exit__(self, exc_type, *_) -> None:
        if exc_type is None:
            for key, value in self.ops:
                if value is None:
                    self.store.delete(key)
                else:
                    self.store.put(key, value)


class ChainFollower:
    """Ledger state from the logs of ``ledger`` and ``registry`` (web3 contracts), in ``db``."""

    def __init__(self, w3: Web3, ledger, registry, db: plyvel.DB | MemoryStore, interval: float = 0.25,
                 max_range: int = 50_000) -> None:
        self.w3, self.ledger, self.registry, self.db = w3, ledger, registry, db
        self.interval, self.max_range = interval, max_range
        self._lock = threading.Lock()
        self._checked = 0.0
        self._stale = True
        self._events = {}
        for c in (ledger, registry):
            for ev in c.events:
                self._events[(c.address.lower(), bytes(HexBytes(ev.topic)))] = ev
        meta = self._get(META) or {"block": -1, "hash": ""}
        self.block, self.hash = meta["block"], meta["hash"]

    def mark_stale(self) -> None:
        """After a transaction of ours: the next read catches up first."""
        self._stale = True

    # --- catching up -----------------------------------------------------------------------
    def follow(self) -> int:
        """Catch up with the chain if due; the block the local state reflects."""
        now = time.monotonic()
        if not self._stale and now - self._checked < self.interval:
            return self.block
        with self._lock:
            if self._stale or time.monotonic() - self._checked >= self.interval:
                self._stale = False  # cleared first: a write during the catch-up marks it again
                self._catch_up()
                self._checked = time.monotonic()
        return self.block

    def _catch_up(self) -> None:
        head = self.w3.eth.block_number
        if self.block >= 0:
            known = self.w3.eth.get_block(self.block) if self.block <= head else None
            if known is None or known["hash"].hex() != self.hash:
                self._reset()  # the synced block is no longer on the chain
        while self.block < head:
            start, stop = self.block + 1, min(head, self.block + self.max_range)
            logs = self.w3.eth.get_logs({"fromBlock": start, "toBlock": stop,
                                         "address": [self.ledger.address, self.registry.address]})
            stop_hash = self.w3.eth.get_block(stop)["hash"].hex()
            with self.db.write_batch(transaction=True) as wb:
                cache: dict[bytes, Any] = {}
                for log in sorted(logs, key=lambda l: (l["blockNumber"], l["logIndex"])):
                    self._apply(log, wb, cache)
                for key, value in cache.items():
                    wb.put(key, orjson.dumps(value))
                wb.put(META, orjson.dumps({"block": stop, "hash": stop_hash}))
            self.block, self.hash = stop, stop_hash

    def _reset(self) -> None:
        with self.db.write_batch(transaction=True) as wb:
            for prefix in PREFIXES:
                for key in self.db.iterator(prefix=prefix, include_value=False):
                    wb.delete(key)
        self.block, self.hash = -1, ""

    def _get(self, key: bytes, cache: dict[bytes, Any] | None = None) -> Any:
        if cache is not None and key in cache:
            return cache[key]
        raw = self.db.get(key)
        return None if raw is None else orjson.loads(raw)

    def _apply(self, log, wb, cache: dict[bytes, Any]) -> None:
        ev = self._events.get((log["address"].lower(), bytes(log["topics"][0]))) if log["topics"] else None
        if ev is None:
            return
        a = ev.process_log(log)["args"]
        name, block = ev.event_name, log["blockNumber"]
        if name == "BatchAnchored":
            cache[b"fr" + bytes(a["root"])] = {"issuer": a["issuer"], "type_code": bytes(a["typeCode"]).hex(),
                                               "count": a["count"], "block": block}
        elif name == "CertificateEvent":
            key = b"fs" + bytes(a["digest"])
            st = self._get(key, cache) or {"status": 1, "last_block": 0, "due": 0, "superseded_by": ""}
            kind = a["kind"]
            if kind in KIND_STATUS:
                st["status"] = KIND_STATUS[kind]
            if kind == 3:
                st["due"] = a["nextReviewDue"]
            if kind == 4:
                st["superseded_by"] = bytes(a["newDigest"]).hex()
            st["last_block"] = block
            cache[key] = st
        elif name in ("IssuerRegistered", "IssuerSuspended", "IssuerReactivated", "TypeCodeSet"):
            key = b"fa" + bytes.fromhex(a["account"][2:].lower())
            acc = self._get(key, cache) or {"name": "", "active": False, "types": []}
            if name == "IssuerRegistered":
                acc["name"], acc["active"] = a["name"], True
            elif name == "IssuerReactivated":
                acc["active"] = True
            elif name == "IssuerSuspended":
                acc["active"] = False
            else:
                types = set(acc["types"])
                (types.add if a["allowed"] else types.discard)(bytes(a["typeCode"]).hex())
                acc["types"] = sorted(types)
            cache[key] = acc

    # --- reading (call follow() first) -------------------------------------------------------
    def certificate(self, digest: bytes) -> dict | None:
        """Status record of a certificate that had lifecycle events; None if it had none."""
        return self._get(b"fs" + digest)

    def root(self, root: bytes) -> dict | None:
        return self._get(b"fr" + root)

    def account(self, address: str) -> dict | None:
        return self._get(b"fa" + bytes.fromhex(address[2:].lower()))
