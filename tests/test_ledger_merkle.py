import os

import pytest
from eth_hash.auto import keccak

from ledger.merkle import build, hash_pair, merkle_root, verify_proof


def leaves(n):
    return [keccak(bytes([i])) for i in range(n)]


def h(a, b):
    return keccak(min(a, b) + max(a, b))


def test_single_leaf_is_its_own_root():
    [a] = leaves(1)
    root, proofs = build([a])
    assert root == a and proofs[a] == []


def test_three_leaves_by_hand():
    a, b, c = sorted(leaves(3))
    root, proofs = build([c, a, b])
    assert root == h(h(a, b), c)          # c is promoted unchanged, then paired
    assert proofs[a] == [b, c] and proofs[c] == [h(a, b)]


def test_four_leaves_by_hand_and_pair_order_does_not_matter():
    a, b, c, d = sorted(leaves(4))
    assert merkle_root([d, c, b, a]) == h(h(a, b), h(c, d))
    assert hash_pair(a, b) == hash_pair(b, a)


@pytest.mark.parametrize("n", [1, 2, 3, 5, 8, 13, 100, 1000])
def test_every_proof_verifies_and_wrong_ones_do_not(n):
    ls = [os.urandom(32) for _ in range(n)]
    root, proofs = build(ls)
    for leaf in ls:
        assert verify_proof(leaf, proofs[leaf], root)
    other = os.urandom(32)
    assert not verify_proof(other, proofs[ls[0]], root)
    if n > 1:
        assert not verify_proof(ls[0], proofs[ls[0]][:-1], root)
        assert not verify_proof(ls[0], proofs[ls[1]], root) or proofs[ls[0]] == proofs[ls[1]]


def test_duplicates_collapse_and_bad_leaves_are_refused():
    a = keccak(b"x")
    assert merkle_root([a, a]) == a
    with pytest.raises(ValueError):
        build([])
    with pytest.raises(ValueError):
        build([b"short"])
