"""What a read-only ledger process is told by the database, for the chain to check.

A web worker verifies against the chain through ``ledger.chain.readonly.ChainReadLedger``, which
cannot open the writing process's chain index. It needs two things the chain stores only as
hashes: where a certificate sits (its digest, batch root and Merkle proof, recorded by the outbox
when its batch was anchored) and which account and type codes each issuer code stands for. Both
are claims: a proof must lead to a root the chain holds, and an issuer's type codes count only
where the registry's logs allow their hashes. Nothing here decides a status.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import Callable, Mapping

from sqlalchemy import select

from ledger.chain.reads import Located

from .models import OutboxItem


def locator(session_factory, cache_size: int = 100_000) -> Callable[[str], Located | None]:
    """identifier -> where its anchoring put it (None before its batch is anchored).

    A done anchor never changes, so found places are remembered (up to ``cache_size``); a miss
    is asked again next time, as the certificate's batch may be anchored meanwhile.
    """
    found: OrderedDict[str, Located] = OrderedDict()
    lock = threading.Lock()

    def locate(certificate_id: str) -> Located | None:
        with lock:
            hit = found.get(certificate_id)
            if hit is not None:
                found.move_to_end(certificate_id)
                return hit
        place = _read(certificate_id)
        if place is not None:
            with lock:
                found[certificate_id] = place
                if len(found) > cache_size:
                    found.popitem(last=False)
        return place

    def _read(certificate_id: str) -> Located | None:
        with session_factory() as s:
            row = s.execute(select(OutboxItem.digest, OutboxItem.batch_root, OutboxItem.proof).where(
                OutboxItem.kind == "anchor", OutboxItem.state == "done", OutboxItem.certificate_id == certificate_id)
                .limit(1)).first()
        if row is None or not row.digest or not row.batch_root:
            return None
        try:
            return Located.from_hex(row.digest, row.batch_root, row.proof or [])
        except ValueError:  # a malformed record locates nothing (the chain would refuse it anyway)
            return None

    return locate


def issuer_directory(session_factory, address_of: Callable[[str], str], ttl: float = 30.0
                     ) -> Callable[[], Mapping[str, Mapping]]:
    """issuer code -> {"address", "type_codes"} from the anchors this deployment sent, refreshed
    every ``ttl`` seconds (a new issuer appears with its first anchored batch)."""
    lock = threading.Lock()
    cache: dict = {"at": float("-inf"), "value": {}}

    def issuers() -> Mapping[str, Mapping]:
        if time.monotonic() - cache["at"] < ttl:
            return cache["value"]
        with lock:
            if time.monotonic() - cache["at"] >= ttl:
                with session_factory() as s:
                    pairs = s.execute(select(OutboxItem.issuer, OutboxItem.type_code).where(
                        OutboxItem.kind == "anchor").distinct()).all()
                found: dict[str, dict] = {}
                for issuer, type_code in pairs:
                    try:
                        rec = found.setdefault(issuer, {"address": address_of(issuer), "type_codes": []})
                    except Exception:  # noqa: BLE001 - no keystore for it here: not an issuer we can name
                        continue
                    rec["type_codes"].append(type_code)
                cache["value"], cache["at"] = found, time.monotonic()
        return cache["value"]

    return issuers
