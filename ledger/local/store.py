"""``LocalLedger``: the ledger interface on LevelDB, for deployments without a chain.

Every write is one entry of an append-only log whose entries are hash-chained, written together
with the derived indexes (status per certificate, anchored roots, issuers) and the new head in a
single LevelDB write batch, so a crash leaves either all of a call or none of it. History is
walked through each event's link to the certificate's previous event, never by scanning.
"""

from __future__ import annotations

import threading
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any, Iterator, Sequence

import plyvel

from ..interface import (
    AnchorItem, BatchReceipt, CertificateState, EventKind, EventReceipt, EventRecord, IssuerInfo, Ledger,
    LedgerError, LedgerStatus, LifecycleEvent, RootInfo, check_batch,
)
from ..merkle import build
from . import layout as L
from .rules import apply_event, new_state

K = EventKind
ST = LedgerStatus
_hex = L.hex_or_none
_unhex = L.unhex_or_none


def _date(s: str | None) -> date | None:
    return None if s is None else date.fromisoformat(s)


def _now() -> datetime:
    return datetime.now(timezone.utc)


class LocalLedger(Ledger):
    """The ledger in one LevelDB directory, which only one process may hold open at a time.

    ``admins`` are the identities allowed to record events on any certificate (and while its
    issuer is suspended), as the registry's admins are on the chain. Writers are serialised by a
    lock so that each call reads the head and appends after it; readers never wait.
    """

    def __init__(self, path: Path | str, admins: Sequence[str] = ()) -> None:
        self.path = Path(path)
        self.admins = frozenset(admins)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # a bloom filter and a larger block cache keep random status reads fast at millions of keys
            self._db = plyvel.DB(str(self.path), create_if_missing=True, bloom_filter_bits=10,
                                 lru_cache_size=64 * 1024 * 1024)
        except (plyvel.Error, OSError) as exc:
            if "lock" in str(exc).lower() and isinstance(exc, plyvel.IOError):
                raise LedgerError(f"the ledger store at {self.path} is in use by another process") from None
            raise LedgerError(f"cannot open the ledger store at {self.path}: {exc}") from None
        self._lock = threading.Lock()

    # --- plumbing ---
    def __enter__(self) -> "LocalLedger":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if not self._db.closed:
            self._db.close()

    @property
    def db(self) -> plyvel.DB:
        return self._db

    def head(self) -> int:
        return L.unpack_head(self._db.get(L.HEAD))[0]

    def _append(self, wb, seq: int, prev_hash: bytes, entry: dict[str, Any]) -> bytes:
        entry["seq"] = seq
        entry["prev_hash"] = _hex(prev_hash)
        body = L.encode(entry)
        h = L.seal(prev_hash, body)
        wb.put(L.log_key(seq), h + body)
        return h

    def _get_json(self, key: bytes) -> dict[str, Any] | None:
        raw = self._db.get(key)
        return None if raw is None else L.decode(raw)

    def entry(self, seq: int) -> dict[str, Any] | None:
        raw = self._db.get(L.log_key(seq))
        return None if raw is None else L.decode(raw[32:])

    def export_entries(self, start: int = 1) -> Iterator[dict[str, Any]]:
        """Every log entry from ``start`` on, in order, decoded: the input of a backfill onto a chain.

        Streams from one consistent view of the store (LevelDB iterators read a snapshot), so
        writes made meanwhile are not seen half-way; ``start`` lets a resumed backfill seek.
        """
        for _key, raw in self._db.iterator(start=L.log_key(max(start, 1)), stop=L.log_key(2**64 - 1)):
            yield L.decode(raw[32:])

    def rebuild_indexes(self) -> int:
        """Recompute status, root and issuer indexes from the log (see ``rebuild``); entries replayed.

        Writers wait meanwhile; readers may see indexes half rebuilt, so run it as maintenance.
        """
        from .rebuild import rebuild

        with self._lock:
            return rebuild(self._db)

    # --- issuer registry ---
    def register_issuer(self, issuer: str, name: str, type_codes: Sequence[str]) -> IssuerInfo:
        if not issuer:
            raise LedgerError("an issuer needs an identity")
        record = {"issuer": issuer, "name": name, "type_codes": sorted(set(type_codes)), "active": True}
        with self._lock:
            self._write_registry(record)
        return self.issuer_info(issuer)

    def suspend_issuer(self, issuer: str) -> None:
        with self._lock:
            info = self._get_json(L.issuer_key(issuer))
            if info is None:
                raise LedgerError(f"issuer {issuer} is not registered")
            info["active"] = False
            self._write_registry(info)

    def _write_registry(self, record: dict[str, Any]) -> None:
        """One log entry holding the whole new record, so a replay needs nothing else (lock held)."""
        seq, prev = L.unpack_head(self._db.get(L.HEAD))
        at = _now()
        with self._db.write_batch(transaction=True) as wb:
            h = self._append(wb, seq + 1, prev, {"kind": "issuer", "at": at.isoformat(), **record})
            wb.put(L.issuer_key(record["issuer"]), L.encode(record))
            wb.put(L.HEAD, L.pack_head(seq + 1, h))

    def issuer_info(self, issuer: str) -> IssuerInfo | None:
        r = self._get_json(L.issuer_key(issuer))
        if r is None:
            return None
        return IssuerInfo(r["issuer"], r["name"], frozenset(r["type_codes"]), r["active"])

    # --- anchoring ---
    def anchor_batch(self, issuer: str, type_code: str, items: Sequence[AnchorItem]) -> BatchReceipt:
        ids = check_batch(items)
        root, proofs = build(i.digest for i in items)
        with self._lock:  # the issuer is checked under the lock: a suspension cannot slip in between
            info = self.issuer_info(issuer)
            if info is None or not info.active:
                raise LedgerError(f"issuer {issuer} is not an active registered issuer")
            if type_code not in info.type_codes:
                raise LedgerError(f"issuer {issuer} may not issue type {type_code}")
            for cid in ids:
                if self._db.get(L.status_key(cid)) is not None:
                    raise LedgerError(f"certificate {cid} is already on the ledger")
            if self._db.get(L.root_key(root)) is not None:
                raise LedgerError(f"batch root {root.hex()} is already anchored")
            seq, prev = L.unpack_head(self._db.get(L.HEAD))
            seq += 1
            at = _now()
            root_hex = _hex(root)
            pairs = [(i.certificate_id, _hex(i.digest)) for i in items]
            with self._db.write_batch(transaction=True) as wb:
                h = self._append(wb, seq, prev, {
                    "kind": "batch", "at": at.isoformat(), "issuer": issuer, "type_code": type_code,
                    "root": root_hex, "count": len(items), "items": [list(p) for p in pairs],
                })
                for cid, digest_hex in pairs:
                    wb.put(L.status_key(cid), L.encode(new_state(issuer, digest_hex, root_hex, seq)))
                wb.put(L.root_key(root), L.encode({"issuer": issuer, "type_code": type_code, "count": len(items),
                                                   "block": seq, "at": at.isoformat()}))
                wb.put(L.HEAD, L.pack_head(seq, h))
        return BatchReceipt(root, f"local:{seq}", seq, {i.certificate_id: proofs[i.digest] for i in items}, at)

    # --- lifecycle events ---
    def _authorise(self, ev: LifecycleEvent, state: dict[str, Any], active: dict[str, bool]) -> None:
        """The certificate's own issuer, while active, or an admin; as the chain contract decides."""
        if ev.issuer in self.admins:
            return
        if ev.issuer != state["issuer"]:
            raise LedgerError(f"{ev.issuer} is not the issuer of certificate {ev.certificate_id}")
        if ev.issuer not in active:
            record = self._get_json(L.issuer_key(ev.issuer))
            active[ev.issuer] = record is not None and record["active"]
        if not active[ev.issuer]:
            raise LedgerError(f"issuer {ev.issuer} is suspended: only an admin may record events")

    def record_events(self, events: Sequence[LifecycleEvent]) -> list[EventReceipt]:
        if not events:
            return []
        with self._lock:
            seq, prev = L.unpack_head(self._db.get(L.HEAD))
            at = _now()
            at_iso = at.isoformat()
            states: dict[str, dict[str, Any]] = {}
            active: dict[str, bool] = {}
            entries: list[dict[str, Any]] = []
            # validate everything before writing anything, each event seeing the earlier ones
            for ev in events:
                cid = ev.certificate_id
                state = states.get(cid)
                if state is None:
                    state = states[cid] = self._get_json(L.status_key(cid))
                    if state is None:
                        raise LedgerError(f"certificate {cid} is not on the ledger")
                self._authorise(ev, state, active)
                apply_event(state, ev)
                seq += 1
                entries.append(L.event_entry(ev, at_iso, state["last_block"]))
                state["last_block"] = seq
            first = seq - len(entries) + 1
            with self._db.write_batch(transaction=True) as wb:
                for n, entry in enumerate(entries):
                    prev = self._append(wb, first + n, prev, entry)
                for cid, state in states.items():
                    wb.put(L.status_key(cid), L.encode(state))
                wb.put(L.HEAD, L.pack_head(seq, prev))
        return [EventReceipt(ev.certificate_id, ev.kind, f"local:{first + n}", first + n, at)
                for n, ev in enumerate(events)]

    # --- reading ---
    def status(self, certificate_id: str) -> CertificateState | None:
        s = self._get_json(L.status_key(certificate_id))
        if s is None:
            return None
        return CertificateState(certificate_id, ST(s["status"]), s["issuer"], _unhex(s["digest"]), _unhex(s["root"]),
                                s["issued_block"], s["last_block"], _date(s["next_review_due"]), s["superseded_by"])

    def history(self, certificate_id: str) -> list[EventRecord]:
        s = self._get_json(L.status_key(certificate_id))
        if s is None:
            return []
        out: list[EventRecord] = []
        block = s["last_block"]
        while block:
            if block == s["issued_block"]:
                # the issue event is told by the status index and the root index: no need to
                # decode the whole batch entry (integrity of both is what `ledger check` verifies)
                root = self._get_json(L.root_key(_unhex(s["root"])))
                if root is None:
                    raise LedgerError(f"the batch of certificate {certificate_id} is not in the root index; "
                                      "run ledger check")
                out.append(EventRecord(certificate_id, K.ISSUE, s["issuer"], block, 0, f"local:{block}",
                                       datetime.fromisoformat(root["at"]), digest=_unhex(s["digest"]),
                                       root=_unhex(s["root"])))
                break
            e = self.entry(block)
            if e is None:
                raise LedgerError(f"ledger entry {block} of certificate {certificate_id} is missing; run ledger check")
            at = datetime.fromisoformat(e["at"])
            if e.get("certificate_id") != certificate_id:
                raise LedgerError(f"ledger entry {block} does not belong to certificate {certificate_id}")
            out.append(EventRecord(certificate_id, K(e["kind"]), e["issuer"], block, e["prev_block"], f"local:{block}", at,
                                   actor=e["actor"], reason=e["reason"], next_review_due=_date(e["next_review_due"]),
                                   superseded_by=e["superseded_by"], superseded_by_digest=_unhex(e["superseded_by_digest"])))
            if not 0 <= e["prev_block"] < block:  # links only go back: a damaged one must not loop
                raise LedgerError(f"ledger entry {block} links forward to {e['prev_block']}; run ledger check")
            block = e["prev_block"]
        out.reverse()
        return out

    def root_info(self, root: bytes) -> RootInfo | None:
        r = self._get_json(L.root_key(root))
        if r is None:
            return None
        return RootInfo(root, r["issuer"], r["type_code"], r["count"], r["block"], datetime.fromisoformat(r["at"]))
