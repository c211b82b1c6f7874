"""``python -m node``: init a node directory (or a whole local network) and start a node.

``certledger node ...`` runs this module in its own process: the node imports nothing of the
platform and the platform imports nothing of it.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
from pathlib import Path

from eth_utils import is_address, to_canonical_address, to_checksum_address

from . import config as C
from . import genesis as G
from . import keys

TEMPLATE = Path(__file__).resolve().parents[1] / "genesis.json"
DEFAULT_TEMPLATE = {
    "config": {"chainId": 2836, "homesteadBlock": 0, "eip150Block": 0, "eip155Block": 0, "eip158Block": 0,
               "byzantiumBlock": 0, "constantinopleBlock": 0, "petersburgBlock": 0, "istanbulBlock": 0,
               "berlinBlock": 0, "londonBlock": 0, "clique": {"period": 1, "epoch": 30000}},
    "nonce": "0x0", "timestamp": "0x0", "gasLimit": "0x1c9c380", "difficulty": "0x1",
    "mixHash": "0x" + "00" * 32, "coinbase": "0x" + "00" * 20, "alloc": {}, "baseFeePerGas": "0x3b9aca00",
}


class CLIError(Exception):
    pass


def _template() -> dict:
    return json.loads(TEMPLATE.read_text()) if TEMPLATE.exists() else json.loads(json.dumps(DEFAULT_TEMPLATE))


def _funds(items: list[str]) -> dict[bytes, int]:
    out = {}
    for item in items:
        addr, _, wei = item.partition("=")
        if not is_address(addr) or not wei.isdigit():
            raise CLIError(f"--fund wants ADDRESS=WEI, got {item!r}")
        out[to_canonical_address(addr)] = int(wei)
    return out


def _write_config(home: Path, port: int, peers: list[str], accounts: list[bytes], empty_blocks: bool) -> None:
    lines = ["[rpc]", 'host = "127.0.0.1"', f"port = {port}", "", "[peers]",
             "urls = [" + ", ".join(json.dumps(p) for p in peers) + "]", "", "[chain]",
             f"empty_blocks = {'true' if empty_blocks else 'false'}", "", "[allowlist]", "enabled = true",
             "# accounts that may send besides the validators and genesis-funded ones; registry = issuer registry",
             "accounts = [" + ", ".join(json.dumps(to_checksum_address(a)) for a in accounts) + "]", ""]
    (home / "node.toml").write_text("\n".join(lines))


def _fresh(home: Path) -> None:
    if (home / "node.toml").exists() or (home / "chaindata").exists():
        raise CLIError(f"{home} already holds a node; choose an empty directory")
    home.mkdir(parents=True, exist_ok=True)


def _genesis_doc(args, validators: list[bytes]) -> dict:
    doc = G.render(_template(), validators, _funds(args.fund))
    if args.chain_id:
        doc["config"]["chainId"] = args.chain_id
    if args.period:
        doc["config"]["clique"]["period"] = args.period
    G.parse(doc)  # refuse now what would refuse to start later
    return doc


def cmd_init(args) -> None:
    home = Path(args.dir)
    _fresh(home)
    validator = None if args.no_validator else keys.create(home / "keys" / "validator.json", home / "keys" / "password")
    if args.genesis:
        doc = json.loads(Path(args.genesis).read_text())
        G.parse(doc)
    else:
        if validator is None:
            raise CLIError("a follower (--no-validator) needs the network's --genesis")
        doc = _genesis_doc(args, [validator])
    (home / "genesis.json").write_text(json.dumps(doc, indent=2) + "\n")
    _write_config(home, args.rpc_port, args.peer, [], args.empty_blocks)
    print(f"node directory {home} ready" + (f"; validator {to_checksum_address(validator)}" if validator else ""))


def cmd_init_network(args) -> None:
    base = Path(args.dir)
    homes = [base / f"node{i + 1}" for i in range(args.nodes)]
    for h in homes:
        _fresh(h)
    validators = [keys.create(h / "keys" / "validator.json", h / "keys" / "password") for h in homes]
    doc = _genesis_doc(args, validators)
    ports = [args.base_port + i for i in range(args.nodes)]
    for i, h in enumerate(homes):
        (h / "genesis.json").write_text(json.dumps(doc, indent=2) + "\n")
        peers = [f"http://127.0.0.1:{p}" for j, p in enumerate(ports) if j != i]
        _write_config(h, ports[i], peers, [], args.empty_blocks)
    print(f"{args.nodes} validator nodes in {base}: " + ", ".join(f"{h.name} :{p}" for h, p in zip(homes, ports)))


def cmd_start(args) -> None:
    from .peers import Peers
    from .producer import Producer
    from .rpc.server import RPCServer
    from .service import Node

    home = Path(args.data_dir)
    cfg = C.load(home)
    if args.rpc_port is not None:
        cfg.rpc_port = args.rpc_port
    if args.rpc_host:
        cfg.rpc_host = args.rpc_host
    cfg.peers += [p.rstrip("/") for p in args.peer]
    genesis = G.load(cfg.genesis_path)
    key = keys.load(cfg.keystore_path, cfg.password_path)
    log = logging.getLogger("certledger.node")
    node = Node(cfg, genesis, key)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    try:
        server = RPCServer(node, cfg.rpc_host, cfg.rpc_port)
    except OSError as exc:
        node.close()
        raise CLIError(f"cannot listen on {cfg.rpc_host}:{cfg.rpc_port}: {exc.strerror}") from None
    peers = Peers(node, cfg.peers)
    if cfg.peers:
        peers.sync_once()  # catch up before sealing on a stale head
    server.start()
    producer = Producer(node).start()
    peers.start()
    cfg.url_file.write_text(server.url + "\n")
    head = node.head()
    log.info("node started: chain %d, head #%d, %s, RPC %s, %d peer(s)", genesis.chain_id, head.block_number,
             f"validator {to_checksum_address(node.me)}" if key else "follower", server.url, len(cfg.peers))
    config_file = home / "node.toml"
    seen = config_file.stat().st_mtime_ns
    try:
        while not stop.wait(1.0):
            mtime = config_file.stat().st_mtime_ns if config_file.exists() else seen
            if mtime != seen:
                seen = mtime
                try:
                    node.reload_allowlist(C.load(home))
                except C.NodeConfigError as exc:
                    log.error("node.toml changed but is not valid, keeping the old allowlist: %s", exc)
    finally:
        log.info("stopping")
        cfg.url_file.unlink(missing_ok=True)
        server.stop()
        producer.stop()
        peers.stop()
        head = node.head()
        node.close()
        log.info("stopped cleanly at #%d", head.block_number)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="certledger node", description="CertLedger ledger node (Clique PoA on py-evm)")
    sub = p.add_subparsers(dest="cmd", required=True)

    def genesis_opts(sp):
        sp.add_argument("--fund", action="append", default=[], metavar="ADDRESS=WEI", help="give an account ether in genesis")
        sp.add_argument("--chain-id", type=int)
        sp.add_argument("--period", type=int, help="seconds between blocks (Clique period)")
        sp.add_argument("--empty-blocks", action="store_true", help="seal a block every period even with no transactions")

    i = sub.add_parser("init", help="create a node directory: key, genesis, node.toml")
    i.add_argument("dir")
    i.add_argument("--genesis", help="join an existing network with its genesis.json")
    i.add_argument("--no-validator", action="store_true", help="a follower without a sealing key")
    i.add_argument("--rpc-port", type=int, default=8545)
    i.add_argument("--peer", action="append", default=[], metavar="URL")
    genesis_opts(i)
    i.set_defaults(fn=cmd_init)

    n = sub.add_parser("init-network", help="create N validator nodes sharing one genesis, peered with each other")
    n.add_argument("dir")
    n.add_argument("--nodes", type=int, default=3)
    n.add_argument("--base-port", type=int, default=8545)
    genesis_opts(n)
    n.set_defaults(fn=cmd_init_network)

    s = sub.add_parser("start", help="run a node")
    s.add_argument("--data-dir", required=True)
    s.add_argument("--rpc-port", type=int)
    s.add_argument("--rpc-host")
    s.add_argument("--peer", action="append", default=[], metavar="URL")
    s.add_argument("--log-level", default=os.environ.get("CERTLEDGER_NODE_LOG", "INFO"))
    s.set_defaults(fn=cmd_start)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(level=getattr(args, "log_level", "INFO").upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("eth").setLevel(logging.WARNING)
    try:
        args.fn(args)
    except (CLIError, C.NodeConfigError, G.GenesisError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except RuntimeError as exc:  # the chain database is held by another process, another genesis
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0
