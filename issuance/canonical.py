"""The canonical bytes of a certificate and their digests: what is anchored, signed and verified.

A verifier at another department recomputes these from the data it was shown (the DB23/T 2836
basic items plus the type's field values), so the form is fixed and independent of our database:
UTF-8 JSON, keys sorted, no whitespace, dates as ISO strings, absent optional items as "".
The ledger keeps keccak256 of these bytes (the EVM's hash); SM3 is recorded for national-
algorithm checks.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any, Mapping

from eth_hash.auto import keccak

from certledger.crypto.sm import sm3

VERSION = 1
BASIC_ITEMS = ("identifier", "name", "type_code", "issue_dept_code", "holder", "holder_code", "holder_type",
               "number", "issue_date", "valid_from", "valid_to", "version")


def _text(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, date):
        return v.isoformat()
    return str(v)


def basic_of(cert: Any, holder_code: str) -> dict[str, Any]:
    """The basic items of a stored certificate (its holder code decrypted by the caller)."""
    basic = {k: getattr(cert, k) for k in BASIC_ITEMS if k != "holder_code"}
    basic["holder_code"] = holder_code
    return basic


def canonical_bytes(basic: Mapping[str, Any], values: Mapping[str, Any]) -> bytes:
    """``basic``: the items of BASIC_ITEMS (missing ones count as ""); ``values``: field code -> text."""
    doc = {"v": VERSION, "basic": {k: _text(basic.get(k)) for k in BASIC_ITEMS},
           "fields": {str(k): _text(v) for k, v in values.items()}}
    return json.dumps(doc, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")


def ledger_digest(data: bytes) -> bytes:
    return keccak(data)


def sm3_digest(data: bytes) -> bytes:
    return sm3(data)


DOCUMENT_DATA_KEY = "certledger.data"  # OFD DocInfo CustomData carrying the canonical bytes (signed with the file)


def parse(data: bytes) -> tuple[dict[str, str], dict[str, str]]:
    """(basic, values) back from canonical bytes, e.g. those a layout file carries; ValueError if malformed."""
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"not canonical certificate data: {exc}") from None
    if not isinstance(doc, dict) or doc.get("v") != VERSION or not isinstance(doc.get("basic"), dict) \
            or not isinstance(doc.get("fields"), dict):
        raise ValueError("not canonical certificate data (version or shape)")
    basic = {k: str(doc["basic"].get(k, "")) for k in BASIC_ITEMS}
    return basic, {str(k): str(v) for k, v in doc["fields"].items()}
