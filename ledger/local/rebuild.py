"""Recompute the derived indexes (status per certificate, anchored roots, issuers) from the log.

The log is the record; the indexes only make reads a single get. When they are lost or damaged
(a failed disk, a hand edit, a status record that ``check_log`` finds pointing nowhere) they are
recomputed by replaying the log with the same transitions writing applied. Run ``check_log``
first: replaying a tampered log would faithfully index the tampering.

Called through ``LocalLedger.rebuild_indexes``, which holds the writers' lock meanwhile.
"""

from __future__ import annotations

from itertools import islice
from typing import Any

import plyvel

from ..interface import LedgerError
from . import layout as L
from .rules import apply_event, new_state

ISSUER_FIELDS = ("issuer", "name", "type_codes", "active")


def _clear(db: plyvel.DB, chunk: int) -> None:
    for prefix in (L.STATUS, L.ROOT, L.ISSUER):
        while True:
            it = db.iterator(prefix=prefix, include_value=False)
            keys = list(islice(it, chunk))
            it.close()
            if not keys:
                break
            with db.write_batch() as wb:
                for k in keys:
                    wb.delete(k)


def rebuild(db: plyvel.DB, chunk: int = 50_000) -> int:
    """Drop the indexes, replay the log into them; returns the number of entries replayed.

    Bounded memory: records are written every ``chunk`` changes and read back from the store
    when a later event needs them. Interrupted, it leaves indexes that a second run rebuilds.
    """
    _clear(db, chunk)
    pending: dict[bytes, dict[str, Any]] = {}

    def flush() -> None:
        with db.write_batch(transaction=True) as wb:
            for key, record in pending.items():
                wb.put(key, L.encode(record))
        pending.clear()

    count = 0
    for key, raw in db.iterator(prefix=L.LOG):
        seq = L.seq_of(key)
        e = L.decode(raw[32:])
        kind = e["kind"]
        if kind == "issuer":
            pending[L.issuer_key(e["issuer"])] = {f: e[f] for f in ISSUER_FIELDS}
        elif kind == "batch":
            root = L.unhex_or_none(e["root"])
            pending[L.root_key(root)] = {"issuer": e["issuer"], "type_code": e["type_code"], "count": e["count"],
                                         "block": seq, "at": e["at"]}
            for cid, digest_hex in e["items"]:
                pending[L.status_key(cid)] = new_state(e["issuer"], digest_hex, e["root"], seq)
        else:
            skey = L.status_key(e["certificate_id"])
            state = pending.get(skey)
            if state is None:
                raw_state = db.get(skey)
                if raw_state is None:
                    raise LedgerError(f"entry {seq}: an event of {e['certificate_id']}, which no earlier batch anchored")
                state = L.decode(raw_state)
            if e["prev_block"] != state["last_block"]:
                raise LedgerError(f"entry {seq}: links to {e['prev_block']}, but the certificate's previous event "
                                  f"is {state['last_block']}")
            try:
                apply_event(state, L.event_of(e))
            except LedgerError as exc:
                raise LedgerError(f"entry {seq}: {exc}") from None
            state["last_block"] = seq
            pending[skey] = state
        count += 1
        if len(pending) >= chunk:
            flush()
    flush()
    return count
