"""The sharing interface's side of the access domain: client systems, usage rights, call records.

``issuance.client_systems`` (系统清单: accounts bound to IPs) and ``issuance.usage`` (用证申请,
用证记录) own the rules; this module only calls them, turns their refusals into return codes, and
remembers their answers for a moment.

Why remember: every call must authenticate the account and IP and check the usage of the type it
touches. Asking the database each time costs a transaction per request, which on SQLite is the
one writer lock (every transaction there begins IMMEDIATE) and capped the interface far below
its goal of 2,000 verifications per second. So each process keeps the answers (granted and
refused alike) for ``app.config["SHARING_ACCESS_CACHE_SECONDS"]`` (default 1 s; 0 asks every
time): disabling a system, withdrawing a usage or moving a system's IPs takes effect within that
second instead of at the very next call.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

from sqlalchemy.orm import Session

from issuance.models import Department

from .codes import Code
from .service import Refusal

DEFAULT_TTL = 1.0
MAX_ENTRIES = 10_000


@dataclass(frozen=True)
class SystemSnapshot:
    """What the interface needs of a ClientSystem after its session is gone (usage reads these fields)."""

    id: int
    tenant_id: int
    department_id: int
    account_id: str
    status: Any
    ips: tuple[str, ...]


def _reason_code(exc: Exception) -> Code:
    """The return code of a refused authentication, from the domain error's ``reason``."""
    from issuance.client_systems import AccessReason

    return {AccessReason.UNKNOWN_ACCOUNT: Code.UNKNOWN_ACCOUNT,
            AccessReason.IP_NOT_BOUND: Code.IP_NOT_ALLOWED}.get(getattr(exc, "reason", None), Code.ACCOUNT_NOT_APPROVED)


def _authenticate(session: Session, account_id: str, ip: str) -> SystemSnapshot | Code:
    from issuance import client_systems

    try:
        cs = client_systems.authenticate(session, account_id, ip)
    except client_systems.AccessRefused as exc:
        return _reason_code(exc)
    tenant_id = getattr(cs, "tenant_id", None)
    if tenant_id is None:
        dept = session.get(Department, cs.department_id)
        tenant_id = dept.tenant_id if dept is not None else -1
    return SystemSnapshot(cs.id, int(tenant_id), cs.department_id, cs.account_id or "", cs.status, tuple(cs.ips))


class AccessCache:
    """Answers of ``authenticate``, ``allowed`` and ``catalogs_allowed``, each kept ``ttl`` seconds.

    ``session`` arguments are callables, so that an answer found here opens no transaction.
    """

    def __init__(self, ttl: float = DEFAULT_TTL) -> None:
        self.ttl = float(ttl)
        self._lock = threading.Lock()
        self._entries: dict[tuple, tuple[float, Any]] = {}

    def _get(self, key: tuple, load: Callable[[], Any]) -> Any:
        now = time.monotonic()
        if self.ttl > 0:
            hit = self._entries.get(key)
            if hit is not None and hit[0] > now:
                return hit[1]
        value = load()
        if self.ttl > 0:
            with self._lock:
                if len(self._entries) >= MAX_ENTRIES:
                    self._entries.clear()
                self._entries[key] = (now + self.ttl, value)
        return value

    def authenticate(self, session: Callable[[], Session], account_id: str, ip: str) -> SystemSnapshot:
        """The approved client system of ``account_id`` calling from ``ip``; a Refusal otherwise."""
        found = self._get(("auth", account_id, ip), lambda: _authenticate(session(), account_id, ip))
        if isinstance(found, Code):
            raise Refusal(found)
        return found

    def allowed(self, session: Callable[[], Session], system: SystemSnapshot, type_code: str) -> bool:
        from issuance import usage

        return self._get(("type", system.id, type_code),
                         lambda: usage.allowed(session(), system, type_code) is not None)

    def catalogs_allowed(self, session: Callable[[], Session], system: SystemSnapshot) -> frozenset[str]:
        from issuance import usage

        return self._get(("types", system.id), lambda: frozenset(usage.catalogs_allowed(session(), system)))
