"""Walk the whole log and report the first entry that was changed, lost or cut off.

Streams the log in key order from one snapshot, so it runs in constant memory on a log of
millions of entries and gives a consistent answer even while the ledger keeps being written.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import orjson

from . import layout as L
from .store import LocalLedger


@dataclass(frozen=True)
class CheckReport:
    ok: bool
    entries: int                      # entries found intact before the first problem (all, when ok)
    first_problem: str | None = None  # "entry 17: hash mismatch: ...", one line
    seq: int | None = None            # the entry the problem is about


def _fail(entries: int, seq: int, problem: str) -> CheckReport:
    return CheckReport(False, entries, f"entry {seq}: {problem}", seq)


# fields every entry of a kind must have, with their JSON types (None allowed where listed)
_COMMON: dict[str, tuple[type, ...]] = {"seq": (int,), "prev_hash": (str,), "kind": (str,), "at": (str,)}
_FIELDS: dict[str, dict[str, tuple[type, ...]]] = {
    "issuer": {"issuer": (str,), "name": (str,), "type_codes": (list,), "active": (bool,)},
    "batch": {"issuer": (str,), "type_code": (str,), "root": (str,), "count": (int,), "items": (list,)},
    **{kind: {"certificate_id": (str,), "issuer": (str,), "actor": (str,), "reason": (str,),
              "next_review_due": (str, type(None)), "superseded_by": (str, type(None)),
              "superseded_by_digest": (str, type(None)), "prev_block": (int,)}
       for kind in L.LIFECYCLE_KINDS},
}


def _is_hash_hex(s: Any) -> bool:
    return isinstance(s, str) and len(s) == 66 and s.startswith("0x")


def _malformed(entry: Any, seq: int) -> str | None:
    """Why a decoded entry cannot be what the store writes, or None when it can."""
    if not isinstance(entry, dict):
        return "not an object"
    for name, types in _COMMON.items():
        if type(entry.get(name)) not in types:  # exact JSON types: a bool is no sequence number
            return f"field {name} missing or of the wrong type"
    fields = _FIELDS.get(entry["kind"])
    if fields is None:
        return f"unknown kind {entry['kind']!r}"
    for name, types in fields.items():
        if name not in entry or type(entry[name]) not in types:
            return f"field {name} missing or of the wrong type"
    try:
        datetime.fromisoformat(entry["at"])
    except ValueError:
        return "its time is not an ISO date-time"
    kind = entry["kind"]
    if kind == "batch":
        items = entry["items"]
        if entry["count"] != len(items) or not items or not _is_hash_hex(entry["root"]):
            return "a batch whose root or count does not fit its items"
        if not all(isinstance(i, list) and len(i) == 2 and isinstance(i[0], str) and _is_hash_hex(i[1])
                   for i in items):
            return "a batch item is not a (certificate id, 0x digest) pair"
    elif kind != "issuer":
        if not 0 <= entry["prev_block"] < seq:
            return f"its link to the certificate's previous event ({entry['prev_block']}) does not point back"
        if kind == "annual_review" and entry["next_review_due"] is None:
            return "an annual review without its next due date"
        if kind == "change" and not entry["superseded_by"]:
            return "a change without the new version"
    return None


def check_ledger(ledger: LocalLedger) -> CheckReport:
    """The check on an open store (the CLI goes through ``check_log``)."""
    with ledger.db.snapshot() as snap:
        return _check(snap)


def _check(snap) -> CheckReport:
    expected, prev = 1, L.GENESIS_HASH
    count = 0
    prev_hex = "0x" + prev.hex()
    for key, raw in snap.iterator(prefix=L.LOG):
        seq = L.seq_of(key)
        if len(key) != 9:
            return _fail(count, expected, f"a stray log key {key.hex()} sits where it should be")
        if seq != expected:
            return _fail(count, expected, "missing (the log jumps from "
                         f"{expected - 1} to {seq})")
        stored_hash, body = raw[:32], raw[32:]
        if L.seal(prev, body) != stored_hash:
            return _fail(count, seq, "hash mismatch: its content or its hash was changed")
        try:
            entry = orjson.loads(body)
        except orjson.JSONDecodeError:
            return _fail(count, seq, "not a well-formed entry: not JSON")
        if isinstance(entry, dict) and (entry.get("seq") != seq or entry.get("prev_hash") != prev_hex):
            return _fail(count, seq, "its sequence number or link to the previous entry is wrong")
        problem = _malformed(entry, seq)
        if problem:
            return _fail(count, seq, f"not a well-formed entry: {problem}")
        count += 1
        prev, expected = stored_hash, expected + 1
        prev_hex = "0x" + prev.hex()
    head_seq, head_hash = L.unpack_head(snap.get(L.HEAD))
    last = expected - 1
    if head_seq != last or (last and head_hash != prev):
        if head_seq > last:
            return _fail(count, last + 1, f"missing (the head says the log ends at {head_seq})")
        return CheckReport(False, count, f"head: records entry {head_seq} but the log ends at {last} "
                                         "(head changed or entries appended behind its back)", head_seq)
    return _check_statuses(snap, count)


def _check_statuses(snap, count: int) -> CheckReport:
    """Every status record must point at log entries that speak of its certificate."""

    @lru_cache(maxsize=256)  # batches are met again and again by their certificates, in id order
    def members(seq: int) -> frozenset[str]:
        raw = snap.get(L.log_key(seq)) if seq > 0 else None
        entry = orjson.loads(raw[32:]) if raw else {}
        if entry.get("kind") == "batch":
            return frozenset(i[0] for i in entry["items"])
        return frozenset([entry["certificate_id"]]) if "certificate_id" in entry else frozenset()

    for key, raw in snap.iterator(prefix=L.STATUS):
        cid = key[1:].decode()
        try:
            state = orjson.loads(raw)
            issued, last = state["issued_block"], state["last_block"]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            return CheckReport(False, count, f"status of {cid}: not a well-formed record", None)
        if not (isinstance(issued, int) and isinstance(last, int)) or cid not in members(last) \
                or cid not in members(issued):
            return CheckReport(False, count, f"status of {cid}: its events {issued}..{last} are not in the log",
                               last if isinstance(last, int) else None)
    return CheckReport(True, count)


def check_log(path_or_ledger: Path | str | LocalLedger) -> CheckReport:
    """Check a store given by its path (opened, checked, closed) or already open."""
    if isinstance(path_or_ledger, LocalLedger):
        return check_ledger(path_or_ledger)
    with LocalLedger(path_or_ledger) as ledger:
        return check_ledger(ledger)
