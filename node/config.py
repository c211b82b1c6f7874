"""A node directory: node.toml, genesis.json, the validator key and the chain data.

    DIR/node.toml          rpc address, peers, allowlist, pool limits, empty blocks
    DIR/genesis.json       the network's genesis (the same file on every node)
    DIR/keys/validator.json + keys/password   the sealing key (absent on a follower)
    DIR/chaindata/         LevelDB
    DIR/rpc.url            written once the RPC listens, removed on a clean stop
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eth_utils import is_address, to_canonical_address


class NodeConfigError(ValueError):
    """A wrong key or value in node.toml; the message names it."""


@dataclass
class NodeConfig:
    home: Path
    rpc_host: str = "127.0.0.1"
    rpc_port: int = 8545
    peers: list[str] = field(default_factory=list)
    empty_blocks: bool = False
    allowlist_enabled: bool = True
    allowlist_accounts: set[bytes] = field(default_factory=set)
    allowlist_registry: bytes | None = None
    txpool_max_txs: int = 8192
    txpool_max_per_sender: int = 2048
    max_request_bytes: int = 8 * 1024 * 1024

    @property
    def genesis_path(self) -> Path:
        return self.home / "genesis.json"

    @property
    def keystore_path(self) -> Path:
        return self.home / "keys" / "validator.json"

    @property
    def password_path(self) -> Path:
        return self.home / "keys" / "password"

    @property
    def chaindata(self) -> Path:
        return self.home / "chaindata"

    @property
    def url_file(self) -> Path:
        return self.home / "rpc.url"


SCHEMA: dict[str, dict[str, type | tuple[type, ...]]] = {
    "rpc": {"host": str, "port": int, "max_request_bytes": int},
    "peers": {"urls": list},
    "chain": {"empty_blocks": bool},
    "allowlist": {"enabled": bool, "accounts": list, "registry": str},
    "txpool": {"max_txs": int, "max_per_sender": int},
}


def _address(value: Any, where: str) -> bytes:
    if not isinstance(value, str) or not is_address(value):
        raise NodeConfigError(f"node config: {where} is not an address: {value!r}")
    return to_canonical_address(value)


def load(home: Path) -> NodeConfig:
    path = home / "node.toml"
    if not path.exists():
        raise NodeConfigError(f"node config: {path} not found (run `certledger node init {home}`)")
    try:
        doc = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise NodeConfigError(f"node config: {path}: {exc}") from None
    for section, values in doc.items():
        if section not in SCHEMA or not isinstance(values, dict):
            raise NodeConfigError(f"node config: unknown section [{section}]")
        for key, value in values.items():
            expected = SCHEMA[section].get(key)
            if expected is None:
                raise NodeConfigError(f"node config: unknown key {section}.{key}")
            if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
                raise NodeConfigError(f"node config: {section}.{key} has the wrong type ({type(value).__name__})")
    cfg = NodeConfig(home=home)
    rpc, allow, pool = doc.get("rpc", {}), doc.get("allowlist", {}), doc.get("txpool", {})
    cfg.rpc_host = rpc.get("host", cfg.rpc_host)
    cfg.rpc_port = rpc.get("port", cfg.rpc_port)
    if not 0 <= cfg.rpc_port <= 65535:
        raise NodeConfigError(f"node config: rpc.port out of range: {cfg.rpc_port}")
    cfg.max_request_bytes = rpc.get("max_request_bytes", cfg.max_request_bytes)
    cfg.peers = [str(u).rstrip("/") for u in doc.get("peers", {}).get("urls", [])]
    for u in cfg.peers:
        if not u.startswith(("http://", "https://")):
            raise NodeConfigError(f"node config: peers.urls entry is not an http(s) URL: {u!r}")
    cfg.empty_blocks = doc.get("chain", {}).get("empty_blocks", False)
    cfg.allowlist_enabled = allow.get("enabled", True)
    cfg.allowlist_accounts = {_address(a, "allowlist.accounts") for a in allow.get("accounts", [])}
    if allow.get("registry"):
        cfg.allowlist_registry = _address(allow["registry"], "allowlist.registry")
    cfg.txpool_max_txs = pool.get("max_txs", cfg.txpool_max_txs)
    cfg.txpool_max_per_sender = pool.get("max_per_sender", cfg.txpool_max_per_sender)
    return cfg
