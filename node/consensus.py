"""Clique (EIP-225) as py-evm ships it, with the parts of the EIP it leaves out.

Added here: the epoch and period of our genesis, the "recently signed" rule (a validator seals at
most one of any ``len(signers) // 2 + 1`` consecutive blocks), the minimum spacing of ``period``
seconds, the signer list of a checkpoint header (it must be the current signers: py-evm takes it
as given, so one validator could name itself the only signer at an epoch boundary), and a fee
recipient that does not crash on a header still being built.
"""

from __future__ import annotations

from typing import Iterable

import lru
from eth.abc import AtomicDatabaseAPI, BlockHeaderAPI
from eth.consensus.clique import CliqueConsensus, CliqueConsensusContext
from eth.consensus.clique._utils import get_block_signer
from eth.db.chain import ChainDB
from eth.consensus.clique.snapshot_manager import SnapshotManager
from eth_typing import Address
from eth_utils import ValidationError, encode_hex

from .genesis import SEAL, VANITY

_signers: "lru.LRU[bytes, Address]" = lru.LRU(4096)


def block_signer(header: BlockHeaderAPI) -> Address:
    """The sealer of a header (cached: recovery costs ~0.1 ms and is asked for often)."""
    h = header.hash
    signer = _signers.get(h)
    if signer is None:
        signer = _signers[h] = get_block_signer(header)
    return signer


def make_consensus(epoch: int, period: int) -> tuple[type, type]:
    """A consensus context and consensus class bound to one genesis's epoch and period."""

    class Context(CliqueConsensusContext):
        epoch_length = epoch

        def __init__(self, db: AtomicDatabaseAPI) -> None:
            self.db = db
            self.snapshot_manager = SnapshotManager(ChainDB(db), epoch)
            self.period = period

    class Consensus(CliqueConsensus):
        def __init__(self, context: Context) -> None:
            super().__init__(context)
            self._period = context.period
            self._chaindb = ChainDB(context.db)

        @classmethod
        def get_fee_recipient(cls, header: BlockHeaderAPI) -> Address:
            try:
                return block_signer(header)
            except Exception:  # an unsealed header under construction (eth-keys raises BadSignature)
                return header.coinbase

        def validate_seal_extension(self, header: BlockHeaderAPI, parents: Iterable[BlockHeaderAPI]) -> None:
            parents = tuple(parents)
            super().validate_seal_extension(header, parents)
            if header.block_number == 0:
                return
            parent = self._lookup(header.parent_hash, parents)
            if header.timestamp < parent.timestamp + self._period:
                raise ValidationError(f"block #{header.block_number} comes {header.timestamp - parent.timestamp}s "
                                      f"after its parent; the period is {self._period}s")
            signer = block_signer(header)
            snapshot = self._snapshot_manager.get_or_create_snapshot(
                header.block_number - 1, header.parent_hash, parents)
            if header.block_number % epoch == 0 and \
                    header.extra_data[VANITY:-SEAL] != b"".join(snapshot.get_sorted_signers()):
                raise ValidationError(f"checkpoint block #{header.block_number} lists other signers "
                                      f"than the current ones")
            limit = len(snapshot.signers) // 2
            ancestor = parent
            for _ in range(limit):
                if ancestor.block_number == 0:
                    break
                if block_signer(ancestor) == signer:
                    raise ValidationError(f"signer {encode_hex(signer)} sealed block #{ancestor.block_number} "
                                          f"too recently to seal #{header.block_number}")
                ancestor = self._lookup(ancestor.parent_hash, parents)

        def _lookup(self, block_hash: bytes, parents: tuple[BlockHeaderAPI, ...]) -> BlockHeaderAPI:
            for p in parents:
                if p.hash == block_hash:
                    return p
            return self._chaindb.get_block_header_by_hash(block_hash)

    return Context, Consensus
