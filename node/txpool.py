"""The transaction pool: what eth_sendRawTransaction accepts and what the sealer puts in a block.

Refusals reuse geth's words so that web3 clients and people who know geth read them as usual.
The pool never looks at state itself: callers pass the sender's nonce and balance (add) or a
``nonce_of`` lookup (select, prune), so the pool has no tie to the chain's database and can be
tested alone. Expensive work (signature recovery) runs outside the lock; only the bookkeeping
holds it, and the lock is never held while calling back into the caller.
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass
from heapq import heappop, heappush
from typing import Callable

from eth.abc import SignedTransactionAPI
from eth.vm.forks.london import LondonVM
from eth_utils import to_checksum_address

JSONRPC_REFUSED = -32000  # what geth answers for every ordinary txpool refusal
JSONRPC_TX_REJECTED = -32003  # EIP-1474 "transaction rejected": the sender may not transact here
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
UINT256_CEILING = 2**256
TX_GAS = 21000  # the cheapest transaction; below this no other transaction can fit a block
SUPPORTED_TYPES = (0x01, 0x02)  # London: EIP-2930 and EIP-1559 besides legacy

_builder = LondonVM.get_transaction_builder()


class TxPoolError(Exception):
    """A refused transaction; ``code`` is the JSON-RPC error code to answer with."""

    def __init__(self, message: str, code: int = JSONRPC_REFUSED) -> None:
        super().__init__(message)
        self.code = code


@dataclass(slots=True)
class _Entry:
    tx: SignedTransactionAPI
    hash: bytes
    sender: bytes
    seq: int  # arrival order, so equal tips are served first come, first served


def _effective_tip(tx: SignedTransactionAPI, base_fee: int) -> int:
    # Legacy and 0x01 transactions report gas_price as both fee fields, so one formula fits all.
    return min(tx.max_priority_fee_per_gas, tx.max_fee_per_gas - base_fee)


class TxPool:
    """Pending transactions keyed by hash and by (sender, nonce); one lock guards both maps."""

    def __init__(self, chain_id: int, *, max_txs: int = 8192, max_per_sender: int = 2048,
                 max_tx_bytes: int = 128 * 1024, price_bump_percent: int = 10,
                 allowed: Callable[[bytes], bool] | None = None) -> None:
        self.chain_id = chain_id
        self.max_txs = max_txs
        self.max_per_sender = max_per_sender
        self.max_tx_bytes = max_tx_bytes
        self.price_bump_percent = price_bump_percent
        self.allowed = allowed
        self._lock = threading.Lock()
        self._by_hash: dict[bytes, _Entry] = {}
        self._by_sender: dict[bytes, dict[int, _Entry]] = {}
        # Last state nonce we were told per sender: lets content() split pending from queued
        # without a state lookup of its own.
        self._state_nonce: dict[bytes, int] = {}
        self._seq = itertools.count()

    def decode(self, raw: bytes) -> SignedTransactionAPI:
        """Decode without trusting the bytes: any decoder failure becomes a refusal."""
        if not raw:
            raise TxPoolError("typed transaction too short")
        if raw[0] < 0x80 and raw[0] not in SUPPORTED_TYPES:
            raise TxPoolError("transaction type not supported")
        try:
            return _builder.decode(bytes(raw))
        except Exception as exc:  # rlp, eth-utils and py-evm each raise their own kinds on garbage
            reason = " ".join(str(exc).split())[:200] or type(exc).__name__
            raise TxPoolError(f"invalid transaction encoding: {reason}") from None

    def _check(self, tx: SignedTransactionAPI) -> bytes:
        """Stateless checks and sender recovery; returns the sender."""
        chain_id = tx.chain_id
        if chain_id is None:
            raise TxPoolError("only replay-protected (EIP-155) transactions allowed")
        if chain_id != self.chain_id:
            raise TxPoolError(f"invalid chain id for signer: have {chain_id} want {self.chain_id}")
        if tx.nonce >= 2**64 - 1:
            raise TxPoolError("nonce has max value")
        if tx.max_fee_per_gas >= UINT256_CEILING:
            raise TxPoolError("max fee per gas higher than 2^256-1")
        if tx.max_priority_fee_per_gas >= UINT256_CEILING:
            raise TxPoolError("max priority fee per gas higher than 2^256-1")
        if tx.value >= UINT256_CEILING:
            raise TxPoolError("value higher than 2^256-1")
        if tx.max_priority_fee_per_gas > tx.max_fee_per_gas:
            raise TxPoolError("max priority fee per gas higher than max fee per gas")
        # py-evm's typed transactions check none of this in validate(), and eth-keys accepts a
        # high s: enforce what geth's signer does (homestead rules) before recovering.
        if not (0 < tx.r < SECP256K1_N and 0 < tx.s <= SECP256K1_N // 2 and tx.y_parity in (0, 1)):
            raise TxPoolError("invalid transaction v, r, s values")
        try:
            # Recovery with r, s in range yields the one key the signature is valid for, so a
            # separate check_signature_validity() would only recover a second time.
            return bytes(tx.sender)
        except Exception:
            raise TxPoolError("invalid sender") from None

    def add(self, raw: bytes, *, state_nonce: int, balance: int, base_fee: int,
            block_gas_limit: int) -> bytes:
        """Validate and pool a raw transaction; returns its hash (what eth_sendRawTransaction answers).

        ``base_fee`` is accepted for the caller's symmetry with select(): a max fee below it is
        not refused, because the base fee can fall again and geth keeps such transactions too.
        """
        if len(raw) > self.max_tx_bytes:
            raise TxPoolError("oversized data")
        tx = self.decode(raw)
        tx_hash = bytes(tx.hash)
        if tx_hash in self._by_hash:  # a racy read is fine: re-checked under the lock below
            raise TxPoolError("already known")
        sender = self._check(tx)
        if self.allowed is not None and not self.allowed(sender):
            raise TxPoolError(f"transaction rejected: sender {to_checksum_address(sender)} is not allowed",
                              JSONRPC_TX_REJECTED)
        if tx.gas < tx.intrinsic_gas:
            raise TxPoolError(f"intrinsic gas too low: have {tx.gas}, want {tx.intrinsic_gas}")
        if tx.gas > block_gas_limit:
            raise TxPoolError("exceeds block gas limit")
        cost = tx.gas * tx.max_fee_per_gas + tx.value
        if balance < cost:
            raise TxPoolError(f"insufficient funds for gas * price + value: address "
                              f"{to_checksum_address(sender)} have {balance} want {cost}")
        if tx.nonce < state_nonce:
            raise TxPoolError(f"nonce too low: address {to_checksum_address(sender)}, "
                              f"tx: {tx.nonce} state: {state_nonce}")
        with self._lock:
            if tx_hash in self._by_hash:
                raise TxPoolError("already known")
            queue = self._by_sender.get(sender, {})
            old = queue.get(tx.nonce)
            if old is not None:
                if not self._bumps(old.tx, tx):
                    raise TxPoolError("replacement transaction underpriced")
                del self._by_hash[old.hash]
            elif len(self._by_hash) >= self.max_txs:
                raise TxPoolError("txpool is full")
            elif len(queue) >= self.max_per_sender:
                raise TxPoolError("account limit exceeded")
            entry = _Entry(tx, tx_hash, sender, next(self._seq))
            self._by_sender.setdefault(sender, {})[tx.nonce] = entry
            self._by_hash[tx_hash] = entry
            self._state_nonce[sender] = max(state_nonce, self._state_nonce.get(sender, 0))
        return tx_hash

    def _bumps(self, old: SignedTransactionAPI, new: SignedTransactionAPI) -> bool:
        # Both fees must rise, or a sender could churn the pool for free by bumping only one.
        # Same integer arithmetic as geth: strictly higher, and at least old * (100+bump) / 100.
        factor = 100 + self.price_bump_percent
        return all(n > o and n >= o * factor // 100 for o, n in (
            (old.max_fee_per_gas, new.max_fee_per_gas),
            (old.max_priority_fee_per_gas, new.max_priority_fee_per_gas)))

    def pending_nonce(self, sender: bytes, state_nonce: int) -> int:
        """What eth_getTransactionCount(..., "pending") answers, so wallets can queue several txs."""
        with self._lock:
            queue = self._by_sender.get(bytes(sender), {})
            nonce = state_nonce
            while nonce in queue:
                nonce += 1
            return nonce

    def _snapshot(self) -> dict[bytes, dict[int, _Entry]]:
        with self._lock:
            return {sender: dict(queue) for sender, queue in self._by_sender.items()}

    def select(self, nonce_of: Callable[[bytes], int], base_fee: int,
               gas_limit: int) -> list[SignedTransactionAPI]:
        """Pick a block's transactions the way geth's miner does (price-and-nonce heap).

        Only the head of each sender's run competes, so nonces go in order while the best tip
        across senders goes first. A sender whose head cannot be included (fee below base fee,
        or too big for the remaining gas) is dropped for this block: anything behind it would
        leave a gap. Selection removes nothing; prune() does, once the block is in.
        """
        runs: dict[bytes, list[_Entry]] = {}
        nonces: dict[bytes, int] = {}
        for sender, queue in self._snapshot().items():
            nonce = nonces[sender] = nonce_of(sender)
            run = []
            while nonce in queue:
                run.append(queue[nonce])
                nonce += 1
            if run:
                runs[sender] = run
        with self._lock:
            for sender, nonce in nonces.items():
                if sender in self._by_sender:
                    self._state_nonce[sender] = nonce

        heap: list[tuple[int, int, bytes, int]] = []

        def push(sender: bytes, index: int) -> None:
            run = runs[sender]
            if index < len(run) and run[index].tx.max_fee_per_gas >= base_fee:
                entry = run[index]
                heappush(heap, (-_effective_tip(entry.tx, base_fee), entry.seq, sender, index))

        for sender in runs:
            push(sender, 0)
        chosen: list[SignedTransactionAPI] = []
        gas_left = gas_limit
        while heap and gas_left >= TX_GAS:
            _, _, sender, index = heappop(heap)
            tx = runs[sender][index].tx
            if tx.gas > gas_left:
                continue  # drop this sender's run; smaller ones from others may still fit
            chosen.append(tx)
            gas_left -= tx.gas
            push(sender, index + 1)
        return chosen

    def prune(self, nonce_of: Callable[[bytes], int]) -> int:
        """Forget transactions a new block made stale (mined, or replaced on chain by another)."""
        senders = list(self._snapshot())
        nonces = {sender: nonce_of(sender) for sender in senders}
        dropped = 0
        with self._lock:
            for sender, state_nonce in nonces.items():
                queue = self._by_sender.get(sender)
                if queue is None:
                    continue
                for nonce in [n for n in queue if n < state_nonce]:
                    del self._by_hash[queue.pop(nonce).hash]
                    dropped += 1
                self._state_nonce[sender] = state_nonce
                if not queue:
                    del self._by_sender[sender]
                    self._state_nonce.pop(sender, None)
        return dropped

    def get(self, tx_hash: bytes) -> SignedTransactionAPI | None:
        entry = self._by_hash.get(bytes(tx_hash))
        return entry.tx if entry else None

    def remove(self, tx_hash: bytes) -> None:
        """Drop one transaction (e.g. it failed at block building); unknown hashes are ignored."""
        with self._lock:
            entry = self._by_hash.pop(bytes(tx_hash), None)
            if entry is None:
                return
            queue = self._by_sender[entry.sender]
            del queue[entry.tx.nonce]
            if not queue:
                del self._by_sender[entry.sender]
                self._state_nonce.pop(entry.sender, None)

    def content(self) -> dict:
        """txpool_content's shape: per checksummed sender, nonce -> tx, split as geth splits it.

        "pending" is the contiguous run from the last state nonce the pool heard of (through
        add, select or prune); everything after a gap is "queued".
        """
        with self._lock:
            result: dict[str, dict] = {"pending": {}, "queued": {}}
            for sender, queue in self._by_sender.items():
                nonce = self._state_nonce.get(sender, min(queue))
                key = to_checksum_address(sender)
                for n in sorted(queue):
                    part = "pending" if n == nonce else "queued"
                    if part == "pending":
                        nonce += 1
                    result[part].setdefault(key, {})[n] = queue[n].tx
            return result

    def __len__(self) -> int:
        return len(self._by_hash)
