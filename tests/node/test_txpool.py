"""The node's transaction pool, fed with real transactions signed by eth-account (chain 2836)."""

from __future__ import annotations

import os
import threading
import time

import pytest
import rlp
from eth_account import Account
from eth_hash.auto import keccak
from eth_utils import to_canonical_address

from node.txpool import TxPool, TxPoolError

CHAIN_ID = 2836
GWEI = 10**9
TO = "0x" + "11" * 20
RICH = 10**24
BLOCK_GAS = 30_000_000
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


def dyn(acct, nonce, *, fee=2 * GWEI, tip=GWEI, gas=21000, value=0, data=b"", chain_id=CHAIN_ID) -> bytes:
    return acct.sign_transaction({
        "type": 2, "chainId": chain_id, "nonce": nonce, "maxFeePerGas": fee, "maxPriorityFeePerGas": tip,
        "gas": gas, "to": TO, "value": value, "data": data}).raw_transaction


def legacy(acct, nonce, *, gas_price=GWEI, gas=21000, chain_id: int | None = CHAIN_ID) -> bytes:
    tx = {"nonce": nonce, "gasPrice": gas_price, "gas": gas, "to": TO, "value": 0}
    if chain_id is not None:
        tx["chainId"] = chain_id
    return acct.sign_transaction(tx).raw_transaction


def access_list_tx(acct, nonce, *, gas_price=GWEI) -> bytes:
    return acct.sign_transaction({
        "type": 1, "chainId": CHAIN_ID, "nonce": nonce, "gasPrice": gas_price, "gas": 21000, "to": TO,
        "value": 0, "accessList": []}).raw_transaction


def add(pool: TxPool, raw: bytes, *, state_nonce=0, balance=RICH, base_fee=GWEI // 10, block_gas_limit=BLOCK_GAS):
    return pool.add(raw, state_nonce=state_nonce, balance=balance, base_fee=base_fee,
                    block_gas_limit=block_gas_limit)


def refused(pool: TxPool, raw: bytes, words: str, code: int = -32000, **kw) -> TxPoolError:
    before = len(pool)
    with pytest.raises(TxPoolError) as info:
        add(pool, raw, **kw)
    assert words in str(info.value)
    assert "\n" not in str(info.value)
    assert info.value.code == code
    assert len(pool) == before
    return info.value


def addr(acct) -> bytes:
    return to_canonical_address(acct.address)


def zero_nonces(_sender: bytes) -> int:
    return 0


@pytest.fixture
def pool() -> TxPool:
    return TxPool(CHAIN_ID)


@pytest.fixture
def accts():
    return [Account.create() for _ in range(4)]


@pytest.mark.parametrize("make", [dyn, legacy, access_list_tx], ids=["eip1559", "legacy-eip155", "eip2930"])
def test_accepts_and_returns_keccak_of_raw(pool, accts, make):
    raw = make(accts[0], 0)
    tx_hash = add(pool, raw)
    assert tx_hash == keccak(raw)
    assert len(pool) == 1
    tx = pool.get(tx_hash)
    assert tx is not None and tx.nonce == 0
    assert tx.sender == addr(accts[0])
    assert pool.get(b"\x00" * 32) is None


def test_already_known(pool, accts):
    raw = dyn(accts[0], 0)
    add(pool, raw)
    refused(pool, raw, "already known")
    assert len(pool) == 1


def test_nonce_too_low(pool, accts):
    refused(pool, dyn(accts[0], 3), "nonce too low", state_nonce=5)
    assert add(pool, dyn(accts[0], 5), state_nonce=5)


def test_gapped_nonces_wait_for_the_gap(pool, accts):
    a = accts[0]
    h0 = add(pool, dyn(a, 0))
    h2 = add(pool, dyn(a, 2))
    assert [tx.nonce for tx in pool.select(zero_nonces, 0, BLOCK_GAS)] == [0]
    content = pool.content()
    assert list(content["pending"][a.address]) == [0]
    assert list(content["queued"][a.address]) == [2]
    h1 = add(pool, dyn(a, 1))
    chosen = pool.select(zero_nonces, 0, BLOCK_GAS)
    assert [tx.hash for tx in chosen] == [h0, h1, h2]
    assert pool.content()["queued"] == {}


def test_gap_at_state_nonce_selects_nothing(pool, accts):
    add(pool, dyn(accts[0], 1))
    add(pool, dyn(accts[0], 2))
    assert pool.select(zero_nonces, 0, BLOCK_GAS) == []
    assert [tx.nonce for tx in pool.select(lambda s: 1, 0, BLOCK_GAS)] == [1, 2]


def test_several_txs_per_sender_in_one_select(pool, accts):
    a, b = accts[:2]
    for n in reversed(range(5)):  # arrival order must not matter within a sender
        add(pool, dyn(a, n))
    for n in range(3):
        add(pool, dyn(b, n))
    chosen = pool.select(zero_nonces, 0, BLOCK_GAS)
    assert len(chosen) == 8
    for acct in (a, b):
        assert [tx.nonce for tx in chosen if tx.sender == addr(acct)] == sorted(
            tx.nonce for tx in chosen if tx.sender == addr(acct))
    assert [tx.nonce for tx in chosen if tx.sender == addr(a)] == [0, 1, 2, 3, 4]


def test_orders_senders_by_effective_tip_then_arrival(pool, accts):
    a, b, c, d = accts
    base_fee = GWEI
    add(pool, dyn(a, 0, fee=10 * GWEI, tip=1 * GWEI))
    add(pool, dyn(b, 0, fee=10 * GWEI, tip=3 * GWEI))
    add(pool, dyn(c, 0, fee=base_fee + GWEI // 2, tip=base_fee + GWEI // 2))  # tip 1.5, effective 0.5
    add(pool, dyn(d, 0, fee=10 * GWEI, tip=3 * GWEI))  # same tip as b, arrived later
    order = [tx.sender for tx in pool.select(zero_nonces, base_fee, BLOCK_GAS)]
    assert order == [addr(b), addr(d), addr(a), addr(c)]


def test_legacy_tip_is_gas_price_minus_base_fee(pool, accts):
    a, b = accts[:2]
    add(pool, legacy(a, 0, gas_price=3 * GWEI))  # tip 2 gwei at base fee 1 gwei
    add(pool, dyn(b, 0, fee=10 * GWEI, tip=GWEI))
    assert [tx.sender for tx in pool.select(zero_nonces, GWEI, BLOCK_GAS)] == [addr(a), addr(b)]
    # at base fee 2.5 gwei the legacy tip falls to 0.5 gwei
    assert [tx.sender for tx in pool.select(zero_nonces, 5 * GWEI // 2, BLOCK_GAS)] == [addr(b), addr(a)]


def test_a_cheap_head_holds_back_its_sender(pool, accts):
    a, b = accts[:2]
    add(pool, dyn(a, 0, fee=10 * GWEI, tip=GWEI))
    add(pool, dyn(a, 1, fee=10 * GWEI, tip=5 * GWEI))
    add(pool, dyn(b, 0, fee=10 * GWEI, tip=2 * GWEI))
    chosen = pool.select(zero_nonces, 0, BLOCK_GAS)
    assert [(tx.sender, tx.nonce) for tx in chosen] == [(addr(b), 0), (addr(a), 0), (addr(a), 1)]


def test_replacement_needs_ten_percent_on_both_fees(pool, accts):
    a = accts[0]
    old = add(pool, dyn(a, 0, fee=100 * GWEI, tip=10 * GWEI))
    refused(pool, dyn(a, 0, fee=105 * GWEI, tip=105 * GWEI // 10), "replacement transaction underpriced")
    refused(pool, dyn(a, 0, fee=110 * GWEI, tip=10 * GWEI), "replacement transaction underpriced")
    refused(pool, dyn(a, 0, fee=100 * GWEI, tip=11 * GWEI), "replacement transaction underpriced")
    new = add(pool, dyn(a, 0, fee=110 * GWEI, tip=11 * GWEI))
    assert len(pool) == 1
    assert pool.get(old) is None and pool.get(new) is not None
    assert [tx.hash for tx in pool.select(zero_nonces, 0, BLOCK_GAS)] == [new]


def test_legacy_replacement(pool, accts):
    a = accts[0]
    add(pool, legacy(a, 0, gas_price=20 * GWEI))
    refused(pool, legacy(a, 0, gas_price=21 * GWEI), "replacement transaction underpriced")
    add(pool, legacy(a, 0, gas_price=22 * GWEI))
    assert pool.select(zero_nonces, 0, BLOCK_GAS)[0].gas_price == 22 * GWEI


def test_wrong_chain_id(pool, accts):
    refused(pool, dyn(accts[0], 0, chain_id=1), "invalid chain id")
    refused(pool, legacy(accts[0], 0, chain_id=CHAIN_ID + 1), "invalid chain id")


def test_pre_eip155_legacy_refused(pool, accts):
    raw = legacy(accts[0], 0, chain_id=None)
    assert rlp.decode(raw)[6] in (b"\x1b", b"\x1c")  # v = 27/28: really unprotected
    refused(pool, raw, "only replay-protected (EIP-155) transactions allowed")


@pytest.mark.parametrize("raw", [
    b"", b"\xc0", b"\x80", b"\x02", b"\x02\xc0", b"\x01\xc3\x01\x02\x03", b"\xff" * 40,
    b"\xc0" + os.urandom(100), b"\xf8\xff" + b"\x00" * 10,
])
def test_garbage_refused(pool, raw):
    with pytest.raises(TxPoolError) as info:
        pool.decode(raw)
    assert info.value.code == -32000
    refused(pool, raw, "")


def test_truncated_or_padded_tx_refused(pool, accts):
    raw = dyn(accts[0], 0)
    refused(pool, raw[:-1], "invalid transaction encoding")
    refused(pool, raw + b"\x00", "invalid transaction encoding")
    refused(pool, legacy(accts[0], 0) + b"\x00", "invalid transaction encoding")


def test_unknown_tx_type(pool, accts):
    raw = dyn(accts[0], 0)
    refused(pool, b"\x03" + raw[1:], "transaction type not supported")
    refused(pool, b"\x7f" + raw[1:], "transaction type not supported")


def test_high_s_signature_refused(pool, accts):
    raw = dyn(accts[0], 0)
    fields = rlp.decode(raw[1:])
    s = int.from_bytes(fields[-1], "big")
    fields[-1] = (SECP256K1_N - s).to_bytes(32, "big").lstrip(b"\x00")
    fields[-3] = b"" if fields[-3] == b"\x01" else b"\x01"  # flip y-parity: still recovers the same key
    refused(pool, b"\x02" + rlp.encode(fields), "invalid transaction v, r, s values")


def test_oversized(accts):
    small = TxPool(CHAIN_ID, max_tx_bytes=1024)
    raw = dyn(accts[0], 0, gas=100_000, data=b"\x01" * 2000)
    refused(small, raw, "oversized data")
    assert add(TxPool(CHAIN_ID), raw) == keccak(raw)


def test_intrinsic_gas_too_low(pool, accts):
    refused(pool, dyn(accts[0], 0, gas=20_999), "intrinsic gas too low")
    refused(pool, dyn(accts[0], 0, gas=21_000, data=b"\x01"), "intrinsic gas too low")
    add(pool, dyn(accts[0], 0, gas=21_016, data=b"\x01"))


def test_gas_above_block_gas_limit(pool, accts):
    refused(pool, dyn(accts[0], 0, gas=50_001), "exceeds block gas limit", block_gas_limit=50_000)
    add(pool, dyn(accts[0], 0, gas=50_000), block_gas_limit=50_000)


def test_insufficient_funds(pool, accts):
    fee, value = 3 * GWEI, 12345
    cost = 21000 * fee + value
    refused(pool, dyn(accts[0], 0, fee=fee, value=value), "insufficient funds for gas * price + value",
            balance=cost - 1)
    add(pool, dyn(accts[0], 0, fee=fee, value=value), balance=cost)


def test_tip_above_max_fee_refused(pool, accts):
    refused(pool, dyn(accts[0], 0, fee=GWEI, tip=2 * GWEI), "max priority fee per gas higher than max fee per gas")


def test_max_fee_below_base_fee_kept_not_selected(pool, accts):
    a, b = accts[:2]
    cheap = add(pool, dyn(a, 0, fee=5 * GWEI, tip=GWEI), base_fee=10 * GWEI)
    add(pool, dyn(a, 1, fee=50 * GWEI, tip=GWEI), base_fee=10 * GWEI)
    add(pool, dyn(b, 0, fee=50 * GWEI, tip=GWEI), base_fee=10 * GWEI)
    assert pool.get(cheap) is not None and len(pool) == 3
    chosen = pool.select(zero_nonces, 10 * GWEI, BLOCK_GAS)
    assert [tx.sender for tx in chosen] == [addr(b)]  # a's nonce 1 would leave a gap
    assert len(pool.select(zero_nonces, GWEI, BLOCK_GAS)) == 3


def test_pool_full_evicts_nothing(accts):
    pool = TxPool(CHAIN_ID, max_txs=3)
    kept = [add(pool, dyn(acct, 0)) for acct in accts[:3]]
    refused(pool, dyn(accts[3], 0), "txpool is full")
    assert all(pool.get(h) is not None for h in kept)
    # replacing does not grow the pool, so it still works when full
    add(pool, dyn(accts[0], 0, fee=4 * GWEI, tip=2 * GWEI))
    assert len(pool) == 3


def test_per_sender_limit(accts):
    pool = TxPool(CHAIN_ID, max_per_sender=2)
    add(pool, dyn(accts[0], 0))
    add(pool, dyn(accts[0], 1))
    refused(pool, dyn(accts[0], 2), "account limit exceeded")
    add(pool, dyn(accts[1], 0))
    assert len(pool) == 3


def test_allowlist(accts):
    alice, bob = accts[:2]
    asked = []

    def allowed(sender: bytes) -> bool:
        asked.append(sender)
        return sender == addr(alice)

    pool = TxPool(CHAIN_ID, allowed=allowed)
    err = refused(pool, dyn(bob, 0), "transaction rejected", code=-32003)
    assert bob.address in str(err)
    add(pool, dyn(alice, 0))
    assert asked == [addr(bob), addr(alice)]
    assert all(isinstance(s, bytes) and len(s) == 20 for s in asked)


def test_select_respects_gas_limit(pool, accts):
    x, y, z = accts[:3]
    add(pool, dyn(x, 0, gas=50_000, tip=3 * GWEI, fee=10 * GWEI))
    add(pool, dyn(y, 0, gas=60_000, tip=2 * GWEI, fee=10 * GWEI))
    add(pool, dyn(y, 1, gas=21_000, tip=2 * GWEI, fee=10 * GWEI))  # must not jump over y's nonce 0
    add(pool, dyn(z, 0, gas=21_000, tip=1 * GWEI, fee=10 * GWEI))
    chosen = pool.select(zero_nonces, 0, 100_000)
    assert [(tx.sender, tx.nonce) for tx in chosen] == [(addr(x), 0), (addr(z), 0)]
    assert sum(tx.gas for tx in chosen) <= 100_000
    assert len(pool.select(zero_nonces, 0, 20_999)) == 0
    assert len(pool.select(zero_nonces, 0, 152_000)) == 4


def test_prune_after_nonces_advance(pool, accts):
    a, b = accts[:2]
    ha = [add(pool, dyn(a, n)) for n in range(4)]
    hb = [add(pool, dyn(b, n)) for n in range(2)]
    nonces = {addr(a): 2, addr(b): 0}
    assert pool.prune(nonces.__getitem__) == 2
    assert len(pool) == 4
    assert pool.get(ha[0]) is None and pool.get(ha[1]) is None
    assert all(pool.get(h) is not None for h in ha[2:] + hb)
    chosen = pool.select(nonces.__getitem__, 0, BLOCK_GAS)
    assert [tx.nonce for tx in chosen if tx.sender == addr(a)] == [2, 3]
    assert pool.prune(nonces.__getitem__) == 0
    assert pool.prune(lambda s: 10) == 4
    assert len(pool) == 0 and pool.content() == {"pending": {}, "queued": {}}


def test_pending_nonce(pool, accts):
    a = accts[0]
    assert pool.pending_nonce(addr(a), 7) == 7
    for n in (0, 1, 2, 4):
        add(pool, dyn(a, n))
    assert pool.pending_nonce(addr(a), 0) == 3
    assert pool.pending_nonce(addr(a), 1) == 3
    assert pool.pending_nonce(addr(a), 4) == 5
    assert pool.pending_nonce(addr(accts[1]), 0) == 0


def test_remove_leaves_a_gap(pool, accts):
    a = accts[0]
    hashes = [add(pool, dyn(a, n)) for n in range(3)]
    pool.remove(hashes[1])
    pool.remove(b"\x00" * 32)  # unknown: ignored
    assert len(pool) == 2 and pool.get(hashes[1]) is None
    assert [tx.nonce for tx in pool.select(zero_nonces, 0, BLOCK_GAS)] == [0]
    assert pool.pending_nonce(addr(a), 0) == 1


def slow_allow(_sender: bytes) -> bool:
    # A slow allowlist (think: a contract read) widens the gap between the first "already known"
    # look and the insert, where an unlocked pool would take the same transaction twice.
    time.sleep(0.0005)
    return True


def test_concurrent_adds_keep_count_right():
    pool = TxPool(CHAIN_ID, allowed=slow_allow)
    threads_n, per_thread = 8, 25
    accounts = [Account.create() for _ in range(threads_n)]
    raws = {acct.address: [dyn(acct, n) for n in range(per_thread)] for acct in accounts}
    same = dyn(Account.create(), 0)
    barrier = threading.Barrier(threads_n)
    results: dict[str, list] = {"ok": [], "known": [], "other": []}
    lock = threading.Lock()

    def work(acct):
        barrier.wait()
        for raw in [same] + raws[acct.address]:
            try:
                h = add(pool, raw)
                outcome = "ok"
            except TxPoolError as exc:
                h, outcome = str(exc), "known" if str(exc) == "already known" else "other"
            with lock:
                results[outcome].append(h)

    threads = [threading.Thread(target=work, args=(acct,)) for acct in accounts]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results["other"] == []
    assert len(results["known"]) == threads_n - 1  # the shared tx got in exactly once
    assert len(results["ok"]) == len(set(results["ok"])) == threads_n * per_thread + 1
    assert len(pool) == threads_n * per_thread + 1
    for acct in accounts:
        assert pool.pending_nonce(addr(acct), 0) == per_thread
    assert len(pool.select(zero_nonces, 0, 10**9)) == threads_n * per_thread + 1
