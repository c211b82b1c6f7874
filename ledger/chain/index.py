"""What the chain does not store per certificate: its digest, batch root and proof, by identifier.

Kept in LevelDB next to the deployment record. It lets a status be read by certificate id; the
status itself always comes from the chain.
"""

from __future__ import annotations

from pathlib import Path

import orjson
import plyvel

from ..interface import LedgerError


class ChainIndex:
    def __init__(self, path: Path) -> None:
        try:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            self._db = plyvel.DB(str(path), create_if_missing=True)
        except plyvel.Error as exc:
            raise LedgerError(f"cannot open the chain index at {path}: {exc}") from None

    @property
    def db(self) -> plyvel.DB:
        """The LevelDB itself, shared with the chain follower (its own key prefixes)."""
        return self._db

    def close(self) -> None:
        if not self._db.closed:
            self._db.close()

    def put_batch(self, items: dict[str, dict]) -> None:
        with self._db.write_batch(transaction=True) as wb:
            for cid, rec in items.items():
                wb.put(b"c" + cid.encode(), orjson.dumps(rec))

    def get(self, certificate_id: str) -> dict | None:
        raw = self._db.get(b"c" + certificate_id.encode())
        return None if raw is None else orjson.loads(raw)

    def put_issuer(self, issuer: str, record: dict) -> None:
        self._db.put(b"i" + issuer.encode(), orjson.dumps(record))

    def issuer(self, issuer: str) -> dict | None:
        raw = self._db.get(b"i" + issuer.encode())
        return None if raw is None else orjson.loads(raw)

    def issuers(self) -> dict[str, dict]:
        """Every issuer registered through this ledger, by code (a handful: read them all)."""
        return {k[1:].decode(): orjson.loads(v) for k, v in self._db.iterator(prefix=b"i")}
