"""Department accounts for the chain, kept as encrypted keystores (Web3 Secret Storage, eth-account).

The keystore password of each account is derived from the data directory's KEK, so the server
can unlock its departments' accounts without an operator while a copied keystore file alone is
useless. Unlocked keys are cached in memory for the life of the process.
"""

from __future__ import annotations

import json
import os
import re
import threading
from pathlib import Path

from eth_account import Account
from eth_account.signers.local import LocalAccount

from certledger.crypto.sm import hmac_sm3

NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


class KeystoreError(Exception):
    pass


class Keystores:
    def __init__(self, folder: Path, kek: bytes, scrypt_n: int = 2**18) -> None:
        self.folder, self._kek, self._n = Path(folder), kek, scrypt_n
        self._cache: dict[str, LocalAccount] = {}
        self._lock = threading.Lock()

    def _password(self, name: str) -> str:
        return hmac_sm3(self._kek, f"certledger keystore {name}".encode()).hex()

    def _path(self, name: str) -> Path:
        if not NAME.match(name):
            raise KeystoreError(f"not a keystore name: {name!r}")
        return self.folder / f"{name}.json"

    def create(self, name: str) -> LocalAccount:
        """A new account for ``name`` (e.g. a department code); refuses to replace an existing one."""
        path = self._path(name)
        account = Account.create()
        blob = Account.encrypt(account.key, self._password(name), kdf="scrypt", iterations=self._n)
        self.folder.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            raise KeystoreError(f"an account for {name} already exists") from None
        with os.fdopen(fd, "w") as fh:
            json.dump(blob, fh)
        with self._lock:
            self._cache[name] = account
        return account

    def get(self, name: str) -> LocalAccount:
        with self._lock:
            if name in self._cache:
                return self._cache[name]
        path = self._path(name)
        try:
            blob = json.loads(path.read_text())
        except FileNotFoundError:
            raise KeystoreError(f"no account for {name}") from None
        try:
            account = Account.from_key(Account.decrypt(blob, self._password(name)))
        except ValueError:
            raise KeystoreError(f"the keystore of {name} does not open with this data directory's key") from None
        with self._lock:
            self._cache[name] = account
        return account

    def get_or_create(self, name: str) -> LocalAccount:
        try:
            return self.get(name)
        except KeystoreError:
            if self._path(name).exists():
                raise
            return self.create(name)

    def address(self, name: str) -> str:
        """The address without unlocking the key (it is stored in clear in the keystore)."""
        try:
            return "0x" + json.loads(self._path(name).read_text())["address"]
        except FileNotFoundError:
            raise KeystoreError(f"no account for {name}") from None
