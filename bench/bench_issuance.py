"""Certificates issued per second end to end (entry to effective), and verified per second.

A fresh data directory per ledger mode (the embedded chain node, and the local store), the demo's
business-licence type with its surface design, then timed phases: entry (one batch through the
service), both reviews (batch decisions), issuance (encrypt, OFD face with QR code, SM2 signature
and its check, GB/T 38540 seal, anchoring, effective), verification of every certificate from its
data and of a sample of its sealed files. PDF and PNG renditions are made on first request, not
here. Where the time goes: per-step mean durations from the pipeline's own records, and with
``--profile`` the main process's hottest functions during issuance. Prints figures; asserts nothing.

    .venv/bin/python bench/bench_issuance.py [--count 5000] [--mode chain|local|both] [--workers N] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _init(folder: Path, local: bool) -> None:
    cmd = [str(Path(sys.executable).with_name("certledger")), "init", str(folder)] + (["--local"] if local else [])
    subprocess.run(cmd, check=True, capture_output=True, cwd=ROOT, env={**os.environ, "CERTLEDGER_ADMIN_PASSWORD": "Bench-pass-1a"})


def _step_means(platform) -> list[tuple[str, float, int]]:
    from sqlalchemy import select

    from issuance.models.pipeline import IssuanceStep, StepStatus

    sums: dict[str, list[float]] = {}
    with platform.uow() as uow:
        for step, start, end in uow.session.execute(select(IssuanceStep.step, IssuanceStep.started_at, IssuanceStep.ended_at)
                                                    .where(IssuanceStep.status == StepStatus.DONE)):
            if start and end:
                sums.setdefault(step, []).append((end - start).total_seconds())
    return [(k, sum(v) / len(v) * 1e3, len(v)) for k, v in sums.items()]


def run(mode: str, count: int, workers: int | None, profile: bool) -> None:
    from certledger.config import load_settings
    from certledger.runtime import Platform
    from issuance import canonical, certificates, demo, lifecycle
    from issuance.models import Certificate
    from issuance.pipeline import issue
    from issuance.pipeline.documents import documents_dir, file_path
    from issuance.verification import verify_data, verify_ofd_file
    from sqlalchemy import select

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "data"
        _init(folder, local=(mode == "local"))
        platform = Platform(load_settings(folder, environ={}))
        try:
            setup = demo.prepare(platform)
            warm = demo.enter_and_approve(platform, setup, 20)  # signing identity, contracts, pool start-up
            issue(platform, warm, workers=workers)

            t0 = time.perf_counter()
            with platform.uow() as uow:
                start = uow.session.scalar(select(Certificate.id).order_by(Certificate.id.desc()).limit(1)) or 0
                ids = [c.id for c in certificates.enter_many(uow, setup.clerk, setup.type_id,
                                                              demo.sample_entries(start + 1000, count))]
                uow.commit()
            t1 = time.perf_counter()
            with platform.uow() as uow:
                certificates.submit_many(uow, setup.clerk, ids)
                certificates.review_many(uow, setup.reviewer, ids, certificates.ENTRY_REVIEW, True)
                certificates.review_many(uow, setup.reviewer, ids, certificates.ISSUANCE_REVIEW, True)
                uow.commit()
            t2 = time.perf_counter()
            prof = cProfile.Profile() if profile else None
            if prof:
                prof.enable()
            report = issue(platform, ids, workers=workers)
            if prof:
                prof.disable()
            t3 = time.perf_counter()
            done = len(report.effective)

            with platform.uow() as uow:
                certs = uow.session.execute(select(Certificate).where(Certificate.id.in_(ids))).scalars().all()
                items = [canonical.parse(lifecycle.canonical_data(uow, c)) for c in certs]
                identifiers = [c.identifier for c in certs]
            led, today = platform.ledger, date(2027, 1, 1)
            t4 = time.perf_counter()
            valid = sum(verify_data(led, b, v, today=today).valid for b, v in items)
            t5 = time.perf_counter()
            folder_docs = documents_dir(folder)
            sample = [file_path(folder_docs, i).read_bytes() for i in identifiers[:300]]
            roots = [platform.ca.certificate]
            t6 = time.perf_counter()
            files_ok = sum(verify_ofd_file(led, data, roots, today=today).valid for data in sample)
            t7 = time.perf_counter()
            steps = _step_means(platform)
        finally:
            platform.close()

    label = "embedded chain node" if mode == "chain" else "local LevelDB store"
    print(f"\n== {label}: {count:,} certificates, workers={workers if workers is not None else os.cpu_count()} "
          f"on {os.cpu_count()} cores ==")
    print(f"entry (service, one batch)      {t1 - t0:7.2f} s  {count / (t1 - t0):8,.0f} /s")
    print(f"reviews (submit + 2 decisions)  {t2 - t1:7.2f} s  {count / (t2 - t1):8,.0f} /s")
    print(f"issuance ({done:,} effective)     {t3 - t2:7.2f} s  {count / (t3 - t2):8,.0f} /s")
    print(f"END TO END (entry to effective) {t3 - t0:7.2f} s  {count / (t3 - t0):8,.0f} issued/s")
    print(f"verify from data ({valid:,} valid)  {t5 - t4:7.2f} s  {len(items) / (t5 - t4):8,.0f} /s (one process)")
    print(f"verify sealed OFD ({files_ok} valid) {t7 - t6:7.2f} s  {len(sample) / (t7 - t6):8,.0f} /s (one process)")
    print("mean step durations (pipeline records; document steps overlap across workers):")
    for step, ms, n in steps:
        print(f"  {step:<10} {ms:8.2f} ms  ({n:,})")
    if prof:
        out = io.StringIO()
        pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(20)
        print("main process during issuance, by own time:")
        print("\n".join(out.getvalue().splitlines()[6:34]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=5_000)
    ap.add_argument("--mode", choices=["chain", "local", "both"], default="both")
    ap.add_argument("--workers", type=int, default=None, help="document worker processes (default: one per core)")
    ap.add_argument("--profile", action="store_true")
    args = ap.parse_args()
    for mode in (["chain", "local"] if args.mode == "both" else [args.mode]):
        run(mode, args.count, args.workers, args.profile)


if __name__ == "__main__":
    main()
