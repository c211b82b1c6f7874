"""Verifications per second from presented data against the local ledger store (in process).

Each verification recomputes the canonical digest, reads the certificate's state, its batch root
and its issuer from the ledger and checks dates: the work a verifying department's request costs
before HTTP. Prints figures; asserts nothing.

    .venv/bin/python bench/bench_verification.py [--count 20000] [--batch 1000]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import date
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=20_000)
    ap.add_argument("--batch", type=int, default=1_000)
    args = ap.parse_args()

    from certledger.config import load_settings
    from certledger.datadir import init_data_dir
    from certledger.runtime import Platform
    from issuance import canonical
    from issuance.verification import verify_data
    from ledger import AnchorItem

    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp) / "data"
        init_data_dir(d)
        platform = Platform(load_settings(d, environ={}))
        try:
            led = platform.ledger
            led.register_issuer("D1", "哈尔滨市市场监督管理局", ["T1"])
            values = {"capital": "100万元", "scope": "软件开发"}
            basics = [{"identifier": f"1.2.156.3005.2.T1.D1.{i:08d}.1.X", "type_code": "T1", "holder": f"某公司{i}",
                       "number": f"N{i}", "issue_date": "2026-01-01", "valid_to": "2030-12-31", "version": "1"}
                      for i in range(args.count)]
            t = time.perf_counter()
            for k in range(0, args.count, args.batch):
                led.anchor_batch("D1", "T1", [AnchorItem(b["identifier"], canonical.ledger_digest(
                    canonical.canonical_bytes(b, values))) for b in basics[k:k + args.batch]])
            anchored = time.perf_counter() - t
            t = time.perf_counter()
            valid = sum(verify_data(led, b, values, today=date(2026, 6, 1)).valid for b in basics)
            took = time.perf_counter() - t
        finally:
            platform.close()
    print(f"anchored {args.count:,} in batches of {args.batch:,}: {args.count / anchored:,.0f} certificates/s")
    print(f"verified {args.count:,} from data ({valid:,} valid): {args.count / took:,.0f} verifications/s, "
          f"{took / args.count * 1e6:.0f} µs each (local store, one process)")


if __name__ == "__main__":
    main()
