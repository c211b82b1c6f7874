"""Walk the whole log and report the first entry that was changed, lost or cut off.

Streams the log in key order, so it runs in constant memory on a log of millions of entries.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import orjson

from . import layout as L
from .store import LocalLedger


@dataclass(frozen=True)
class CheckReport:
    ok: bool
    entries: int
    first_problem: str | None = None
    seq: int | None = None


def _fail(entries: int, seq: int, problem: str) -> CheckReport:
    return CheckReport(False, entries, f"entry {seq}: {problem}", seq)


def check_ledger(ledger: LocalLedger) -> CheckReport:
    db = ledger.db
    expected, prev = 1, L.GENESIS_HASH
    count = 0
    for key, raw in db.iterator(prefix=L.LOG):
        seq = L.seq_of(key)
        if seq != expected:
            return _fail(count, expected, "missing (the log jumps from "
                         f"{expected - 1} to {seq})")
        stored_hash, body = raw[:32], raw[32:]
        if L.seal(prev, body) != stored_hash:
            return _fail(count, seq, "hash mismatch: its content or its hash was changed")
        try:
            entry = orjson.loads(body)
        except orjson.JSONDecodeError:
            return _fail(count, seq, "not a well-formed entry")
        if entry.get("seq") != seq or entry.get("prev_hash") != "0x" + prev.hex():
            return _fail(count, seq, "its sequence number or link to the previous entry is wrong")
        count += 1
        prev, expected = stored_hash, expected + 1
    head_seq, head_hash = L.unpack_head(db.get(L.HEAD))
    last = expected - 1
    if head_seq != last or (last and head_hash != prev):
        if head_seq > last:
            return _fail(count, last + 1, f"missing (the head says the log ends at {head_seq})")
        return CheckReport(False, count, f"head: records entry {head_seq} but the log ends at {last} "
                                         "(head changed or entries appended behind its back)", head_seq)
    members = lru_cache(maxsize=256)(lambda seq: _members(ledger, seq))
    for key, raw in db.iterator(prefix=L.STATUS):
        cid = key[1:].decode()
        state = orjson.loads(raw)
        if cid not in members(state.get("last_block", 0)) or cid not in members(state.get("issued_block", 0)):
            return CheckReport(False, count, f"status of {cid}: its events {state.get('issued_block')}..{state.get('last_block')} are not in the log",
                               state.get("last_block"))
    return CheckReport(True, count)


def _members(ledger: LocalLedger, seq: int) -> frozenset[str]:
    """The certificates an entry speaks of (a batch: all of its items); cached by the caller."""
    entry = ledger.entry(seq) or {}
    if entry.get("kind") == "batch":
        return frozenset(i[0] for i in entry["items"])
    return frozenset([entry["certificate_id"]]) if "certificate_id" in entry else frozenset()


def check_log(path: Path | str) -> CheckReport:
    with LocalLedger(path) as ledger:
        return check_ledger(ledger)
