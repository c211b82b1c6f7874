"""genesis.json in the geth/Besu format: chain id, fork blocks, Clique period and epoch, validators.

The same file starts every node of a network, so it is parsed strictly: an unknown fork, a
post-merge fork (Clique needs proof-of-work style headers) or a malformed ``extraData`` stops the
node with one line naming the field.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eth.constants import ZERO_HASH32
from eth.vm.forks import (
    ArrowGlacierVM, BerlinVM, ByzantiumVM, ConstantinopleVM, GrayGlacierVM, HomesteadVM, IstanbulVM,
    LondonVM, MuirGlacierVM, PetersburgVM, SpuriousDragonVM, TangerineWhistleVM,
)
from eth_utils import to_canonical_address, to_checksum_address

VANITY, SEAL = 32, 65

# geth's fork keys, oldest first; each maps to the py-evm VM that starts at that block.
FORK_KEYS = (
    ("homesteadBlock", HomesteadVM), ("eip150Block", TangerineWhistleVM), ("eip158Block", SpuriousDragonVM),
    ("byzantiumBlock", ByzantiumVM), ("constantinopleBlock", ConstantinopleVM),
    ("petersburgBlock", PetersburgVM), ("istanbulBlock", IstanbulVM), ("muirGlacierBlock", MuirGlacierVM),
    ("berlinBlock", BerlinVM), ("londonBlock", LondonVM), ("arrowGlacierBlock", ArrowGlacierVM),
    ("grayGlacierBlock", GrayGlacierVM),
)
POST_MERGE_KEYS = ("mergeNetsplitBlock", "shanghaiTime", "cancunTime", "pragueTime", "terminalTotalDifficulty")
IGNORED_KEYS = {"chainId", "clique", "eip155Block", "daoForkBlock", "daoForkSupport", "eip150Hash", "ethash",
                "terminalTotalDifficultyPassed"}


class GenesisError(ValueError):
    """A genesis file that cannot start a node; the message names the field."""


@dataclass(frozen=True)
class Genesis:
    chain_id: int
    period: int
    epoch: int
    validators: tuple[bytes, ...]
    vm_configuration: tuple[tuple[int, type], ...]
    header_params: dict[str, Any] = field(repr=False)
    alloc: dict[bytes, dict[str, Any]] = field(repr=False)

    @property
    def is_london(self) -> bool:
        return any(issubclass(vm, LondonVM) for _, vm in self.vm_configuration)


def _int(value: Any, name: str) -> int:
    try:
        if isinstance(value, int):
            return value
        if isinstance(value, str):
            return int(value, 16) if value.lower().startswith("0x") else int(value)
    except ValueError:
        pass
    raise GenesisError(f"genesis: {name} is not a number: {value!r}")


def _hex_bytes(value: Any, name: str) -> bytes:
    if not isinstance(value, str) or not value.startswith("0x"):
        raise GenesisError(f"genesis: {name} must be a 0x hex string")
    try:
        return bytes.fromhex(value[2:])
    except ValueError:
        raise GenesisError(f"genesis: {name} is not hex") from None


def clique_extra_data(validators: list[bytes], vanity: bytes = b"") -> bytes:
    """extraData of a Clique genesis: 32 bytes vanity, the sorted validator addresses, 65 zero bytes."""
    return vanity.ljust(VANITY, b"\0")[:VANITY] + b"".join(sorted(validators)) + b"\0" * SEAL


def parse(doc: dict[str, Any]) -> Genesis:
    if not isinstance(doc, dict) or not isinstance(doc.get("config"), dict):
        raise GenesisError("genesis: missing the config object")
    config = doc["config"]
    chain_id = _int(config.get("chainId"), "config.chainId")
    clique = config.get("clique")
    if not isinstance(clique, dict):
        raise GenesisError("genesis: config.clique is missing (only Clique proof-of-authority is supported)")
    period, epoch = _int(clique.get("period", 15), "config.clique.period"), _int(clique.get("epoch", 30000), "config.clique.epoch")
    if period < 1:
        raise GenesisError("genesis: config.clique.period must be at least 1 second (timestamps must increase)")
    if epoch < 1:
        raise GenesisError("genesis: config.clique.epoch must be positive")
    for key in POST_MERGE_KEYS:
        if key in config:
            raise GenesisError(f"genesis: config.{key}: post-merge forks are not supported with Clique")
    known = {k for k, _ in FORK_KEYS} | IGNORED_KEYS
    for key in config:
        if key not in known:
            raise GenesisError(f"genesis: config.{key} is not a fork this node knows")
    forks: dict[int, type] = {}
    for key, vm in FORK_KEYS:
        if key in config and config[key] is not None:
            forks[_int(config[key], f"config.{key}")] = vm  # a later fork at the same block wins
    if 0 not in forks:
        raise GenesisError("genesis: no fork starts at block 0 (set e.g. londonBlock to 0)")
    vm_configuration = tuple(sorted(forks.items()))

    extra = _hex_bytes(doc.get("extraData", "0x"), "extraData")
    body = len(extra) - VANITY - SEAL
    if body <= 0 or body % 20:
        raise GenesisError("genesis: extraData must be 32 bytes vanity + validator addresses (20 bytes each) + 65 zero bytes")
    validators = tuple(extra[VANITY + i:VANITY + i + 20] for i in range(0, body, 20))
    if any(v == b"\0" * 20 for v in validators):
        raise GenesisError("genesis: extraData names the zero address as a validator "
                           "(the repository's genesis.json is a template: `certledger node init` fills it in)")

    alloc: dict[bytes, dict[str, Any]] = {}
    for addr, acct in (doc.get("alloc") or {}).items():
        try:
            canonical = to_canonical_address(addr if addr.startswith("0x") else "0x" + addr)
        except ValueError:
            raise GenesisError(f"genesis: alloc key {addr!r} is not an address") from None
        where = f"alloc.{addr}"
        storage = {_int(k, f"{where}.storage key"): _int(v, f"{where}.storage value")
                   for k, v in (acct.get("storage") or {}).items()}
        alloc[canonical] = {"balance": _int(acct.get("balance", "0x0"), f"{where}.balance"),
                            "nonce": _int(acct.get("nonce", "0x0"), f"{where}.nonce"),
                            "code": _hex_bytes(acct.get("code", "0x"), f"{where}.code"), "storage": storage}

    header_params: dict[str, Any] = {
        "difficulty": _int(doc.get("difficulty", "0x1"), "difficulty"),
        "gas_limit": _int(doc.get("gasLimit", "0x1c9c380"), "gasLimit"),
        "timestamp": _int(doc.get("timestamp", "0x0"), "timestamp"),
        "extra_data": extra,
        "nonce": _int(doc.get("nonce", "0x0"), "nonce").to_bytes(8, "big"),
        "mix_hash": _hex_bytes(doc.get("mixHash", "0x" + "00" * 32), "mixHash") or ZERO_HASH32,
        "coinbase": to_canonical_address(doc.get("coinbase", "0x" + "00" * 20)),
    }
    if issubclass(vm_configuration[0][1], LondonVM):
        header_params["base_fee_per_gas"] = _int(doc.get("baseFeePerGas", "0x3b9aca00"), "baseFeePerGas")
    return Genesis(chain_id, period, epoch, validators, vm_configuration, header_params, alloc)


def load(path: Path) -> Genesis:
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError:
        raise GenesisError(f"genesis: {path} not found") from None
    except json.JSONDecodeError as exc:
        raise GenesisError(f"genesis: {path} is not JSON ({exc.msg} at line {exc.lineno})") from None
    return parse(doc)


def render(template: dict[str, Any], validators: list[bytes], alloc: dict[bytes, int]) -> dict[str, Any]:
    """A network's genesis from the repository template: its validators and funded accounts filled in."""
    doc = json.loads(json.dumps(template))
    doc["extraData"] = "0x" + clique_extra_data(validators).hex()
    doc["alloc"] = {**doc.get("alloc", {}),
                    **{to_checksum_address(a): {"balance": hex(wei)} for a, wei in alloc.items()}}
    return doc
