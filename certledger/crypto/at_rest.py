"""Envelope encryption of sensitive values at rest.

A key-encryption key (KEK) lives in the data directory (file mode 0600) and never enters the
database; data-encryption keys (DEKs) are stored in the database wrapped by the KEK, so that the
database alone reveals nothing and keys can be rotated without re-reading every row at once.
Every ciphertext names the DEK that made it. Holder codes get a keyed blind index (HMAC-SM3) so
they can be searched without being decrypted.
"""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from .sm import SM4_KEY_BYTES, DecryptionError, hmac_sm3, sm4_gcm_decrypt, sm4_gcm_encrypt

PREFIX = "sm4gcm1"


def create_kek(path: Path) -> None:
    """Write a new random KEK, readable by the owner only. Refuses to overwrite one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(os.urandom(SM4_KEY_BYTES))


def load_kek(path: Path) -> bytes:
    try:
        key = path.read_bytes()
    except FileNotFoundError:
        raise DecryptionError(f"key-encryption key not found at {path}; run `certledger init`") from None
    if len(key) != SM4_KEY_BYTES:
        raise DecryptionError(f"key-encryption key at {path} has the wrong length")
    if path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        os.chmod(path, 0o600)
    return key


def _derive(kek: bytes, label: bytes) -> bytes:
    return HKDF(algorithm=hashes.SM3(), length=SM4_KEY_BYTES, salt=None, info=label).derive(kek)


class EnvelopeCipher:
    """Encrypts with the active DEK, decrypts with whichever DEK a ciphertext names."""

    def __init__(self, kek: bytes, wrapped_keys: dict[int, bytes], active_key_id: int) -> None:
        self._wrap_key = _derive(kek, b"certledger dek wrap")
        self._index_key = _derive(kek, b"certledger blind index")
        self._keys = {kid: self.unwrap(w) for kid, w in wrapped_keys.items()}
        if active_key_id not in self._keys:
            raise DecryptionError(f"active data key {active_key_id} is not available")
        self.active_key_id = active_key_id

    @staticmethod
    def new_wrapped_key(kek: bytes) -> bytes:
        return sm4_gcm_encrypt(_derive(kek, b"certledger dek wrap"), os.urandom(SM4_KEY_BYTES), b"dek")

    def unwrap(self, wrapped: bytes) -> bytes:
        return sm4_gcm_decrypt(self._wrap_key, wrapped, b"dek")

    def encrypt(self, plaintext: bytes, context: str = "") -> str:
        """``context`` is bound as associated data: a value moved to another row fails to decrypt."""
        blob = sm4_gcm_encrypt(self._keys[self.active_key_id], plaintext, context.encode())
        return f"{PREFIX}:{self.active_key_id}:{base64.b64encode(blob).decode('ascii')}"

    def decrypt(self, token: str, context: str = "") -> bytes:
        try:
            prefix, kid, body = token.split(":", 2)
            key = self._keys[int(kid)]
        except (ValueError, KeyError):
            raise DecryptionError("not a ciphertext of this deployment") from None
        if prefix != PREFIX:
            raise DecryptionError(f"unknown ciphertext format {prefix!r}")
        return sm4_gcm_decrypt(key, base64.b64decode(body), context.encode())

    def blind_index(self, value: str) -> str:
        return hmac_sm3(self._index_key, value.strip().upper().encode()).hex()
