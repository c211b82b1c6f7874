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

K = EventKind
ST = LedgerStatus
FINAL = (ST.REVOKED, ST.SUPERSEDED)
# which status each event needs before it, and the status it leaves
RULES: dict[EventKind, tuple[tuple[LedgerStatus, ...], LedgerStatus | None]] = {
    K.REPORT_LOSS: ((ST.EFFECTIVE,), ST.LOST),
    K.REVOKE: ((ST.EFFECTIVE, ST.LOST), ST.REVOKED),
    K.ANNUAL_REVIEW: ((ST.EFFECTIVE,), None),  # keeps the status, moves the due date
    K.CHANGE: ((ST.EFFECTIVE, ST.LOST), ST.SUPERSEDED),
}


def _hex(b: bytes | None) -> str | None:
    return None if b is None else "0x" + b.hex()


def _unhex(s: str | None) -> bytes | None:
    return None if s is None else bytes.fromhex(s[2:])


def _date(s: str | None) -> date | None:
    return None if s is None else date.fromisoformat(s)


def _now() -> datetime:
    return datetime.now(timezone.utc)


class LocalLedger(Ledger):
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

    def export_entries(self) -> Iterator[dict[str, Any]]:
        """Every log entry in order, decoded: the input of a backfill onto a chain."""
        for _key, raw in self._db.iterator(prefix=L.LOG):
            yield L.decode(raw[32:])

    # --- issuer registry ---
    def register_issuer(self, issuer: str, name: str, type_codes: Sequence[str]) -> IssuerInfo:
        if not issuer:
            raise LedgerError("an issuer needs an identity")
        record = {"issuer": issuer, "name": name, "type_codes": sorted(set(type_codes)), "active": True}
        self._write_registry(record)
        return self.issuer_info(issuer)

    def suspend_issuer(self, issuer: str) -> None:
        info = self._get_json(L.issuer_key(issuer))
        if info is None:
            raise LedgerError(f"issuer {issuer} is not registered")
        info["active"] = False
        self._write_registry(info)

    def _write_registry(self, record: dict[str, Any]) -> None:
        with self._lock:
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
        info = self.issuer_info(issuer)
        if info is None or not info.active:
            raise LedgerError(f"issuer {issuer} is not an active registered issuer")
        if type_code not in info.type_codes:
            raise LedgerError(f"issuer {issuer} may not issue type {type_code}")
        ids = check_batch(items)
        root, proofs = build(i.digest for i in items)
        with self._lock:
            for cid in ids:
                if self._db.get(L.status_key(cid)) is not None:
                    raise LedgerError(f"certificate {cid} is already on the ledger")
            if self._db.get(L.root_key(root)) is not None:
                raise LedgerError(f"batch root {root.hex()} is already anchored")
            seq, prev = L.unpack_head(self._db.get(L.HEAD))
            seq += 1
            at = _now()
            with self._db.write_batch(transaction=True) as wb:
                h = self._append(wb, seq, prev, {
                    "kind": "batch", "at": at.isoformat(), "issuer": issuer, "type_code": type_code,
                    "root": _hex(root), "count": len(items),
                    "items": [[i.certificate_id, _hex(i.digest)] for i in items],
                })
                for i in items:
                    wb.put(L.status_key(i.certificate_id), L.encode({
                        "status": ST.EFFECTIVE.value, "issuer": issuer, "digest": _hex(i.digest), "root": _hex(root),
                        "issued_block": seq, "last_block": seq, "next_review_due": None, "superseded_by": None}))
                wb.put(L.root_key(root), L.encode({"issuer": issuer, "type_code": type_code, "count": len(items),
                                                   "block": seq, "at": at.isoformat()}))
                wb.put(L.HEAD, L.pack_head(seq, h))
        return BatchReceipt(root, f"local:{seq}", seq, {i.certificate_id: proofs[i.digest] for i in items}, at)

    # --- lifecycle events ---
    def _apply(self, state: dict[str, Any], ev: LifecycleEvent) -> None:
        """Check one event against the certificate's current state and update that state."""
        cid = ev.certificate_id
        current = ST(state["status"])
        if current in FINAL:
            raise LedgerError(f"certificate {cid} is {current.value}: no further events")
        if ev.kind is K.ISSUE:
            raise LedgerError("issue events are written by anchor_batch")
        if ev.issuer != state["issuer"] and ev.issuer not in self.admins:
            raise LedgerError(f"{ev.issuer} is not the issuer of certificate {cid}")
        allowed_from, target = RULES[ev.kind]
        if current not in allowed_from:
            raise LedgerError(f"certificate {cid}: {ev.kind.value} is not allowed when {current.value}")
        if ev.kind is K.ANNUAL_REVIEW:
            if ev.next_review_due is None:
                raise LedgerError("an annual review needs the next due date")
            state["next_review_due"] = ev.next_review_due.isoformat()
        if ev.kind is K.CHANGE:
            if not ev.superseded_by:
                raise LedgerError("a change needs the identifier of the new version")
            if ev.superseded_by_digest is not None and len(ev.superseded_by_digest) != 32:
                raise LedgerError("the new version's digest is 32 bytes")
            state["superseded_by"] = ev.superseded_by
        if target is not None:
            state["status"] = target.value

    def record_events(self, events: Sequence[LifecycleEvent]) -> list[EventReceipt]:
        if not events:
            return []
        with self._lock:
            states: dict[str, dict[str, Any]] = {}
            for ev in events:  # validate everything first, earlier events of the list included
                cid = ev.certificate_id
                if cid not in states:
                    found = self._get_json(L.status_key(cid))
                    if found is None:
                        raise LedgerError(f"certificate {cid} is not on the ledger")
                    states[cid] = found
                self._apply(states[cid], ev)
            # all valid: write them with fresh copies of the states
            seq, prev = L.unpack_head(self._db.get(L.HEAD))
            at = _now()
            receipts = []
            live = {cid: self._get_json(L.status_key(cid)) for cid in states}
            with self._db.write_batch(transaction=True) as wb:
                for ev in events:
                    seq += 1
                    state = live[ev.certificate_id]
                    prev = self._append(wb, seq, prev, {
                        "kind": ev.kind.value, "at": at.isoformat(), "certificate_id": ev.certificate_id,
                        "issuer": ev.issuer, "actor": ev.actor, "reason": ev.reason,
                        "next_review_due": ev.next_review_due.isoformat() if ev.next_review_due else None,
                        "superseded_by": ev.superseded_by, "superseded_by_digest": _hex(ev.superseded_by_digest),
                        "prev_block": state["last_block"],
                    })
                    self._apply(state, ev)
                    state["last_block"] = seq
                    receipts.append(EventReceipt(ev.certificate_id, ev.kind, f"local:{seq}", seq, at))
                for cid, state in live.items():
                    wb.put(L.status_key(cid), L.encode(state))
                wb.put(L.HEAD, L.pack_head(seq, prev))
        return receipts

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
            block = e["prev_block"]
        out.reverse()
        return out

    def root_info(self, root: bytes) -> RootInfo | None:
        r = self._get_json(L.root_key(root))
        if r is None:
            return None
        return RootInfo(root, r["issuer"], r["type_code"], r["count"], r["block"], datetime.fromisoformat(r["at"]))
