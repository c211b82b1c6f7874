"""Chain data in LevelDB (plyvel) behind py-evm's atomic-database interface.

py-evm dropped its LevelDB backend; this adapter keeps every ``atomic_batch`` atomic on disk by
applying the batch's diff through one plyvel ``write_batch(transaction=True)``, so a kill -9 leaves
either the whole block or none of it.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import plyvel
from eth.abc import AtomicWriteBatchAPI
from eth.db.atomic import AtomicDBWriteBatch
from eth.db.backends.base import BaseAtomicDB


class _PlyvelBatch(AtomicDBWriteBatch):
    """A py-evm write batch whose commit is one LevelDB write batch."""

    def _commit(self) -> None:
        target: LevelDB = self._write_target_db  # type: ignore[assignment]
        with target.raw.write_batch(transaction=True, sync=target.sync) as wb:
            self._diff().apply_to(_BatchView(wb), apply_deletes=True)


class _BatchView:
    def __init__(self, wb) -> None:
        self._wb = wb

    def __setitem__(self, key: bytes, value: bytes) -> None:
        self._wb.put(key, value)

    def __delitem__(self, key: bytes) -> None:
        self._wb.delete(key)


class LevelDB(BaseAtomicDB):
    """One LevelDB directory; the process holds its lock until ``close``."""

    def __init__(self, path: Path, *, sync: bool = False) -> None:
        path.mkdir(parents=True, exist_ok=True)
        try:
            self.raw = plyvel.DB(str(path), create_if_missing=True)
        except plyvel.IOError as exc:
            raise RuntimeError(f"chain database {path} is in use by another process ({exc})") from None
        self.sync = sync

    def __getitem__(self, key: bytes) -> bytes:
        value = self.raw.get(key)
        if value is None:
            raise KeyError(key)
        return value

    def __setitem__(self, key: bytes, value: bytes) -> None:
        self.raw.put(key, value, sync=self.sync)

    def __delitem__(self, key: bytes) -> None:
        if self.raw.get(key) is None:
            raise KeyError(key)
        self.raw.delete(key, sync=self.sync)

    def _exists(self, key: bytes) -> bool:
        return self.raw.get(key) is not None

    @contextmanager
    def atomic_batch(self) -> Iterator[AtomicWriteBatchAPI]:
        with _PlyvelBatch._commit_unless_raises(self) as batch:
            yield batch

    def close(self) -> None:
        if self.raw is not None:
            self.raw.close()
            # Let go of plyvel's object now: one freed during interpreter shutdown prints
            # "Error in sys.excepthook" (its __dealloc__ runs close() again with modules torn down).
            self.raw = None
