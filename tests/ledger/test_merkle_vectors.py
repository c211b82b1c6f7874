"""Merkle trees as OpenZeppelin's MerkleProof.verify sees them, checked against hand computations.

The expected roots are computed here with pycryptodome's keccak directly (not through the module
under test), each pair ordered by hand the way OpenZeppelin's ``_hashPair`` orders it (a < b).
"""

import os

import pytest
from Crypto.Hash import keccak as pc_keccak

from ledger.merkle import build, merkle_root, verify_proof


def k(data: bytes) -> bytes:
    return pc_keccak.new(digest_bits=256, data=data).digest()


def oz_pair(a: bytes, b: bytes) -> bytes:
    """OpenZeppelin Hashes.commutativeKeccak256: the smaller word first."""
    return k(a + b) if a < b else k(b + a)


def oz_verify(proof, root, leaf) -> bool:
    """MerkleProof.verify, line for line: processProof folds the proof with the commutative hash."""
    computed = leaf
    for p in proof:
        computed = oz_pair(computed, p)
    return computed == root


# leaves keccak(0x00)..keccak(0x04); sorted they are l1 < l3 < l0 < l2 < l4
LEAVES = [k(bytes([i])) for i in range(5)]


def test_the_hash_is_keccak256_not_sha3():
    assert k(b"").hex() == "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
    assert sorted(LEAVES) == [LEAVES[1], LEAVES[3], LEAVES[0], LEAVES[2], LEAVES[4]]


def test_three_leaves_by_hand():
    l0, l1, l2 = LEAVES[:3]
    # sorted: l1 < l0 < l2 ; layer 1: H(l1, l0), l2 promoted ; root: H of the two, in sorted order
    a = k(l1 + l0)                    # l1 < l0
    root = k(a + l2) if a < l2 else k(l2 + a)
    assert root.hex() == "d359d2743bb3a93ded4c902716931497ae3080f478c14e7af96344a92e9ddd51"
    got, proofs = build([l2, l0, l1, l0])  # order and duplicates do not matter
    assert got == root == merkle_root(LEAVES[:3])
    assert proofs[l1] == [l0, l2] and proofs[l0] == [l1, l2] and proofs[l2] == [a]
    for leaf in (l0, l1, l2):
        assert oz_verify(proofs[leaf], root, leaf) and verify_proof(leaf, proofs[leaf], root)


def test_four_leaves_by_hand():
    l0, l1, l2, l3 = LEAVES[:4]
    # sorted: l1 < l3 < l0 < l2
    left, right = k(l1 + l3), k(l0 + l2)
    root = k(left + right) if left < right else k(right + left)
    assert root.hex() == "a6acd53a13cd3887be772d9f62f4ec0d528832f3608e618c57fdf86820730333"
    got, proofs = build(LEAVES[:4])
    assert got == root
    assert proofs[l3] == [l1, right] and proofs[l2] == [l0, left]
    assert all(oz_verify(proofs[x], root, x) for x in LEAVES[:4])


def test_five_leaves_the_odd_one_climbs_unchanged():
    l0, l1, l2, l3, l4 = LEAVES
    # sorted l1 l3 l0 l2 | l4 ; layer 1: H(l1,l3) H(l0,l2) l4 ; layer 2: H(..,..) l4 ; root: H(.., l4)
    ab = oz_pair(oz_pair(l1, l3), oz_pair(l0, l2))
    root = oz_pair(ab, l4)
    assert root.hex() == "34458c5792036827218d08a967c43ecb1a46beb2a3da9293e9abaa3188c868b9"
    got, proofs = build(LEAVES)
    assert got == root and proofs[l4] == [ab]


def test_a_single_leaf_is_its_own_root_with_an_empty_proof():
    root, proofs = build([LEAVES[0]])
    assert root == LEAVES[0] and proofs == {LEAVES[0]: []}
    assert verify_proof(LEAVES[0], [], root) and not verify_proof(LEAVES[1], [], root)


@pytest.mark.parametrize("n", [2, 3, 6, 7, 64, 257, 1000])
def test_proofs_verify_and_wrong_leaf_proof_or_root_do_not(n):
    leaves = [os.urandom(32) for _ in range(n)]
    root, proofs = build(leaves)
    for leaf in leaves:
        assert verify_proof(leaf, proofs[leaf], root) and oz_verify(proofs[leaf], root, leaf)
    a, b = leaves[0], leaves[1]
    assert not verify_proof(os.urandom(32), proofs[a], root)           # a leaf not in the tree
    assert not verify_proof(a, proofs[a][1:], root)                     # a proof cut short
    assert not verify_proof(a, [os.urandom(32)] + proofs[a][1:], root)  # a sibling replaced
    assert not verify_proof(a, proofs[a], os.urandom(32))               # another root
    if proofs[a] != proofs[b]:
        assert not verify_proof(a, proofs[b], root)                     # another leaf's proof


def test_refuses_empty_and_short_leaves():
    with pytest.raises(ValueError):
        build([])
    with pytest.raises(ValueError):
        build([b"\x01" * 31])
