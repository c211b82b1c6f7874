"""Key layout of the LevelDB store and the canonical encoding of its entries.

Keys are prefixed by one byte so each kind of record sorts together; log keys carry the
sequence number big-endian so that iteration order is log order. An entry is stored as
``hash (32 bytes) || canonical JSON``; ``hash = keccak256(prev_hash || canonical JSON)``.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import orjson
from eth_hash.auto import keccak

from ..interface import EventKind, LifecycleEvent

HEAD = b"H"
LOG = b"L"
STATUS = b"S"
ROOT = b"R"
ISSUER = b"I"
GENESIS_HASH = bytes(32)


def log_key(seq: int) -> bytes:
    return LOG + seq.to_bytes(8, "big")


def seq_of(key: bytes) -> int:
    return int.from_bytes(key[1:9], "big")


def status_key(certificate_id: str) -> bytes:
    return STATUS + certificate_id.encode()


def root_key(root: bytes) -> bytes:
    return ROOT + root


def issuer_key(issuer: str) -> bytes:
    return ISSUER + issuer.encode()


def encode(obj: dict[str, Any]) -> bytes:
    """Deterministic: sorted keys, no whitespace, UTF-8. Bytes are given as hex by the caller."""
    return orjson.dumps(obj, option=orjson.OPT_SORT_KEYS)


def decode(raw: bytes) -> dict[str, Any]:
    return orjson.loads(raw)


def seal(prev_hash: bytes, body: bytes) -> bytes:
    return keccak(prev_hash + body)


def pack_head(seq: int, entry_hash: bytes) -> bytes:
    return seq.to_bytes(8, "big") + entry_hash


def unpack_head(raw: bytes | None) -> tuple[int, bytes]:
    if raw is None:
        return 0, GENESIS_HASH
    return int.from_bytes(raw[:8], "big"), raw[8:40]


# --- entries of the log ----------------------------------------------------------------------------
# Bytes are written as 0x-hex and dates as ISO strings, so an entry reads the same in any language.

LIFECYCLE_KINDS = ("report_loss", "revoke", "annual_review", "change")


def hex_or_none(b: bytes | None) -> str | None:
    return None if b is None else "0x" + b.hex()


def unhex_or_none(s: str | None) -> bytes | None:
    return None if s is None else bytes.fromhex(s[2:])


def event_entry(ev: LifecycleEvent, at_iso: str, prev_block: int) -> dict[str, Any]:
    """The log entry of a lifecycle event (``seq`` and ``prev_hash`` are added when appended)."""
    return {
        "kind": ev.kind.value, "at": at_iso, "certificate_id": ev.certificate_id,
        "issuer": ev.issuer, "actor": ev.actor, "reason": ev.reason,
        "next_review_due": ev.next_review_due.isoformat() if ev.next_review_due else None,
        "superseded_by": ev.superseded_by, "superseded_by_digest": hex_or_none(ev.superseded_by_digest),
        "prev_block": prev_block,
    }


def event_of(entry: dict[str, Any]) -> LifecycleEvent:
    """The lifecycle event a log entry records (the inverse of ``event_entry``)."""
    due = entry["next_review_due"]
    return LifecycleEvent(entry["certificate_id"], EventKind(entry["kind"]), entry["issuer"], entry["actor"],
                          entry["reason"], date.fromisoformat(due) if due else None, entry["superseded_by"],
                          unhex_or_none(entry["superseded_by_digest"]))
