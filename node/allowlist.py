"""Who may send transactions: the accounts in node.toml, the validators, and, when a registry
contract is named, every account the issuer registry holds as active issuer or admin.

The registry is read with an ``eth_call`` at the head; answers are kept until the head moves.
"""

from __future__ import annotations

from typing import Callable

from eth_hash.auto import keccak

SELECTORS = (keccak(b"isActive(address)")[:4], keccak(b"isAdmin(address)")[:4])


class Allowlist:
    def __init__(self, enabled: bool, accounts: set[bytes], registry: bytes | None,
                 call: Callable[[bytes, bytes], bytes | None], head_hash: Callable[[], bytes]) -> None:
        """``call(to, data)`` runs a read-only call at the head and returns its output (None on failure)."""
        self.enabled, self.accounts, self.registry = enabled, set(accounts), registry
        self._call, self._head_hash = call, head_hash
        self._cache: dict[bytes, bool] = {}
        self._cache_head = b""

    def update(self, accounts: set[bytes], registry: bytes | None) -> None:
        self.accounts, self.registry = set(accounts), registry
        self._cache.clear()

    def allowed(self, sender: bytes) -> bool:
        if not self.enabled or sender in self.accounts:
            return True
        if self.registry is None:
            return False
        head = self._head_hash()
        if head != self._cache_head:
            self._cache, self._cache_head = {}, head
        if sender not in self._cache:
            arg = b"\0" * 12 + sender
            self._cache[sender] = any(
                (out := self._call(self.registry, sel + arg)) is not None and len(out) >= 32 and out[31] == 1
                for sel in SELECTORS)
        return self._cache[sender]
