"""Local ledger store: appends per second and reads per second at a given size (default 1M events).

    .venv/bin/python bench/bench_local_ledger.py [--events 1000000] [--batch 1000] [--dir DIR]

80 % of the events are certificates issued in anchored batches (each ISSUE counts as one event,
a batch is one log entry), 20 % lifecycle events recorded in batches; then single calls, reads,
the integrity walk and an index rebuild at that size. Prints figures; asserts nothing. Compare
ratios within one run: the machines are noisy.
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
from ledger.local.check import check_log



def _per_second(read, ids) -> float:
    """Calls of ``read`` per second over ``ids``."""
    t = time.perf_counter()
    for c in ids:
        read(c)
    return len(ids) / (time.perf_counter() - t)

def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--dir", type=Path, default=None)
    args = ap.parse_args()
    root = args.dir or Path(tempfile.mkdtemp(prefix="ledger-bench-"))
    path = root / "ledger"
    shutil.rmtree(path, ignore_errors=True)
    try:
        run(path, args.events, args.batch)
    finally:
        if args.dir is None:  # a temporary store goes, even when interrupted
            shutil.rmtree(root, ignore_errors=True)


def run(path: Path, events: int, batch: int) -> None:
    n_issue = events * 8 // 10           # 80 % issues (anchored in batches), 20 % lifecycle events
    n_life = events - n_issue
    with LocalLedger(path) as s:
        s.register_issuer("D1", "bench", ["T1"])
        t = time.perf_counter()
        ids: list[str] = []
        for b in range(0, n_issue, batch):
            items = [AnchorItem(f"1.2.156.3005.2.T1.D1.{i:07d}.001.X", os.urandom(32))
                     for i in range(b, min(b + batch, n_issue))]
            s.anchor_batch("D1", "T1", items)
            ids.extend(i.certificate_id for i in items)
        dt = time.perf_counter() - t
        print(f"anchor_batch ({batch}/batch): {n_issue:,} issue events in {dt:.1f} s = {n_issue / dt:,.0f} events/s")

        rng = random.Random(7)
        targets = rng.sample(ids, n_life)
        t = time.perf_counter()
        for b in range(0, n_life, batch):
            s.record_events([LifecycleEvent(c, K.ANNUAL_REVIEW, "D1", actor="bench", next_review_due=date(2030, 1, 1))
                             for c in targets[b:b + batch]])
        dt = time.perf_counter() - t
        print(f"record_events ({batch}/call): {n_life:,} events in {dt:.1f} s = {n_life / dt:,.0f} events/s")

        single = min(10_000, n_life)
        t = time.perf_counter()
        for c in targets[:single]:
            s.record_event(LifecycleEvent(c, K.ANNUAL_REVIEW, "D1", next_review_due=date(2031, 1, 1)))
        dt = time.perf_counter() - t
        print(f"record_event (one per call): {single:,} events in {dt:.1f} s = {single / dt:,.0f} events/s")
        print(f"log size: {s.head():,} entries, {events + single:,} events")

        reads = 200_000
        sample = [rng.choice(ids) for _ in range(reads)]
        print(f"status reads at {events:,} events, right after the writes: {_per_second(s.status, sample):,.0f} reads/s")
        # LevelDB is still compacting what was just written; a store in service has settled
        t = time.perf_counter()
        s.db.compact_range()
        print(f"(full compaction: {time.perf_counter() - t:.1f} s)")
        print(f"status reads, compacted store: {_per_second(s.status, sample):,.0f} reads/s")

        hist = 20_000
        print(f"history reads, random certificates: {_per_second(s.history, sample[:hist]):,.0f} reads/s")
        with_events = [rng.choice(targets[:single]) for _ in range(hist)]  # ISSUE + 2 reviews each
        print(f"history reads, certificates with 3 events: {_per_second(s.history, with_events):,.0f} reads/s")

        t = time.perf_counter()
        report = check_log(s)
        dt = time.perf_counter() - t
        print(f"check_log: {report.entries:,} entries in {dt:.1f} s, ok={report.ok}")

        t = time.perf_counter()
        replayed = s.rebuild_indexes()
        dt = time.perf_counter() - t
        print(f"rebuild_indexes: {replayed:,} entries replayed in {dt:.1f} s")
    size = sum(f.stat().st_size for f in path.iterdir())
    print(f"store size on disk: {size / 1e6:,.0f} MB")


if __name__ == "__main__":
    main()
