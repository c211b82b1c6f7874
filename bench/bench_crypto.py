"""National algorithms on one core: SM2 per implementation, SM3 and SM4 throughput.

    .venv/bin/python bench/bench_crypto.py

Prints figures; the SM2 implementation of the platform is the faster one of the first two lines.
"""

from __future__ import annotations

import os
import time

from certledger.crypto.sm import sm3, sm4_gcm_encrypt
from certledger.crypto.sm2 import SM2PrivateKey


def rate(fn, seconds: float = 1.0) -> float:
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        fn()
        n += 1
    return n / (time.perf_counter() - t0)


def main() -> None:
    key = SM2PrivateKey.generate()
    pub = key.public_key()
    msg = os.urandom(512)
    for impl in ("gmalglib", "gmssl"):
        sig = key.sign(msg, impl=impl)
        s = rate(lambda: key.sign(msg, impl=impl), 1.0 if impl == "gmalglib" else 2.0)
        v = rate(lambda: pub.verify(msg, sig, impl=impl), 1.0 if impl == "gmalglib" else 2.0)
        print(f"SM2 {impl:9s} sign {s:9,.0f}/s ({1e3 / s:7.3f} ms)   verify {v:9,.0f}/s ({1e3 / v:7.3f} ms)")
    print(f"SM2 key generation {rate(SM2PrivateKey.generate):,.0f}/s")
    block = os.urandom(1 << 20)
    print(f"SM3 {rate(lambda: sm3(block)):,.0f} MB/s")
    key16 = os.urandom(16)
    print(f"SM4-GCM {rate(lambda: sm4_gcm_encrypt(key16, block)):,.0f} MB/s")


if __name__ == "__main__":
    main()
