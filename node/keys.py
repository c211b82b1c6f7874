"""The validator's sealing key: an encrypted keystore (scrypt, eth-account) with its password in a
file readable by the node's user only; neither is ever logged."""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

from eth_account import Account
from eth_keys import keys


def create(keystore: Path, password_file: Path) -> bytes:
    """Make a new key; returns its address (20 bytes)."""
    keystore.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    password = secrets.token_urlsafe(24)
    acct = Account.create()
    _write_private(password_file, password.encode())
    _write_private(keystore, json.dumps(Account.encrypt(acct.key, password, kdf="scrypt")).encode())
    return bytes.fromhex(acct.address[2:])


def load(keystore: Path, password_file: Path) -> keys.PrivateKey | None:
    if not keystore.exists():
        return None
    password = password_file.read_text().strip()
    return keys.PrivateKey(Account.decrypt(json.loads(keystore.read_text()), password))


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
