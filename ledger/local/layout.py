"""Key layout of the LevelDB store and the canonical encoding of its entries.

Keys are prefixed by one byte so each kind of record sorts together; log keys carry the
sequence number big-endian so that iteration order is log order. An entry is stored as
``hash (32 bytes) || canonical JSON``; ``hash = keccak256(prev_hash || canonical JSON)``.
"""

from __future__ import annotations

from typing import Any

import orjson
from eth_hash.auto import keccak

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
