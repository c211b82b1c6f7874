"""The chain: py-evm execution under our Clique rules, on LevelDB, with sealing and import.

One ``NodeChain`` per process; callers serialise access (see ``service.Node``'s lock): py-evm's
state objects are not thread-safe.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Sequence

from eth.abc import BlockAPI, BlockHeaderAPI, ReceiptAPI, SignedTransactionAPI
from eth.chains.base import Chain
from eth.consensus.clique._utils import sign_block_header
from eth.consensus.clique.clique import configure_header as clique_configure_header
from eth.consensus.clique.constants import NONCE_AUTH, NONCE_DROP
from eth.constants import ZERO_ADDRESS, ZERO_HASH32
from eth.exceptions import CanonicalHeadNotFound, HeaderNotFound
from eth_keys.datatypes import PrivateKey
from eth_utils import ValidationError

from .consensus import block_signer, make_consensus
from .db import LevelDB
from .genesis import SEAL, VANITY, Genesis

log = logging.getLogger("certledger.node.chain")


_PARAMETERS_KEY = b"certledger-genesis-parameters"


class ChainError(RuntimeError):
    """The chain data cannot serve this genesis (another network's data directory)."""


@dataclass(frozen=True)
class Turn:
    """Whether and how this node may seal the next block."""

    authorised: bool
    in_turn: bool
    recently_signed: bool
    signers: tuple[bytes, ...]

    @property
    def may_seal(self) -> bool:
        return self.authorised and not self.recently_signed


def _chain_class(genesis: Genesis) -> type[Chain]:
    context_class, consensus_class = make_consensus(genesis.epoch, genesis.period)
    vms = tuple(
        (number, vm.configure(
            __name__=f"Clique{vm.__name__}", extra_data_max_bytes=65535, consensus_class=consensus_class,
            configure_header=clique_configure_header, get_block_reward=staticmethod(int),
            get_uncle_reward=staticmethod(int)))
        for number, vm in genesis.vm_configuration)
    return Chain.configure(__name__="CertLedgerChain", vm_configuration=vms, chain_id=genesis.chain_id,
                           consensus_context_class=context_class)


class NodeChain:
    def __init__(self, db: LevelDB, genesis: Genesis) -> None:
        self.db, self.genesis = db, genesis
        cls = _chain_class(genesis)
        state = {addr: {"balance": a["balance"], "nonce": a["nonce"], "code": a["code"], "storage": a["storage"]}
                 for addr, a in genesis.alloc.items()}
        probe = cls.get_chaindb_class()(db)
        try:
            probe.get_canonical_head()
        except CanonicalHeadNotFound:
            cls.from_genesis(db, genesis.header_params, state)
        self.chain = cls(db)
        expected = self._genesis_hash(cls, state)
        if self.chain.get_canonical_block_header_by_number(0).hash != expected:
            raise ChainError("the chain data was made from another genesis.json (a different network)")
        self._check_parameters(db, genesis)
        self.chaindb = self.chain.chaindb

    @staticmethod
    def _check_parameters(db: LevelDB, genesis: Genesis) -> None:
        """chainId, period and epoch are not in the genesis block's hash: keep them with the data."""
        params = {"chainId": genesis.chain_id, "period": genesis.period, "epoch": genesis.epoch}
        try:
            stored = json.loads(db[_PARAMETERS_KEY])
        except KeyError:  # a new directory, or one made before the record existed
            db[_PARAMETERS_KEY] = json.dumps(params, sort_keys=True).encode()
            return
        changed = [f"{k} {stored.get(k)} (genesis.json says {v})" for k, v in params.items() if stored.get(k) != v]
        if changed:
            raise ChainError("the chain data was made from another genesis.json (a different network): "
                             "it has " + ", ".join(changed))

    def _genesis_hash(self, cls: type[Chain], state: dict) -> bytes:
        """The hash our genesis.json gives, computed in memory, to compare with what is on disk."""
        from eth.db.atomic import AtomicDB

        return cls.from_genesis(AtomicDB(), self.genesis.header_params, state).get_canonical_head().hash

    # --- reading -------------------------------------------------------------------------
    def head(self) -> BlockHeaderAPI:
        return self.chaindb.get_canonical_head()

    def header_by_number(self, number: int) -> BlockHeaderAPI | None:
        try:
            return self.chaindb.get_canonical_block_header_by_number(number)
        except HeaderNotFound:
            return None

    def header_by_hash(self, block_hash: bytes) -> BlockHeaderAPI | None:
        try:
            return self.chaindb.get_block_header_by_hash(block_hash)
        except HeaderNotFound:
            return None

    def block(self, header: BlockHeaderAPI) -> BlockAPI:
        return self.chain.get_vm(header).get_block_class().from_header(header, self.chaindb)

    def receipts(self, header: BlockHeaderAPI) -> tuple[ReceiptAPI, ...]:
        block_class = self.chain.get_vm_class_for_block_number(header.block_number).get_block_class()
        return self.chaindb.get_receipts(header, block_class.get_receipt_builder())

    def score(self, block_hash: bytes) -> int:
        return self.chaindb.get_score(block_hash)

    def signers(self, header: BlockHeaderAPI | None = None) -> tuple[bytes, ...]:
        header = header or self.head()
        snap = self.chain.consensus_context.snapshot_manager.get_or_create_snapshot(header.block_number, header.hash)
        return tuple(snap.get_sorted_signers())

    def tally(self, header: BlockHeaderAPI | None = None) -> dict[bytes, tuple[str, int]]:
        header = header or self.head()
        snap = self.chain.consensus_context.snapshot_manager.get_or_create_snapshot(header.block_number, header.hash)
        return {addr: (t.action.name.lower(), t.votes) for addr, t in snap.tallies.items()}

    def turn(self, me: bytes) -> Turn:
        parent = self.head()
        signers = self.signers(parent)
        number = parent.block_number + 1
        authorised = me in signers
        in_turn = authorised and number % len(signers) == signers.index(me)
        recent = False
        ancestor = parent
        for _ in range(len(signers) // 2):
            if ancestor.block_number == 0:
                break
            if block_signer(ancestor) == me:
                recent = True
                break
            ancestor = self.chaindb.get_block_header_by_hash(ancestor.parent_hash)
        return Turn(authorised, in_turn, recent, signers)

    # --- writing -------------------------------------------------------------------------
    def seal(self, key: PrivateKey, transactions: Sequence[SignedTransactionAPI], timestamp: int,
             vote: tuple[bytes, bool] | None = None) -> tuple[BlockAPI, tuple[ReceiptAPI, ...]]:
        """Build, execute, seal and persist the next block; raises ValidationError on a bad transaction.

        The header is signed once before execution so the fee recipient (the signer) is known to
        the EVM, and again once the state root is final.
        """
        parent = self.head()
        me = key.public_key.to_canonical_address()
        turn = self.turn(me)
        if not turn.may_seal:
            raise ValidationError("not authorised to seal now" if not turn.authorised else "signed too recently")
        number = parent.block_number + 1
        checkpoint = number % self.genesis.epoch == 0
        vanity = b"\0" * VANITY
        signer_list = b"".join(turn.signers) if checkpoint else b""
        coinbase, nonce = ZERO_ADDRESS, NONCE_DROP
        if vote is not None and not checkpoint:
            coinbase, nonce = vote[0], (NONCE_AUTH if vote[1] else NONCE_DROP)
        header = self.chain.create_header_from_parent(
            parent, timestamp=max(timestamp, parent.timestamp + self.genesis.period), gas_limit=parent.gas_limit,
            difficulty=2 if turn.in_turn else 1, coinbase=coinbase, nonce=nonce, mix_hash=ZERO_HASH32,
            extra_data=vanity + signer_list + b"\0" * SEAL)
        header = sign_block_header(header, key)
        vm = self.chain.get_vm(header)
        new_header, receipts, _ = vm.apply_all_transactions(list(transactions), header)
        block = vm.set_block_transactions_and_withdrawals(vm.get_block(), new_header, list(transactions), receipts)
        block = vm.finalize_block(block).block
        block = block.copy(header=sign_block_header(block.header, key))
        self.chain.persist_block(block, perform_validation=True)
        return block, tuple(receipts)

    def first_invalid(self, transactions: Sequence[SignedTransactionAPI]) -> int | None:
        """Index of the first transaction the next block cannot hold (after a failed ``seal``)."""
        parent = self.head()
        header = self.chain.create_header_from_parent(
            parent, timestamp=parent.timestamp + self.genesis.period, gas_limit=parent.gas_limit, difficulty=1,
            extra_data=b"\0" * (VANITY + SEAL), mix_hash=ZERO_HASH32, nonce=NONCE_DROP)
        vm = self.chain.get_vm(header)
        for i, tx in enumerate(transactions):
            try:
                receipt, _ = vm.apply_transaction(header, tx)
            except ValidationError:
                return i
            header = vm.add_receipt_to_header(header, receipt)
        return None

    def import_block(self, block: BlockAPI) -> tuple[tuple[BlockAPI, ...], tuple[BlockAPI, ...]]:
        """Fully validate and store a block from a peer; returns (new canonical, old canonical) blocks."""
        result = self.chain.import_block(block, perform_validation=True)
        self._forget_orphaned(result.new_canonical_blocks, result.old_canonical_blocks)
        return result.new_canonical_blocks, result.old_canonical_blocks

    def _forget_orphaned(self, new: Sequence[BlockAPI], old: Sequence[BlockAPI]) -> None:
        """Drop the transaction lookups of blocks a reorg took off the canonical chain.

        py-evm 0.12.1b1 leaves them (its ChainDB._decanonicalize_old_headers is never called), so
        a transaction only the old branch held would still be found at (number, index), i.e. in
        whatever block now has that number: another transaction's receipt, or an IndexError.
        """
        kept = {tx.hash for b in new for tx in b.transactions}
        orphaned = [tx.hash for b in old for tx in b.transactions if tx.hash not in kept]
        if orphaned:
            with self.db.atomic_batch() as db:
                for tx_hash in orphaned:
                    type(self.chaindb)._remove_transaction_from_canonical_chain(db, tx_hash)

    def adopt(self, block_hash: bytes) -> tuple[tuple[BlockAPI, ...], tuple[BlockAPI, ...]]:
        """Make a stored (fully imported) block the canonical head although it is no heavier than
        the head: py-evm keeps the first of two equally heavy branches, so the peers' tie-break
        (``Peers.sync_once``) sets the head itself. Returns (new canonical, old canonical) blocks."""
        from eth.constants import GENESIS_PARENT_HASH

        chaindb_class = type(self.chaindb)
        header = self.chaindb.get_block_header_by_hash(block_hash)
        with self.db.atomic_batch() as db:  # what ChainDB.persist_block does for a heavier block
            new, old = chaindb_class._set_as_canonical_chain_head(db, header, GENESIS_PARENT_HASH)
            for h in new:
                for index, tx_hash in enumerate(chaindb_class._get_block_transaction_hashes(db, h)):
                    chaindb_class._add_transaction_to_canonical_chain(db, tx_hash, h, index)
        new_blocks, old_blocks = tuple(self.block(h) for h in new), tuple(self.block(h) for h in old)
        self._forget_orphaned(new_blocks, old_blocks)
        return new_blocks, old_blocks

    def decode_block(self, rlp_bytes: bytes, number: int) -> BlockAPI:
        import rlp

        return rlp.decode(rlp_bytes, sedes=self.chain.get_vm_class_for_block_number(number).get_block_class())
