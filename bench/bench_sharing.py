"""Sharing interface over HTTP: VerifyCertificate and GetCertificateDataByCertificateID per second,
with p50 / p99 latency, against the production set-up (gunicorn, not a development server).

A fresh data directory on the local LevelDB store (``certledger init --local``), the demo's
business-licence type shared publicly, N certificates issued through the pipeline, a second
department with an approved client system bound to 127.0.0.1 and an approved usage of the type.
Then ``gunicorn web.wsgi:app`` serves it (ONE worker with threads: the LevelDB store opens in
one process only) and a load generator on the same machine (processes x threads, each thread
one keep-alive connection through stdlib ``http.client``) sends requests for a fixed time per
method, each request for a certificate chosen in turn. The generator competes with the server for
the machine's cores, as a co-located client would. Prints figures; asserts nothing, except that
answers are successful (their count of failures is printed).

    .venv/bin/python bench/bench_sharing.py [--count 1000] [--seconds 10] [--threads 2]
                                            [--clients 1] [--connections 4] [--mode local|chain] [--workers N]
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing as mp
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
PASSWORD = "Bench-pass-1a"
HOST = "127.0.0.1"


def _init(folder: Path, local: bool) -> None:
    cmd = [str(Path(sys.executable).with_name("certledger")), "init", str(folder)] + (["--local"] if local else [])
    subprocess.run(cmd, check=True, capture_output=True, cwd=ROOT, env={**os.environ, "CERTLEDGER_ADMIN_PASSWORD": PASSWORD})


def prepare(folder: Path, count: int) -> tuple[str, list[str], list[dict]]:
    """(AccountId, identifiers, data items) of a deployment with ``count`` issued certificates."""
    from sqlalchemy import select

    from certledger.config import load_settings
    from certledger.runtime import Platform
    from issuance import accounts, catalogs, client_systems, demo, departments, usage
    from issuance.models import Certificate, User
    from issuance.pipeline import issue
    from sharing import service

    platform = Platform(load_settings(folder, environ={}))
    try:
        setup = demo.prepare(platform)
        t0 = time.perf_counter()
        ids = demo.enter_and_approve(platform, setup, count)
        report = issue(platform, ids)
        print(f"issued {len(report.effective):,} certificates in {time.perf_counter() - t0:.1f} s")
        with platform.uow() as uow:
            cat = catalogs.register(uow, setup.head, setup.type_id, "public")
            catalogs.review(uow, setup.admin, cat.id, True)
            accounts.create_user(uow, setup.admin, platform.policy, "bench_head", PASSWORD)
            uow.commit()

        def actor(name: str):
            with platform.uow() as uow:
                user = uow.session.execute(select(User).where(User.username == name)).scalar_one()
                return accounts.actor_for(uow, user, platform.policy, HOST)

        head = actor("bench_head")
        with platform.uow() as uow:
            dept = departments.apply(uow, head, name="压测市不动产登记中心", code="12230100MB0000077K", region_code="230100")
            uow.commit()
        with platform.uow() as uow:
            departments.review(uow, setup.admin, dept.id, True)
            uow.commit()
        head = actor("bench_head")
        with platform.uow() as uow:
            cs = client_systems.register(uow, head, "压测系统", [HOST])
            uow.commit()
        with platform.uow() as uow:
            cs = client_systems.review(uow, setup.admin, cs.id, True)
            account = cs.account_id
            usage.apply(uow, head, cs.id, cat.id, "性能测试")
            uow.commit()
        with platform.uow() as uow:
            certs = uow.session.execute(select(Certificate).where(Certificate.id.in_(ids))
                                        .order_by(Certificate.id)).scalars().all()
            ctype = service.type_view(uow, certs[0].type_id)
            items = [service.data_item(uow, c, ctype) for c in certs]
            identifiers = [c.identifier for c in certs]
        return account, identifiers, items
    finally:
        platform.close()  # releases the LevelDB store for the server process


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def start_server(folder: Path, port: int, threads: int, workers: int, read_only: bool) -> subprocess.Popen:
    cmd = [str(Path(sys.executable).with_name("gunicorn")), "--workers", str(workers), "--worker-class", "gthread",
           "--threads", str(threads), "--bind", f"{HOST}:{port}", "--keep-alive", "30", "--backlog", "2048",
           "--log-level", "warning", "web.wsgi:app"]
    env = {**os.environ, "CERTLEDGER_DATA": str(folder), "CERTLEDGER_WSGI_JOBS": "0",
           "CERTLEDGER_WSGI_READ_ONLY_LEDGER": "1" if read_only else "0"}
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {proc.returncode}")
        try:
            conn = http.client.HTTPConnection(HOST, port, timeout=2)
            conn.request("GET", "/sharing/openapi.json")
            if conn.getresponse().status == 200:
                conn.close()
                return proc
        except OSError:
            time.sleep(0.2)
    stop_server(proc)
    raise RuntimeError("gunicorn did not answer within 60 s")


def stop_server(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def post(conn: http.client.HTTPConnection, path: str, body: bytes) -> tuple[int, bytes]:
    conn.request("POST", path, body=body, headers={"Content-Type": "application/json"})
    resp = conn.getresponse()
    return resp.status, resp.read()


# --- the load generator: processes x threads, one keep-alive connection each ----------------------

def _client_process(port: int, path: str, bodies: list[bytes], offset: int, connections: int, seconds: float,
                    start_at: float, out: mp.Queue) -> None:
    import threading

    latencies: list[float] = []
    failures = [0]
    lock = threading.Lock()

    def worker(k: int) -> None:
        conn = http.client.HTTPConnection(HOST, port, timeout=30)
        mine: list[float] = []
        bad = 0
        i = offset + k
        while time.time() < start_at:
            time.sleep(0.001)
        end = start_at + seconds
        while True:
            t0 = time.perf_counter()
            if time.time() >= end:
                break
            try:
                status, data = post(conn, path, bodies[i % len(bodies)])
                ok = status == 200 and data.startswith(b'{"head":{"status":"0"')
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection(HOST, port, timeout=30)
                ok = False
            mine.append(time.perf_counter() - t0)
            bad += not ok
            i += connections * 7919  # spread over the certificates
        conn.close()
        with lock:
            latencies.extend(mine)
            failures[0] += bad

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out.put((latencies, failures[0]))


def load(port: int, path: str, bodies: list[bytes], clients: int, connections: int, seconds: float) -> dict:
    ctx = mp.get_context("fork")
    out: mp.Queue = ctx.Queue()
    start_at = time.time() + 1.0
    procs = [ctx.Process(target=_client_process, args=(port, path, bodies, c * 104_729, connections, seconds,
                                                       start_at, out)) for c in range(clients)]
    for p in procs:
        p.start()
    latencies: list[float] = []
    failures = 0
    for _ in procs:
        lat, bad = out.get()
        latencies.extend(lat)
        failures += bad
    for p in procs:
        p.join()
    latencies.sort()
    n = len(latencies)
    return {"requests": n, "failures": failures, "rps": n / seconds,
            "p50": latencies[n // 2] * 1e3 if n else float("nan"),
            "p99": latencies[min(n - 1, int(n * 0.99))] * 1e3 if n else float("nan"),
            "mean": statistics.fmean(latencies) * 1e3 if n else float("nan")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=1000, help="certificates issued (default 1000)")
    ap.add_argument("--seconds", type=float, default=10.0, help="measured time per method")
    ap.add_argument("--threads", type=int, default=2,
                    help="gthread threads per worker (2 measured best: one process is CPU-bound under the GIL)")
    ap.add_argument("--clients", type=int, default=1, help="load generator processes")
    ap.add_argument("--connections", type=int, default=4, help="keep-alive connections (threads) per process")
    ap.add_argument("--mode", choices=["local", "chain"], default="local",
                    help="local LevelDB store (one worker) or the embedded chain node (read-only workers)")
    ap.add_argument("--workers", type=int, default=None,
                    help="gunicorn workers (chain mode only; default: one per core); the local store allows one")
    args = ap.parse_args()
    local = args.mode == "local"
    if local and args.workers not in (None, 1):
        ap.error("the local LevelDB store opens in one process only: --workers 1")
    workers = 1 if local else (args.workers or os.cpu_count() or 1)

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "data"
        _init(folder, local)
        node = None
        if not local:  # started here so that it outlives the preparing platform: the workers read it
            from certledger.embedded_node import EmbeddedNode

            node = EmbeddedNode(folder)
            node.ensure()
        server = None
        try:
            account, identifiers, items = prepare(folder, args.count)
            port = _free_port()
            server = start_server(folder, port, args.threads, workers, read_only=not local)
            _run(args, port, account, identifiers, items, workers)
        finally:
            if server is not None:
                stop_server(server)
            if node is not None:
                node.stop()


def _run(args, port: int, account: str, identifiers: list[str], items: list[dict], workers: int) -> None:
    """Token, one checked call of each method, then the timed load of each."""
    conn = http.client.HTTPConnection(HOST, port, timeout=30)
    status, data = post(conn, "/sharing/Token", json.dumps({"AccountId": account}).encode())
    token = json.loads(data)["data"]["dataList"]
    auth = {"AccountId": account, "AccessToken": token}
    verify = [json.dumps({**auth, "CertificateData": item}, ensure_ascii=False).encode() for item in items]
    by_id = [json.dumps({**auth, "CertificateID": i}).encode() for i in identifiers]
    # one of each, checked, before timing
    s1, d1 = post(conn, "/sharing/VerifyCertificate", verify[0])
    s2, d2 = post(conn, "/sharing/GetCertificateDataByCertificateID", by_id[0])
    assert s1 == 200 and json.loads(d1)["data"]["verifyResult"] == "true", d1[:300]
    assert s2 == 200 and json.loads(d2)["data"]["dataList"][0]["certificateID"] == identifiers[0], d2[:300]
    conn.close()
    print(f"\n== sharing interface over HTTP: gunicorn web.wsgi:app, {workers} worker(s) (gthread, "
          f"{args.threads} threads each), {os.cpu_count()} cores ==")
    if args.mode == "local":
        print("   local LevelDB ledger store: it opens in ONE process only, so gunicorn runs one worker with "
              "threads (-w 1 -k gthread)")
    else:
        print("   embedded chain node; each worker opens the read-only chain ledger "
              "(CERTLEDGER_WSGI_READ_ONLY_LEDGER=1)")
    print(f"   load: {args.clients} client processes x {args.connections} keep-alive connections, "
          f"{args.seconds:.0f} s per method, {len(identifiers):,} certificates, on the same machine")
    for name, path, bodies in (("VerifyCertificate", "/sharing/VerifyCertificate", verify),
                               ("GetCertificateDataByCertificateID",
                                "/sharing/GetCertificateDataByCertificateID", by_id)):
        load(port, path, bodies, args.clients, args.connections, min(2.0, args.seconds))  # warm-up
        r = load(port, path, bodies, args.clients, args.connections, args.seconds)
        print(f"{name:<36} {r['rps']:8,.0f} req/s   p50 {r['p50']:7.2f} ms   p99 {r['p99']:7.2f} ms   "
              f"mean {r['mean']:6.2f} ms   ({r['requests']:,} requests, {r['failures']} failed)")
    print("goal: 2,000 verifications per second")


if __name__ == "__main__":
    main()
