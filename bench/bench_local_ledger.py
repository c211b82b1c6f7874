"""Local ledger store: appends per second and reads per second at a given size (default 1M events).

    .venv/bin/python bench/bench_local_ledger.py [--events 1000000] [--batch 1000] [--dir DIR]

Prints figures; asserts nothing. Compare ratios within one run: the machines are noisy.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import tempfile
import time
from datetime import date
from pathlib import Path

from ledger import AnchorItem, EventKind as K, LifecycleEvent
from ledger.local import LocalLedger
from ledger.local.check import check_ledger


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--dir", type=Path, default=None)
    args = ap.parse_args()
    root = args.dir or Path(tempfile.mkdtemp(prefix="ledger-bench-"))
    path = root / "ledger"
    shutil.rmtree(path, ignore_errors=True)
    n_issue = args.events * 8 // 10           # 80 % issues (anchored in batches), 20 % lifecycle events
    n_life = args.events - n_issue
    with LocalLedger(path) as s:
        s.register_issuer("D1", "bench", ["T1"])
        t = time.perf_counter()
        ids: list[str] = []
        for b in range(0, n_issue, args.batch):
            items = [AnchorItem(f"1.2.156.3005.2.T1.D1.{i:07d}.001.X", os.urandom(32))
                     for i in range(b, min(b + args.batch, n_issue))]
            s.anchor_batch("D1", "T1", items)
            ids.extend(i.certificate_id for i in items)
        dt = time.perf_counter() - t
        print(f"anchor_batch ({args.batch}/batch): {n_issue:,} issue events in {dt:.1f} s = {n_issue / dt:,.0f} events/s")

        rng = random.Random(7)
        targets = rng.sample(ids, n_life)
        t = time.perf_counter()
        for b in range(0, n_life, args.batch):
            s.record_events([LifecycleEvent(c, K.ANNUAL_REVIEW, "D1", actor="bench", next_review_due=date(2030, 1, 1))
                             for c in targets[b:b + args.batch]])
        dt = time.perf_counter() - t
        print(f"record_events ({args.batch}/call): {n_life:,} events in {dt:.1f} s = {n_life / dt:,.0f} events/s")

        single = min(10_000, n_life)
        t = time.perf_counter()
        for c in targets[:single]:
            s.record_event(LifecycleEvent(c, K.ANNUAL_REVIEW, "D1", next_review_due=date(2031, 1, 1)))
        dt = time.perf_counter() - t
        print(f"record_event (one per call): {single:,} events in {dt:.1f} s = {single / dt:,.0f} events/s")
        print(f"log size: {s.head():,} entries, {args.events + single:,} events")

        reads = 200_000
        sample = [rng.choice(ids) for _ in range(reads)]
        t = time.perf_counter()
        for c in sample:
            s.status(c)
        dt = time.perf_counter() - t
        print(f"status reads at {args.events:,} events: {reads / dt:,.0f} reads/s")

        hist = 20_000
        t = time.perf_counter()
        for c in sample[:hist]:
            s.history(c)
        dt = time.perf_counter() - t
        print(f"history reads: {hist / dt:,.0f} reads/s")

        t = time.perf_counter()
        report = check_ledger(s)
        dt = time.perf_counter() - t
        print(f"ledger check: {report.entries:,} entries in {dt:.1f} s, ok={report.ok}")
    size = sum(f.stat().st_size for f in path.iterdir())
    print(f"store size on disk: {size / 1e6:,.0f} MB")
    if args.dir is None:
        shutil.rmtree(root)


if __name__ == "__main__":
    main()
