"""The node: chain, pool and indexes behind one lock, and the operations RPC, producer and peers use."""

from __future__ import annotations

import logging
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator

import lru
import rlp
from eth.vm.spoof import SpoofTransaction
from eth.abc import BlockAPI, BlockHeaderAPI, ComputationAPI, SignedTransactionAPI
from eth.vm.forks.london.blocks import LondonBlockHeader
from eth.vm.forks.london.headers import calculate_expected_base_fee_per_gas
from eth_keys.datatypes import PrivateKey
from eth_utils import ValidationError, encode_hex

from . import logindex
from .allowlist import Allowlist
from .chain import NodeChain
from .config import NodeConfig
from .db import LevelDB
from .genesis import Genesis
from .txpool import TxPool, TxPoolError

log = logging.getLogger("certledger.node")


class NodeError(Exception):
    """An RPC-level refusal: ``code`` is the JSON-RPC error code, ``data`` optional revert data."""

    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.code, self.data = code, data


@dataclass
class Sealed:
    block: BlockAPI
    dropped: int


class Node:
    def __init__(self, config: NodeConfig, genesis: Genesis, key: PrivateKey | None) -> None:
        self.config, self.genesis, self.key = config, genesis, key
        self.me = key.public_key.to_canonical_address() if key else None
        self.lock = threading.RLock()
        self.db = LevelDB(config.chaindata)
        self.chain = NodeChain(self.db, genesis)
        accounts = set(config.allowlist_accounts) | set(genesis.validators) | set(genesis.alloc)
        self.allowlist = Allowlist(config.allowlist_enabled, accounts, config.allowlist_registry,
                                   self._registry_call, lambda: self.chain.head().hash)
        self.pool = TxPool(genesis.chain_id, max_txs=config.txpool_max_txs,
                           max_per_sender=config.txpool_max_per_sender, allowed=self.allowlist.allowed)
        self.proposals: dict[bytes, bool] = {}
        self.tx_arrived = threading.Event()
        self.head_changed = threading.Condition(self.lock)
        self._blocks: "lru.LRU[bytes, tuple]" = lru.LRU(256)
        self.on_new_transactions: list = []  # callbacks(raw list) for relaying to peers
        self.on_new_block: list = []  # callbacks(block) for announcing to peers
        self._index_missing()

    def close(self) -> None:
        with self.lock:
            self.db.close()

    def reload_allowlist(self, config: NodeConfig) -> None:
        """node.toml changed (e.g. the platform named its registry): take the new allowlist."""
        with self.lock:
            accounts = set(config.allowlist_accounts) | set(self.genesis.validators) | set(self.genesis.alloc)
            self.allowlist.enabled = config.allowlist_enabled
            self.allowlist.update(accounts, config.allowlist_registry)
            self.config.allowlist_enabled = config.allowlist_enabled
            self.config.allowlist_accounts, self.config.allowlist_registry = config.allowlist_accounts, config.allowlist_registry
        log.info("allowlist reloaded: %d account(s)%s", len(config.allowlist_accounts),
                 f", following registry {encode_hex(config.allowlist_registry)}" if config.allowlist_registry else "")

    # --- reading ------------------------------------------------------------------------
    def head(self) -> BlockHeaderAPI:
        return self.chain.head()

    def resolve(self, tag: Any) -> BlockHeaderAPI:
        """A block tag, number or EIP-1898 object to a canonical header."""
        with self.lock:
            if isinstance(tag, dict):
                if "blockHash" in tag:
                    block_hash = _hex(tag["blockHash"])
                    if block_hash is None or len(block_hash) != 32:
                        raise NodeError(-32602, f"invalid block hash: {tag['blockHash']!r}")
                    header = self.chain.header_by_hash(block_hash)
                    if header is None:
                        raise NodeError(-32000, "header not found")
                    return header
                tag = tag.get("blockNumber", "latest")
            if tag in (None, "latest", "pending", "safe", "finalized"):
                return self.chain.head()
            if tag == "earliest":
                return self.chain.header_by_number(0)
            number = _hex_int(tag)
            if number is not None:
                header = self.chain.header_by_number(number)
                if header is None:
                    raise NodeError(-32000, "header not found")
                return header
            raise NodeError(-32602, f"invalid block tag: {tag!r}")

    def state(self, header: BlockHeaderAPI):
        return self.chain.chain.get_vm(header).state

    def next_base_fee(self) -> int:
        head = self.chain.head()
        return calculate_expected_base_fee_per_gas(head) if isinstance(head, LondonBlockHeader) else 0

    def load_block(self, block_hash: bytes) -> tuple[BlockHeaderAPI, tuple, tuple, BlockAPI]:
        """(header, transactions, receipts, block), cached: receipts and logs are asked for per block."""
        with self.lock:
            hit = self._blocks.get(block_hash)
            if hit is None:
                header = self.chain.header_by_hash(block_hash)
                if header is None:
                    raise KeyError(block_hash)
                b = self.chain.block(header)
                hit = self._blocks[block_hash] = (header, b.transactions, self.chain.receipts(header), b)
            return hit

    def canonical_hash(self, number: int) -> bytes | None:
        header = self.chain.header_by_number(number)
        return None if header is None else header.hash

    def find_transaction(self, tx_hash: bytes) -> tuple[BlockHeaderAPI, int] | None:
        with self.lock:
            try:
                number, index = self.chain.chaindb.get_transaction_index(tx_hash)
            except Exception:  # TransactionNotFound
                return None
            header = self.chain.header_by_number(number)
            return (header, index) if header is not None else None

    def logs(self, start: int, stop: int, addresses: set[bytes] | None, topics: list) -> list[tuple]:
        with self.lock:
            return logindex.query(self.db.raw, self.canonical_hash, lambda h: self.load_block(h)[:3],
                                  start, stop, addresses, topics)

    # --- execution ----------------------------------------------------------------------
    def execute(self, tx: dict[str, Any], header: BlockHeaderAPI) -> ComputationAPI:
        """Run a call without a signature or cost (eth_call): py-evm's costless state on top of ``header``."""
        with self.lock:
            vm = self.chain.chain.get_vm(header)
            sender = tx.get("from") or b"\0" * 20
            with vm.in_costless_state() as state, _refusals():
                unsigned = vm.create_unsigned_transaction(
                    nonce=state.get_nonce(sender), gas_price=0, gas=tx.get("gas") or state.gas_limit,
                    to=tx.get("to") or b"", value=tx.get("value", 0), data=tx.get("data", b""))
                return state.costless_execute_transaction(SpoofTransaction(unsigned, from_=sender))

    def estimate_gas(self, tx: dict[str, Any], header: BlockHeaderAPI) -> int:
        with self.lock:
            vm = self.chain.chain.get_vm(header)
            sender = tx.get("from") or b"\0" * 20
            with vm.in_costless_state() as state, _refusals():
                cap = min(tx.get("gas") or state.gas_limit, state.gas_limit)
                unsigned = vm.create_unsigned_transaction(
                    nonce=state.get_nonce(sender), gas_price=0, gas=cap, to=tx.get("to") or b"",
                    value=tx.get("value", 0), data=tx.get("data", b""))
                spoof = SpoofTransaction(unsigned, from_=sender)
                top = state.costless_execute_transaction(spoof)
                if top.is_error:
                    raise _execution_error(top)
            try:
                return self.chain.chain.estimate_gas(SpoofTransaction(unsigned, from_=sender), header)
            except Exception as exc:  # the estimator re-raises the VM error at the cap
                raise NodeError(-32000, f"gas required exceeds allowance ({exc})") from None

    def _registry_call(self, to: bytes, data: bytes) -> bytes | None:
        try:
            c = self.execute({"to": to, "data": data, "gas": 200_000}, self.chain.head())
        except Exception:
            return None
        return None if c.is_error else c.output

    # --- transactions -------------------------------------------------------------------
    def send_raw(self, raw: bytes, relay: bool = True) -> bytes:
        with self.lock:
            head = self.chain.head()
            tx = self.pool.decode(raw)
            state = self.state(head)
            tx_hash = self.pool.add(raw, state_nonce=state.get_nonce(tx.sender), balance=state.get_balance(tx.sender),
                                    base_fee=self.next_base_fee(), block_gas_limit=head.gas_limit)
        self.tx_arrived.set()
        if relay:
            for cb in self.on_new_transactions:
                cb([raw])
        return tx_hash

    # --- blocks -------------------------------------------------------------------------
    def seal_next(self, timestamp: int) -> Sealed | None:
        """Seal one block from the pool if this node may; bad transactions are dropped and retried."""
        with self.lock:
            if self.key is None:
                return None
            turn = self.chain.turn(self.me)
            if not turn.may_seal:
                return None
            head = self.chain.head()
            state = self.state(head)
            txs = self.pool.select(state.get_nonce, self.next_base_fee(), head.gas_limit)
            if not txs and not self.config.empty_blocks:
                return None
            dropped = 0
            vote = next(iter(self.proposals.items()), None)
            while True:
                try:
                    block, _ = self.chain.seal(self.key, txs, timestamp, vote)
                    break
                except ValidationError as exc:
                    bad = self.chain.first_invalid(txs)
                    if bad is None:
                        raise
                    log.warning("dropping transaction %s: %s", encode_hex(txs[bad].hash), exc)
                    self.pool.remove(txs[bad].hash)
                    dropped += 1
                    txs = self.pool.select(state.get_nonce, self.next_base_fee(), head.gas_limit)
                    if not txs and not self.config.empty_blocks:
                        return None
            if vote is not None:
                signers = self.chain.signers()
                if (vote[0] in signers) == vote[1]:
                    self.proposals.pop(vote[0], None)  # the vote passed: stop proposing it
            self._after_new_canonical((block,), ())
        log.info("sealed block #%d %s with %d transaction(s)%s", block.number, encode_hex(block.hash)[:18],
                 len(block.transactions), f", {dropped} dropped" if dropped else "")
        for cb in self.on_new_block:
            cb(block)
        return Sealed(block, dropped)

    def import_block(self, block: BlockAPI) -> bool:
        """Validate and store a block from a peer; False if it was already known."""
        with self.lock:
            if self.chain.header_by_hash(block.hash) is not None:
                return False
            new, old = self.chain.import_block(block)
            self._after_new_canonical(new, old)
        if new:
            log.info("imported block #%d %s from a peer%s", block.number, encode_hex(block.hash)[:18],
                     f" (reorg: {len(old)} block(s) replaced)" if old else "")
        return True

    def prefer(self, block_hash: bytes) -> bool:
        """Switch to a stored branch exactly as heavy as ours whose head hash is lower (the
        tie-break every node applies, so they agree without waiting for another block)."""
        with self.lock:
            head = self.chain.head()
            if self.chain.header_by_hash(block_hash) is None or block_hash >= head.hash \
                    or self.chain.score(block_hash) != self.chain.score(head.hash):
                return False
            new, old = self.chain.adopt(block_hash)
            self._after_new_canonical(new, old)
        log.info("switched to the equally heavy branch of #%d %s (lower hash; %d block(s) replaced)",
                 new[-1].number if new else head.block_number, encode_hex(block_hash)[:18], len(old))
        return True

    def _after_new_canonical(self, new: tuple, old: tuple) -> None:
        for b in new:
            header = b.header
            logindex.index_block(self.db.raw, header, self.chain.receipts(header))
        if old:
            kept = {tx.hash for b in new for tx in b.transactions}
            state = self.state(self.chain.head())
            for b in old:
                for tx in b.transactions:
                    if tx.hash not in kept:
                        try:
                            self.pool.add(raw_transaction(tx),
                                          state_nonce=state.get_nonce(tx.sender), balance=state.get_balance(tx.sender),
                                          base_fee=0, block_gas_limit=self.chain.head().gas_limit)
                        except TxPoolError:
                            pass
        if new:
            state = self.state(self.chain.head())
            self.pool.prune(state.get_nonce)
            self.head_changed.notify_all()

    def _index_missing(self) -> None:
        """Index blocks stored before the node was stopped between a block and its index entry."""
        done, head = logindex.indexed_head(self.db.raw), self.chain.head().block_number
        for n in range(max(done + 1, 1), head + 1):
            header = self.chain.header_by_number(n)
            logindex.index_block(self.db.raw, header, self.chain.receipts(header))

    def encoded_blocks(self, start: int, count: int) -> list[str]:
        with self.lock:
            out = []
            for n in range(start, start + min(count, 128)):
                header = self.chain.header_by_number(n)
                if header is None:
                    break
                out.append("0x" + rlp.encode(self.chain.block(header)).hex())
            return out


@contextmanager
def _refusals() -> Iterator[None]:
    """py-evm's refusal of a call (funds, intrinsic gas) as the RPC error geth answers with."""
    try:
        yield
    except ValidationError as exc:
        text = str(exc)
        if "enough balance" in text:
            text = "insufficient funds for gas * price + value"
        elif "gas cannot be negative" in text:
            text = "intrinsic gas too low"
        raise NodeError(-32000, text) from None


def _hex(v: Any) -> bytes | None:
    """0x-prefixed hex to bytes, None when it is not (a caller's malformed parameter)."""
    if not isinstance(v, str) or not v.startswith("0x"):
        return None
    try:
        return bytes.fromhex(v[2:])
    except ValueError:
        return None


def _hex_int(v: Any) -> int | None:
    """A 0x hex block number, None when it is not one."""
    if not isinstance(v, str) or not v.startswith("0x") or not 2 < len(v) <= 18 \
            or any(c not in "0123456789abcdefABCDEF" for c in v[2:]):
        return None
    return int(v[2:], 16)


def _execution_error(c: ComputationAPI) -> NodeError:
    from eth.exceptions import Revert

    err = c.error
    if isinstance(err, Revert):
        data = err.args[0] if err.args else b""
        reason = ""
        if data[:4] == bytes.fromhex("08c379a0"):
            try:
                from eth_abi import decode

                reason = ": " + decode(["string"], data[4:])[0]
            except Exception:
                pass
        return NodeError(3, f"execution reverted{reason}", "0x" + data.hex())
    return NodeError(-32000, str(err) or type(err).__name__)


def raw_transaction(tx: SignedTransactionAPI) -> bytes:
    """The bytes eth_sendRawTransaction took: typed envelopes encode themselves, legacy ones are RLP."""
    return tx.encode() if getattr(tx, "type_id", None) is not None else rlp.encode(tx)
