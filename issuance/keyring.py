"""The encryption keys of a deployment: the KEK from the data directory, DEKs from the database."""

from __future__ import annotations

import threading
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from certledger.crypto.at_rest import EnvelopeCipher, load_kek
from .models import DataKey

_lock = threading.Lock()
_cache: dict[tuple[str, tuple[int, ...]], EnvelopeCipher] = {}


def ensure_data_key(session: Session, kek: bytes) -> DataKey:
    key = session.execute(select(DataKey).where(DataKey.active.is_(True)).order_by(DataKey.id.desc())).scalars().first()
    if key is None:
        key = DataKey(wrapped=EnvelopeCipher.new_wrapped_key(kek), active=True)
        session.add(key)
        session.flush()
    return key


def cipher_for(session: Session, kek_path: Path) -> EnvelopeCipher:
    """A cipher over every DEK in the database, encrypting with the newest active one."""
    kek = load_kek(kek_path)
    active = ensure_data_key(session, kek)
    rows = session.execute(select(DataKey.id, DataKey.wrapped)).all()
    cache_key = (str(kek_path), tuple(sorted(r.id for r in rows)))
    with _lock:
        cipher = _cache.get(cache_key)
        if cipher is None or cipher.active_key_id != active.id:
            cipher = EnvelopeCipher(kek, {r.id: r.wrapped for r in rows}, active.id)
            _cache[cache_key] = cipher
    return cipher


def rotate(session: Session, kek_path: Path) -> DataKey:
    """Start encrypting with a new DEK; old ciphertexts stay readable with their own key."""
    kek = load_kek(kek_path)
    for k in session.execute(select(DataKey).where(DataKey.active.is_(True))).scalars():
        k.active = False
    key = DataKey(wrapped=EnvelopeCipher.new_wrapped_key(kek), active=True)
    session.add(key)
    session.flush()
    return key
