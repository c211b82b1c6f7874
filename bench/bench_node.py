"""Our ledger node (py-evm, Clique) next to anvil: throughput and read latency.

    .venv/bin/python bench/bench_node.py [--parts abc] [--block-txs 200] [--blocks-per-kind 4]
        [--rpc-txs 600] [--clients 4] [--new-connections] [--blocks 50000] [--log-every 1000] [--samples 200]

(a) in process: blocks of --block-txs transactions (value transfers, then anchorBatch calls of the
    certificate ledger) sealed by one NodeChain and imported, decoded from RLP and fully validated,
    by a second one: transactions per second for each;
(b) over JSON-RPC: --rpc-txs signed transactions sent by --clients concurrent clients to anvil
    (automine) and to a ledger node process (a block a second), until every receipt is in:
    transactions per second end to end, and the ratio;
(c) --blocks blocks sealed in process with past timestamps (empty but for one anchorBatch every
    --log-every blocks), then a node process started on that data directory: median and p95
    latency of eth_call and eth_getLogs; the same on anvil (--prune-history) with anvil_mine.

About 4.5 minutes with the defaults; --blocks 100000 adds about 3.5 (sealing runs at ~480
empty blocks a second). Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests
from eth_account import Account
from web3 import Web3

from chain_client.artifacts import load
from chain_client.connection import connect
from chain_client.contracts import contract, deploy_all, type_code_id
from chain_client.devnode import AnvilNode, LedgerNode
from chain_client.transactions import Sender

CHAIN_ID = 2836
GWEI = 10**9
T1 = type_code_id("T1")
FEE = {"maxFeePerGas": 100 * GWEI, "maxPriorityFeePerGas": GWEI}
_codec = Web3()
REGISTRY, LEDGER = load("IssuerRegistry"), load("CertificateLedger")


def addr_bytes(a) -> bytes:
    return bytes.fromhex(a.address[2:])


def sign(acct, nonce: int, to: str | None, data: bytes | str = b"", gas: int = 21000, value: int = 0) -> bytes:
    tx = {"type": 2, "chainId": CHAIN_ID, "nonce": nonce, "gas": gas, "value": value, "data": data, **FEE}
    if to is not None:
        tx["to"] = to
    return acct.sign_transaction(tx).raw_transaction


def deploy_data(artifact: dict, *args) -> str:
    return _codec.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"]).constructor(*args).data_in_transaction


def call_data(artifact: dict, address: str, fn: str, *args) -> str:
    return _codec.eth.contract(address=Web3.to_checksum_address(address), abi=artifact["abi"]).encode_abi(fn, args=list(args))


def created(acct, nonce: int) -> str:
    from eth._utils.address import generate_contract_address

    return Web3.to_checksum_address(generate_contract_address(addr_bytes(acct), nonce))


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


# --- (a) sealing and importing in process ---------------------------------------------------------

def part_a(args) -> None:
    from eth.vm.forks.london import LondonVM
    from eth_keys import keys as ek

    from node import genesis as G
    from node import logindex
    from node.chain import NodeChain
    from node.cli import _template
    from node.db import LevelDB

    key = ek.PrivateKey(os.urandom(32))
    admin, senders = Account.create(), [Account.create() for _ in range(8)]
    genesis = G.parse(G.render(_template(), [key.public_key.to_canonical_address()],
                               {addr_bytes(a): 10**26 for a in (admin, *senders)}))
    tmp = Path(tempfile.mkdtemp(prefix="bench-node-a-"))
    db1, db2 = LevelDB(tmp / "sealer"), LevelDB(tmp / "importer")
    sealer, importer = NodeChain(db1, genesis), NodeChain(db2, genesis)
    builder = LondonVM.get_transaction_builder()
    ts = int(time.time()) - 10**6
    nonces = {a.address: 0 for a in (admin, *senders)}

    def next_nonce(a) -> int:
        nonces[a.address] += 1
        return nonces[a.address] - 1

    def block(raws: list[bytes]) -> tuple[float, float, int]:
        nonlocal ts
        txs = [builder.decode(r) for r in raws]  # as the pool holds them: decoded, sender not yet recovered
        ts += 1
        t = time.perf_counter()
        b, receipts = sealer.seal(key, txs, ts)
        logindex.index_block(db1.raw, b.header, receipts)
        sealed = time.perf_counter() - t
        encoded = __import__("rlp").encode(b)
        t = time.perf_counter()
        peer_block = importer.decode_block(encoded, b.number)
        importer.import_block(peer_block)
        logindex.index_block(db2.raw, peer_block.header, importer.receipts(peer_block.header))
        imported = time.perf_counter() - t
        failed = sum(1 for r in receipts if r.state_root != b"\x01")
        return sealed, imported, failed

    registry, ledger = created(admin, 0), created(admin, 1)
    block([sign(admin, next_nonce(admin), None, deploy_data(REGISTRY, admin.address), gas=3_000_000),
           sign(admin, next_nonce(admin), None, deploy_data(LEDGER, registry), gas=3_000_000)])
    block([sign(admin, next_nonce(admin), registry, call_data(REGISTRY, registry, "registerIssuer", s.address, "bench", [T1]),
                gas=300_000) for s in senders])

    n = args.block_txs
    workloads = {
        "value transfers": lambda i: (lambda s: sign(s, next_nonce(s), senders[(i + 1) % len(senders)].address,
                                                     value=1))(senders[i % len(senders)]),
        "anchorBatch calls": lambda i: (lambda s: sign(s, next_nonce(s), ledger, call_data(
            LEDGER, ledger, "anchorBatch", os.urandom(32), T1, 1000), gas=150_000))(senders[i % len(senders)]),
    }
    print(f"(a) in process, blocks of {n} transactions, {args.blocks_per_kind} blocks per kind "
          f"(seal: build + execute + sign + persist; import: RLP decode + full validation + persist)")
    print(f"    {'workload':20s} {'seal tx/s':>10s} {'import tx/s':>12s} {'ms/block seal':>14s} {'import':>8s}")
    for name, make in workloads.items():
        seal_s = import_s = 0.0
        failed = 0
        for _ in range(args.blocks_per_kind):
            s, i, f = block([make(k) for k in range(n)])
            seal_s, import_s, failed = seal_s + s, import_s + i, failed + f
        total = n * args.blocks_per_kind
        note = f"  ({failed} failed!)" if failed else ""
        print(f"    {name:20s} {total / seal_s:10,.0f} {total / import_s:12,.0f} "
              f"{seal_s / args.blocks_per_kind * 1000:14,.0f} {import_s / args.blocks_per_kind * 1000:8,.0f}{note}")
    same = sealer.head().hash == importer.head().hash
    print(f"    heads equal after import: {same}")
    db1.close()
    db2.close()
    shutil.rmtree(tmp, ignore_errors=True)


# --- (b) end to end over JSON-RPC ---------------------------------------------------------

class Client:
    """Raw JSON-RPC over one keep-alive connection (as web3.py does), or a new connection a call."""

    def __init__(self, url: str, new_connections: bool = False) -> None:
        self.url = url
        self.http = requests if new_connections else requests.Session()  # requests.post: a connection a call

    def call(self, method: str, params: list):
        out = self.http.post(self.url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params},
                             timeout=60).json()
        if "error" in out:
            raise RuntimeError(f"{method}: {out['error']}")
        return out["result"]

    def batch(self, calls: list[tuple[str, list]]) -> list:
        body = [{"jsonrpc": "2.0", "id": i, "method": m, "params": p} for i, (m, p) in enumerate(calls)]
        out = self.http.post(self.url, json=body, timeout=60).json()
        return [r.get("result") for r in sorted(out, key=lambda r: r["id"])]


def wait_all(url: str, hashes: list[str], timeout: float = 300) -> int:
    """Poll (batched) until every receipt is in; returns how many failed."""
    c, left, failed = Client(url), list(hashes), 0
    deadline = time.time() + timeout
    while left:
        if time.time() > deadline:
            raise RuntimeError(f"{len(left)} transactions not mined in {timeout} s")
        chunk = left[:200]
        got = c.batch([("eth_getTransactionReceipt", [h]) for h in chunk])
        done = {h for h, r in zip(chunk, got) if r is not None}
        failed += sum(1 for r in got if r is not None and r["status"] != "0x1")
        left = [h for h in left if h not in done]
        if left and len(done) < len(chunk):
            time.sleep(0.02)
    return failed


def send_all(url: str, per_client: list[list[bytes]], new_connections: bool) -> tuple[list[str], float]:
    hashes: list[list[str]] = [[] for _ in per_client]
    errors: list[str] = []

    def run(i: int) -> None:
        c = Client(url, new_connections)
        for raw in per_client[i]:
            try:
                hashes[i].append(c.call("eth_sendRawTransaction", ["0x" + raw.hex()]))
            except RuntimeError as exc:
                errors.append(str(exc))
    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(per_client))]
    t = time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    if errors:
        raise RuntimeError(f"{len(errors)} sends refused, first: {errors[0]}")
    return [h for hs in hashes for h in hs], time.perf_counter() - t


def part_b(args) -> None:
    n, k = args.rpc_txs, args.clients
    rows: dict[str, dict[str, tuple[float, float]]] = {}
    for kind in ("anvil", "ours"):
        tmp = Path(tempfile.mkdtemp(prefix="bench-node-b-"))
        node = AnvilNode().start() if kind == "anvil" else LedgerNode(tmp / "node").start()
        try:
            w3 = connect(node.url)
            admin, clients = Account.create(), [Account.create() for _ in range(k)]
            for a in (admin, *clients):
                node.fund(w3, a.address, 10**24)
            d = deploy_all(Sender(w3, admin))
            reg = contract(w3, "IssuerRegistry", d.registry)
            s = Sender(w3, admin)
            for c in clients:
                s.transact(reg.functions.registerIssuer(c.address, "bench", [T1]))
            nonces = [w3.eth.get_transaction_count(c.address) for c in clients]
            for workload in ("value transfers", "anchorBatch calls"):
                per_client = []
                for ci, c in enumerate(clients):
                    raws = []
                    for j in range(n // k):
                        if workload == "value transfers":
                            raws.append(sign(c, nonces[ci], clients[(ci + 1) % k].address, value=1))
                        else:
                            raws.append(sign(c, nonces[ci], d.ledger, call_data(LEDGER, d.ledger, "anchorBatch",
                                                                                 os.urandom(32), T1, 1000), gas=150_000))
                        nonces[ci] += 1
                    per_client.append(raws)
                t = time.perf_counter()
                hashes, sent_s = send_all(node.url, per_client, args.new_connections)
                failed = wait_all(node.url, hashes)
                total_s = time.perf_counter() - t
                rows.setdefault(workload, {})[kind] = (len(hashes) / sent_s, len(hashes) / total_s)
                if failed:
                    print(f"    warning: {failed} {workload} failed on {kind}")
        finally:
            node.stop()
            shutil.rmtree(tmp, ignore_errors=True)
    how = "a new connection per call" if args.new_connections else "keep-alive connections"
    print(f"(b) over JSON-RPC: {n // k * k} signed transactions from {k} concurrent clients ({how}), until every "
          f"receipt is in (anvil automines; ours seals a block a second)")
    print(f"    {'workload':20s} {'anvil tx/s':>11s} {'ours tx/s':>10s} {'ours/anvil':>11s}   accepted/s anvil, ours")
    for workload, r in rows.items():
        (a_acc, a_e2e), (o_acc, o_e2e) = r["anvil"], r["ours"]
        print(f"    {workload:20s} {a_e2e:11,.0f} {o_e2e:10,.0f} {o_e2e / a_e2e:11.2f}   {a_acc:,.0f}, {o_acc:,.0f}")


# --- (c) read latency on a long chain --------------------------------------------------------

def build_long_chain(home: Path, node: LedgerNode, blocks: int, log_every: int) -> tuple[str, list[bytes], float]:
    """Seal ``blocks`` blocks into the node's data directory (the node not running)."""
    from eth.vm.forks.london import LondonVM

    from node import genesis as G
    from node import keys, logindex
    from node.chain import NodeChain
    from node.db import LevelDB

    key = keys.load(home / "keys" / "validator.json", home / "keys" / "password")
    genesis = G.load(home / "genesis.json")
    db = LevelDB(home / "chaindata")
    chain = NodeChain(db, genesis)
    builder = LondonVM.get_transaction_builder()
    faucet = node.faucet
    registry, ledger = created(faucet, 0), created(faucet, 1)
    nonce = 0

    def tx(to, data, gas):
        nonlocal nonce
        nonce += 1
        return builder.decode(sign(faucet, nonce - 1, to, data, gas=gas))

    ts = int(time.time()) - 2 * blocks - 1000
    roots: list[bytes] = []
    t = time.perf_counter()
    for number in range(1, blocks + 1):
        if number == 1:
            txs = [tx(None, deploy_data(REGISTRY, faucet.address), 3_000_000), tx(None, deploy_data(LEDGER, registry), 3_000_000)]
        elif number == 2:
            txs = [tx(registry, call_data(REGISTRY, registry, "registerIssuer", faucet.address, "bench", [T1]), 300_000)]
        elif number % log_every == 0:
            roots.append(os.urandom(32))
            txs = [tx(ledger, call_data(LEDGER, ledger, "anchorBatch", roots[-1], T1, 1000), 150_000)]
        else:
            txs = []
        ts += 1
        b, receipts = chain.seal(key, txs, ts)
        logindex.index_block(db.raw, b.header, receipts)
        if number % 20_000 == 0:
            rate = number / (time.perf_counter() - t)
            print(f"    ... {number:,} blocks, {rate:,.0f} blocks/s", flush=True)
    built = time.perf_counter() - t
    db.close()
    return ledger, roots, built


def latencies(url: str, ledger: str, roots: list[bytes], samples: int,
              new_connections: bool = False) -> dict[str, tuple[float, float, int]]:
    c = Client(url, new_connections)
    head = int(c.call("eth_blockNumber", []), 16)
    topic = "0x" + Web3.keccak(text="BatchAnchored(bytes32,address,bytes32,uint32)").hex().removeprefix("0x")
    narrow = hex(max(head - 999, 0))
    cases = {
        "eth_blockNumber": ("eth_blockNumber", lambda i: []),
        "eth_call rootInfo (latest)": ("eth_call", lambda i: [{"to": ledger, "data": call_data(
            LEDGER, ledger, "rootInfo", roots[i % len(roots)])}, "latest"]),
        "eth_getBlockByNumber": ("eth_getBlockByNumber", lambda i: [hex((i * 7919) % head + 1), False]),
        "getLogs address, all blocks": ("eth_getLogs", lambda i: [{"fromBlock": "0x0", "toBlock": "latest", "address": ledger}]),
        "getLogs topic, all blocks": ("eth_getLogs", lambda i: [{"fromBlock": "0x0", "toBlock": "latest", "topics": [topic]}]),
        "getLogs address, last 1000": ("eth_getLogs", lambda i: [{"fromBlock": narrow, "toBlock": "latest", "address": ledger}]),
        "getLogs no filter, last 1000": ("eth_getLogs", lambda i: [{"fromBlock": narrow, "toBlock": "latest"}]),
    }
    out = {}
    for label, (method, params) in cases.items():
        times, size = [], 0
        n = samples if "all blocks" not in label else max(samples // 4, 10)
        for i in range(n):
            t = time.perf_counter()
            result = c.call(method, params(i))
            times.append((time.perf_counter() - t) * 1000)
            size = len(result) if isinstance(result, list) else size
        out[label] = (statistics.median(times), pct(times, 95), size)
    return out


def part_c(args) -> None:
    blocks, every = args.blocks, args.log_every
    home = Path(tempfile.mkdtemp(prefix="bench-node-c-")) / "node"
    node = LedgerNode(home).init()
    print(f"(c) read latency at {blocks:,} blocks, one anchorBatch every {every:,} blocks "
          f"({blocks // every} with logs); {args.samples} samples a call (a quarter for whole-range logs)")
    ledger, roots, built = build_long_chain(home, node, blocks, every)
    print(f"    built in process: {built:,.0f} s ({blocks / built:,.0f} blocks/s, NodeChain.seal + log index)")
    t = time.perf_counter()
    node.start(timeout=600)
    print(f"    node process up on that data directory in {time.perf_counter() - t:,.1f} s")
    try:
        ours = latencies(node.url, ledger, roots, args.samples)
        fresh = latencies(node.url, ledger, roots, args.samples, new_connections=True)
    finally:
        node.stop()
        shutil.rmtree(home.parent, ignore_errors=True)
    print(f"    ours: eth_blockNumber p50 {ours['eth_blockNumber'][0]:.2f} ms keep-alive, "
          f"{fresh['eth_blockNumber'][0]:.2f} ms on a new connection", flush=True)
    anvil_rows, note = None, ""
    if not args.no_anvil:
        try:
            anvil_rows = anvil_latencies(blocks, every, args.samples)
        except Exception as exc:  # a missing or failing anvil leaves our figures standing
            note = f"    anvil: not measured ({type(exc).__name__}: {exc})"
    print("    milliseconds; keep-alive = one connection for all calls (web3.py), new = a connection per call")
    print(f"    {'call':30s} {'ours keep-alive':>16s} {'ours new conn':>14s} {'anvil keep-alive':>17s}  logs")
    print(f"    {'':30s} {'p50':>8s} {'p95':>7s} {'p50':>6s} {'p95':>7s} {'p50':>9s} {'p95':>7s}")
    for label, (p50, p95, size) in ours.items():
        a = anvil_rows[label] if anvil_rows else None
        theirs = f"{a[0]:9.2f} {a[1]:7.2f}" if a else f"{'-':>9s} {'-':>7s}"
        f50, f95, _ = fresh[label]
        print(f"    {label:30s} {p50:8.2f} {p95:7.2f} {f50:6.2f} {f95:7.2f} {theirs}  {size if 'Logs' in label else ''}")
    if note:
        print(note)


def anvil_latencies(blocks: int, every: int, samples: int) -> dict[str, tuple[float, float, int]]:
    # --prune-history: without it anvil_mine slows with every block it holds (10,000 blocks took 14 s,
    # the next 40,000 took 260 s); old states are dropped, blocks, receipts and logs are kept
    with AnvilNode(extra_args=("--prune-history",)) as anvil:
        w3 = connect(anvil.url)
        admin = Account.create()
        anvil.fund(w3, admin.address, 10**24)
        s = Sender(w3, admin)
        d = deploy_all(s)
        s.transact(contract(w3, "IssuerRegistry", d.registry).functions.registerIssuer(admin.address, "bench", [T1]))
        led = contract(w3, "CertificateLedger", d.ledger)
        t = time.perf_counter()
        roots = []
        while w3.eth.block_number + every <= blocks:
            w3.provider.make_request("anvil_mine", [hex(every - 1 - (w3.eth.block_number % every))])
            roots.append(os.urandom(32))
            s.transact(led.functions.anchorBatch(roots[-1], T1, 1000))
        rest = blocks - w3.eth.block_number
        if rest > 0:
            w3.provider.make_request("anvil_mine", [hex(rest)])
        print(f"    anvil (--prune-history): {w3.eth.block_number:,} blocks ({len(roots)} with logs) made in "
              f"{time.perf_counter() - t:,.1f} s with anvil_mine")
        return latencies(anvil.url, d.ledger, roots, samples)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--parts", default="abc", help="which parts to run: any of a, b, c")
    ap.add_argument("--block-txs", type=int, default=200, help="(a) transactions per block")
    ap.add_argument("--blocks-per-kind", type=int, default=4, help="(a) blocks per workload")
    ap.add_argument("--rpc-txs", type=int, default=600, help="(b) transactions per workload and node")
    ap.add_argument("--clients", type=int, default=4, help="(b) concurrent senders")
    ap.add_argument("--blocks", type=int, default=50_000,
                    help="(c) chain length (100000: about 3.5 more minutes to build)")
    ap.add_argument("--log-every", type=int, default=1000, help="(c) one block with a log every N blocks")
    ap.add_argument("--samples", type=int, default=200, help="(c) calls per measured method")
    ap.add_argument("--no-anvil", action="store_true", help="(c) skip the anvil comparison")
    ap.add_argument("--new-connections", action="store_true", help="(b) a new HTTP connection per call")
    args = ap.parse_args()
    sys.stdout.reconfigure(line_buffering=True)
    t = time.perf_counter()
    for part, fn in (("a", part_a), ("b", part_b), ("c", part_c)):
        if part in args.parts:
            fn(args)
    print(f"total {time.perf_counter() - t:,.0f} s")


if __name__ == "__main__":
    main()
