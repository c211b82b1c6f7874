"""Per-caller rate limit of the sharing interface: a token bucket per calling IP address.

A misbehaving client system (a loop that forgot its sleep) must not starve the others. The key is
the caller's IP, known before the body is read, so a flood of malformed requests is limited as
well as well-formed ones (and every AccountId is bound to its system's IPs anyway). The limit is
per server process, which is what protects that process. It is generous by default
(``app.config["SHARING_RATE_PER_SECOND"]``, 5,000 requests per second per IP with a burst of as
many; 0 turns it off) because the platform's own goal is 2,000 verifications per second from a
single caller; deployments tighten it per their agreements.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

DEFAULT_RATE = 5000.0
MAX_BUCKETS = 100_000  # forgets callers beyond this many (a flood of made-up AccountIds)


@dataclass
class _Bucket:
    tokens: float
    stamp: float


class RateLimiter:
    """``allow(key)`` is False once ``key`` has used up its burst; refills at ``rate`` per second."""

    def __init__(self, rate: float, burst: float | None = None) -> None:
        self.rate = float(rate)
        self.burst = float(burst if burst is not None else rate)
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def allow(self, key: str) -> bool:
        if self.rate <= 0:
            return True
        now = time.monotonic()
        with self._lock:
            b = self._buckets.get(key)
            if b is None:
                if len(self._buckets) >= MAX_BUCKETS:
                    self._buckets.clear()
                b = self._buckets[key] = _Bucket(self.burst, now)
            b.tokens = min(self.burst, b.tokens + (now - b.stamp) * self.rate)
            b.stamp = now
            if b.tokens < 1.0:
                return False
            b.tokens -= 1.0
            return True
