"""Merkle batches, OpenAttestation style: keccak256 leaves, sorted pairs, odd node promoted.

Sorted pairs make the parent of (a, b) equal to that of (b, a), which is what OpenZeppelin's
``MerkleProof.verify`` computes on chain, so a proof made here verifies in the contract too.
"""

from __future__ import annotations

from typing import Iterable, Sequence

from eth_hash.auto import keccak


def hash_pair(a: bytes, b: bytes) -> bytes:
    return keccak(a + b) if a <= b else keccak(b + a)


def _check(leaves: Iterable[bytes]) -> list[bytes]:
    out = sorted(set(leaves))
    if not out:
        raise ValueError("a Merkle tree needs at least one leaf")
    if any(len(x) != 32 for x in out):
        raise ValueError("leaves are 32-byte digests")
    return out


def build(leaves: Iterable[bytes]) -> tuple[bytes, dict[bytes, list[bytes]]]:
    """The root and, for every leaf, its proof (sibling hashes from the leaf up)."""
    layer = _check(leaves)
    proofs: dict[bytes, list[bytes]] = {leaf: [] for leaf in layer}
    members: list[list[bytes]] = [[leaf] for leaf in layer]  # leaves under each node of the layer
    while len(layer) > 1:
        next_layer, next_members = [], []
        for i in range(0, len(layer), 2):
            if i + 1 == len(layer):  # odd node: promoted unchanged
                next_layer.append(layer[i])
                next_members.append(members[i])
                continue
            left, right = layer[i], layer[i + 1]
            for leaf in members[i]:
                proofs[leaf].append(right)
            for leaf in members[i + 1]:
                proofs[leaf].append(left)
            next_layer.append(hash_pair(left, right))
            next_members.append(members[i] + members[i + 1])
        layer, members = next_layer, next_members
    return layer[0], proofs


def merkle_root(leaves: Iterable[bytes]) -> bytes:
    return build(leaves)[0]


def verify_proof(leaf: bytes, proof: Sequence[bytes], root: bytes) -> bool:
    acc = leaf
    for sibling in proof:
        acc = hash_pair(acc, sibling)
    return acc == root
