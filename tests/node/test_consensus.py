"""Our Clique rules, in process: a producer chain seals real blocks (real signed transactions, real
LevelDB in tmp dirs) and a follower chain imports them, refusing every kind of forgery."""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from eth.consensus.clique._utils import get_block_signer, sign_block_header
from eth.exceptions import TransactionNotFound
from eth_account import Account
from eth_hash.auto import keccak
from eth_keys import keys
from eth_utils import ValidationError, to_canonical_address

from node.chain import ChainError, NodeChain
from node.cli import DEFAULT_TEMPLATE
from node.db import LevelDB
from node.genesis import SEAL, VANITY, GenesisError, clique_extra_data, parse, render

PrivateKey = keys.PrivateKey
PERIOD = 5  # > 1, so "closer than the period" differs from py-evm's own "not later than the parent"
GWEI = 10**9
CHAIN_ID = 2836


def _key(seed: str) -> PrivateKey:
    return PrivateKey(keccak(seed.encode()))


def _addr(key: PrivateKey) -> bytes:
    return key.public_key.to_canonical_address()


SENDER = Account.from_key(keccak(b"consensus-test-sender"))
VALIDATORS = sorted((_key(f"validator-{i}") for i in range(3)), key=_addr)  # in signer order
STRANGER = _key("stranger")


def _genesis_doc(validators=VALIDATORS, period=PERIOD, epoch=30000, **config) -> dict:
    template = copy.deepcopy(DEFAULT_TEMPLATE)
    template["config"]["clique"] = {"period": period, "epoch": epoch}
    template["config"].update(config)
    # timestamps in the past: the chain can be sealed without waiting for the clock
    template["timestamp"] = hex(int(time.time()) - 100_000)
    return render(template, [_addr(k) for k in validators], {to_canonical_address(SENDER.address): 10**24})


@dataclass
class Net:
    genesis: object
    producer: NodeChain
    follower: NodeChain
    dbs: list
    tmp: Path

    def open(self, name: str, genesis=None) -> NodeChain:
        db = LevelDB(self.tmp / name)
        try:
            chain = NodeChain(db, genesis or self.genesis)
        except BaseException:
            db.close()
            raise
        self.dbs.append(db)
        return chain

    def close(self, chain: NodeChain) -> None:
        chain.db.close()
        self.dbs[:] = [db for db in self.dbs if db is not chain.db]  # (DBs are Mappings: no ==)

    def seal(self, key: PrivateKey, txs=(), vote=None, chain: NodeChain | None = None):
        """Seal the next block on the producer (or ``chain``): period-spaced timestamps in the past."""
        block, receipts = (chain or self.producer).seal(key, list(txs), 0, vote)
        return block

    def extend(self, key: PrivateKey, txs=(), vote=None):
        """Seal on the producer and import on the follower; both must agree."""
        block = self.seal(key, txs, vote)
        new, old = self.follower.import_block(block)
        assert [b.hash for b in new] == [block.hash] and old == ()
        assert self.follower.head().hash == self.producer.head().hash == block.hash
        return block


def _close(dbs):
    for db in dbs:
        try:
            db.close()
        except Exception:
            pass


@pytest.fixture
def net(tmp_path: Path):
    genesis = parse(_genesis_doc())
    n = Net(genesis, None, None, [], tmp_path)  # type: ignore[arg-type]
    n.producer = n.open("producer")
    n.follower = n.open("follower")
    yield n
    _close(n.dbs)


def in_turn(number: int, signers=VALIDATORS) -> PrivateKey:
    return signers[number % len(signers)]


def out_of_turn(number: int, signers=VALIDATORS) -> PrivateKey:
    return next(k for k in signers if k is not in_turn(number, signers))


def sealer(chain: NodeChain, want_in_turn: bool = True, signers=VALIDATORS) -> PrivateKey:
    """A signer that may seal the next block on ``chain``, in turn if asked and possible."""
    allowed = [k for k in signers if not _recent(chain, k, len(signers) // 2)]
    number = chain.head().block_number + 1
    return next((k for k in allowed if (k is in_turn(number, signers)) == want_in_turn), allowed[0])


def _recent(chain: NodeChain, key: PrivateKey, window: int) -> bool:
    header = chain.head()
    for _ in range(window):
        if header.block_number == 0:
            return False
        if get_block_signer(header) == _addr(key):
            return True
        header = chain.header_by_hash(header.parent_hash)
    return False


def transfer(nonce: int, value: int = 1, to: str = "0x" + "22" * 20) -> bytes:
    return SENDER.sign_transaction({
        "type": 2, "chainId": CHAIN_ID, "nonce": nonce, "maxFeePerGas": 50 * GWEI, "maxPriorityFeePerGas": GWEI,
        "gas": 21000, "to": to, "value": value}).raw_transaction


def decode(chain: NodeChain, raw: bytes):
    number = chain.head().block_number + 1
    return chain.chain.get_vm_class_for_block_number(number).get_transaction_builder().decode(raw)


def forge(block, key: PrivateKey, **fields):
    """The block with header fields changed and sealed again by ``key`` (a valid signature)."""
    header = sign_block_header(block.header.copy(**fields), key)
    return block.copy(header=header)


def refused(follower: NodeChain, block, words: str) -> ValidationError:
    head = follower.head()
    with pytest.raises(ValidationError) as info:
        follower.import_block(block)
    assert words.lower() in str(info.value).lower(), str(info.value)
    assert follower.head() == head
    assert follower.header_by_hash(block.hash) is None
    return info.value


# --- a valid chain ----------------------------------------------------------------------------

def test_valid_chain_with_transactions_imports_and_heads_match(net: Net):
    blocks = []
    nonce = 0
    for number in range(1, 7):
        # every other block out of turn (by a signer that did not seal the parent)
        key = sealer(net.producer, want_in_turn=number % 2 == 1)
        txs = [decode(net.producer, transfer(nonce + i, value=10 + i)) for i in range(number % 3)]
        nonce += len(txs)
        blocks.append(net.seal(key, txs))
        assert blocks[-1].header.difficulty == (2 if key is in_turn(number) else 1)
    assert net.producer.head().block_number == 6
    assert sorted({b.header.difficulty for b in blocks}) == [1, 2]
    for b in blocks:
        net.follower.import_block(b)
    assert net.follower.head() == net.producer.head()
    assert net.follower.score(net.follower.head().hash) == net.producer.score(net.producer.head().hash)
    # the transfers ran on the follower too, with the same receipts
    for b in blocks:
        header = net.follower.header_by_number(b.number)
        assert header.hash == b.hash
        assert [(r.state_root, r.gas_used, r.bloom) for r in net.follower.receipts(header)] == \
            [(r.state_root, r.gas_used, r.bloom) for r in net.producer.receipts(b.header)]
        assert len(net.follower.receipts(header)) == len(b.transactions)
    state = net.follower.chain.get_vm(net.follower.head()).state
    assert state.get_nonce(to_canonical_address(SENDER.address)) == nonce == 1 + 2 + 0 + 1 + 2 + 0
    assert state.get_balance(b"\x22" * 20) == sum(10 + i for n in range(1, 7) for i in range(n % 3))


def test_fee_recipient_is_the_sealer_so_a_block_resealed_by_another_validator_is_refused(net: Net):
    block = net.seal(in_turn(1), [decode(net.producer, transfer(0))])
    other = out_of_turn(1)
    # a valid seal with the right difficulty, but the tip now belongs to another account: state root differs
    refused(net.follower, forge(block, other, difficulty=1), "state_root")
    net.follower.import_block(block)
    assert net.follower.head().hash == block.hash


# --- forgeries ---------------------------------------------------------------------------------

def test_refuses_a_strangers_seal(net: Net):
    net.extend(in_turn(1))
    block = net.seal(in_turn(2))
    forged = forge(block, STRANGER, difficulty=1)
    assert get_block_signer(forged.header) == _addr(STRANGER)
    refused(net.follower, forged, "not in")
    net.follower.import_block(block)  # the genuine block still goes in
    assert net.follower.head().hash == block.hash


def test_refuses_in_turn_block_with_difficulty_1(net: Net):
    block = net.seal(in_turn(1))
    assert block.header.difficulty == 2
    refused(net.follower, forge(block, in_turn(1), difficulty=1), "difficulty")


def test_refuses_out_of_turn_block_with_difficulty_2(net: Net):
    key = out_of_turn(1)
    block = net.seal(key)
    assert block.header.difficulty == 1
    refused(net.follower, forge(block, key, difficulty=2), "difficulty")


def test_refuses_difficulty_outside_clique_values(net: Net):
    block = net.seal(in_turn(1))
    refused(net.follower, forge(block, in_turn(1), difficulty=3), "difficulty")


def test_refuses_bad_state_root(net: Net):
    block = net.seal(in_turn(1), [decode(net.producer, transfer(0))])
    refused(net.follower, forge(block, in_turn(1), state_root=keccak(b"not the state")), "state_root")
    net.follower.import_block(block)
    assert net.follower.head().hash == block.hash


def test_refuses_timestamp_in_the_future(net: Net):
    block = net.seal(in_turn(1))
    refused(net.follower, forge(block, in_turn(1), timestamp=int(time.time()) + 120), "future")


def test_refuses_timestamp_closer_than_the_period(net: Net):
    net.extend(in_turn(1))
    parent = net.follower.head()
    block = net.seal(in_turn(2))
    assert block.header.timestamp == parent.timestamp + PERIOD
    for gap in (1, PERIOD - 1):
        refused(net.follower, forge(block, in_turn(2), timestamp=parent.timestamp + gap), "period")
    refused(net.follower, forge(block, in_turn(2), timestamp=parent.timestamp), "timestamp")
    net.follower.import_block(block)
    assert net.follower.head().hash == block.hash


def test_refuses_a_signer_sealing_twice_within_the_recent_window(net: Net):
    first = in_turn(1)
    net.extend(first)
    # the producer itself will not seal again so soon
    with pytest.raises(ValidationError, match="too recently"):
        net.seal(first)
    block = net.seal(in_turn(2))  # genuine #2
    again = forge(block, first, difficulty=2 if first is in_turn(2) else 1)
    assert get_block_signer(again.header) == _addr(first)
    refused(net.follower, again, "too recently")
    net.follower.import_block(block)
    # with 3 signers the window is 2 blocks: once someone else sealed #2, the first signer may seal #3
    assert net.producer.turn(_addr(first)).may_seal
    net.extend(first)


def test_recent_window_grows_with_the_signer_count(tmp_path: Path):
    five = sorted((_key(f"five-{i}") for i in range(5)), key=_addr)  # window: 5 // 2 + 1 = 3 blocks
    genesis = parse(_genesis_doc(validators=five))
    n = Net(genesis, None, None, [], tmp_path)  # type: ignore[arg-type]
    try:
        n.producer, n.follower = n.open("p"), n.open("f")
        a, b = in_turn(1, five), in_turn(2, five)
        n.extend(a)
        n.extend(b)
        genuine = n.seal(in_turn(3, five))
        refused(n.follower, forge(genuine, a, difficulty=1), "too recently")  # a sealed #1, two blocks back
        n.follower.import_block(genuine)
        later = n.seal(in_turn(4, five))
        n.follower.import_block(forge(later, a, difficulty=1))  # three blocks back: allowed again
        assert get_block_signer(n.follower.head()) == _addr(a)
    finally:
        _close(n.dbs)


def test_refuses_a_tampered_transaction_list(net: Net):
    txs = [decode(net.producer, transfer(i, value=100 + i)) for i in range(3)]
    block = net.seal(in_turn(1), txs)
    assert len(block.transactions) == 3
    refused(net.follower, block.copy(transactions=block.transactions[:2]), "transaction_root")
    swapped = decode(net.producer, transfer(1, value=999))  # same nonce and gas, another value
    refused(net.follower, block.copy(transactions=[txs[0], swapped, txs[2]]), "transaction_root")
    net.follower.import_block(block)
    assert net.follower.head().hash == block.hash


def test_refuses_a_block_whose_parent_is_unknown(net: Net):
    net.seal(in_turn(1))
    orphan = net.seal(in_turn(2))
    refused(net.follower, orphan, "parent")


def test_refuses_a_checkpoint_with_a_forged_signer_list(tmp_path: Path):
    """At an epoch boundary the header lists the signers; a sealer must not rewrite that list."""
    genesis = parse(_genesis_doc(epoch=3))
    n = Net(genesis, None, None, [], tmp_path)  # type: ignore[arg-type]
    try:
        n.producer, n.follower = n.open("p"), n.open("f")
        n.extend(in_turn(1))
        n.extend(in_turn(2))
        checkpoint = n.seal(in_turn(3))
        listed = checkpoint.header.extra_data[VANITY:-SEAL]
        assert listed == b"".join(_addr(k) for k in VALIDATORS)
        me = in_turn(3)
        only_me = clique_extra_data([_addr(me)])  # vanity + [me] + empty seal
        refused(n.follower, forge(checkpoint, me, extra_data=only_me), "checkpoint")
        n.follower.import_block(checkpoint)
        assert n.follower.signers() == tuple(_addr(k) for k in VALIDATORS)
        for number in range(4, 8):  # over the next checkpoint (#6) too
            n.extend(in_turn(number))
        assert n.follower.signers() == tuple(_addr(k) for k in VALIDATORS)
    finally:
        _close(n.dbs)


# --- fork choice --------------------------------------------------------------------------------

@pytest.mark.parametrize("order", ["heavy-first", "light-first"])
def test_heaviest_branch_wins_whatever_the_import_order(net: Net, order: str):
    net.extend(in_turn(1))
    parent = net.follower.head()
    rival_chain = net.open("rival")  # a second producer at the same height
    rival_chain.import_block(net.producer.block(parent))
    heavy_key = in_turn(2)
    light_key = next(k for k in VALIDATORS if k is not heavy_key and _addr(k) != get_block_signer(parent))
    heavy = net.seal(heavy_key, [decode(net.producer, transfer(0, value=7))])
    light = net.seal(light_key, [decode(rival_chain, transfer(0, value=8))], chain=rival_chain)
    assert (heavy.header.difficulty, light.header.difficulty) == (2, 1)
    assert heavy.header.parent_hash == light.header.parent_hash == parent.hash
    first, second = (heavy, light) if order == "heavy-first" else (light, heavy)
    net.follower.import_block(first)
    assert net.follower.head().hash == first.hash
    new, old = net.follower.import_block(second)
    assert net.follower.head().hash == heavy.hash
    assert net.follower.score(heavy.hash) == net.follower.score(parent.hash) + 2
    if order == "light-first":
        assert [b.hash for b in new] == [heavy.hash] and [b.hash for b in old] == [light.hash]
    else:
        assert new == () and old == ()
    # only the heavy block's transaction is found; the light one's is in no canonical block
    assert net.follower.chaindb.get_transaction_index(heavy.transactions[0].hash) == (2, 0)
    with pytest.raises(TransactionNotFound):
        net.follower.chaindb.get_transaction_index(light.transactions[0].hash)
    # the state is the heavy branch's: the 7 wei transfer, not the 8 wei one
    state = net.follower.chain.get_vm(net.follower.head()).state
    assert state.get_balance(b"\x22" * 20) == 7
    # and the chain goes on from the heavy block
    net.extend(in_turn(3))
    assert net.follower.head().block_number == 3


def test_longer_out_of_turn_branch_beats_one_in_turn_block(net: Net):
    """Total difficulty decides, not the last block: 1 + 1 + 1 > 2 + ... on a shorter branch."""
    net.extend(in_turn(1))
    parent = net.follower.head()
    rival_chain = net.open("rival")
    rival_chain.import_block(net.producer.block(parent))
    short = net.seal(in_turn(2))  # difficulty 2, total +2
    light = []
    for number in (2, 3, 4):
        prev = rival_chain.head()
        key = next(k for k in VALIDATORS
                   if k is not in_turn(number) and _addr(k) != get_block_signer(prev))
        light.append(net.seal(key, chain=rival_chain))
    assert [b.header.difficulty for b in light] == [1, 1, 1]
    net.follower.import_block(short)
    for b in light:
        net.follower.import_block(b)
    assert net.follower.head().hash == light[-1].hash
    assert net.follower.score(light[-1].hash) == net.follower.score(parent.hash) + 3 > net.follower.score(short.hash)


def test_equally_heavy_branches_keep_the_first_until_adopted(net: Net):
    """py-evm keeps the first of two equally heavy branches; adopt() (the peers' lower-hash
    tie-break) switches to the other one with the transaction index and state."""
    net.extend(in_turn(2))  # #1 by #2's in-turn signer: the other two may both seal #2, out of turn
    parent = net.follower.head()
    rival_chain = net.open("rival")
    rival_chain.import_block(net.producer.block(parent))
    a_key, b_key = [k for k in VALIDATORS if k is not in_turn(2)]
    tx_a, tx_b = transfer(0, value=11), transfer(0, value=12)  # the same nonce: one or the other
    a = net.seal(a_key, [decode(net.producer, tx_a)])
    b = net.seal(b_key, [decode(rival_chain, tx_b)], chain=rival_chain)
    assert a.header.difficulty == b.header.difficulty == 1
    net.follower.import_block(a)
    new, old = net.follower.import_block(b)
    assert new == () and old == () and net.follower.head().hash == a.hash  # first seen stays
    assert net.follower.score(a.hash) == net.follower.score(b.hash)

    new, old = net.follower.adopt(b.hash)
    assert [x.hash for x in new] == [b.hash] and [x.hash for x in old] == [a.hash]
    assert net.follower.head().hash == b.hash
    assert net.follower.chaindb.get_transaction_index(b.transactions[0].hash) == (2, 0)
    with pytest.raises(TransactionNotFound):
        net.follower.chaindb.get_transaction_index(a.transactions[0].hash)
    assert net.follower.chain.get_vm(net.follower.head()).state.get_balance(b"\x22" * 20) == 12
    # the chain goes on from the adopted block, and reopening keeps it
    net.follower.import_block(net.seal(in_turn(3), chain=rival_chain))
    assert net.follower.head().block_number == 3
    head = net.follower.head()
    net.close(net.follower)
    assert net.open("follower").head() == head


# --- voting -------------------------------------------------------------------------------------

def test_votes_add_and_remove_a_signer(net: Net):
    a, b, c = VALIDATORS
    d = _key("fourth")
    new = _addr(d)
    three = tuple(_addr(k) for k in VALIDATORS)
    assert net.follower.signers() == three

    net.extend(a, vote=(new, True))
    assert net.follower.signers() == three  # one vote of three is not a majority
    assert net.follower.tally() == {new: ("nominate", 1)}
    net.extend(b, vote=(new, True))  # two of three
    four = tuple(sorted(three + (new,)))
    assert net.follower.signers() == net.producer.signers() == four
    assert net.follower.tally() == {}

    net.extend(d)  # the new signer seals, and the follower accepts it
    assert get_block_signer(net.follower.head()) == new

    # removal needs more than half of four: three votes
    net.extend(c, vote=(new, False))
    net.extend(a, vote=(new, False))
    assert net.follower.signers() == four
    assert net.follower.tally() == {new: ("kick", 2)}
    net.extend(b, vote=(new, False))
    assert net.follower.signers() == net.producer.signers() == three

    # a removed signer's blocks are refused again
    with pytest.raises(ValidationError, match="not authorised"):
        net.seal(d)
    genuine = net.seal(c)
    refused(net.follower, forge(genuine, d, difficulty=1), "not in")


def test_votes_from_one_signer_do_not_add_up(net: Net):
    a, b, c = VALIDATORS
    new = _addr(_key("fourth"))
    net.extend(a, vote=(new, True))
    net.extend(b)
    net.extend(a, vote=(new, True))  # the same signer again: its earlier vote is replaced, not added
    assert new not in net.follower.signers()
    assert net.follower.tally() == {new: ("nominate", 1)}


def test_signers_survive_reopening(net: Net):
    a, b, _ = VALIDATORS
    new = _addr(_key("fourth"))
    net.extend(a, vote=(new, True))
    net.extend(b, vote=(new, True))
    signers, head = net.follower.signers(), net.follower.head()
    net.close(net.follower)
    again = net.open("follower")
    assert again.head() == head
    assert again.signers() == signers and new in signers


# --- the data directory ---------------------------------------------------------------------------

def test_reopen_same_directory_gives_same_head(net: Net):
    for number in range(1, 4):
        net.extend(in_turn(number), [decode(net.producer, transfer(number - 1))])
    head = net.follower.head()
    receipts = net.follower.receipts(head)
    net.close(net.follower)
    again = net.open("follower")
    assert again.head() == head
    assert again.score(head.hash) == net.producer.score(head.hash)
    assert [r.gas_used for r in again.receipts(again.head())] == [r.gas_used for r in receipts]
    # and it goes on importing
    again.import_block(net.seal(in_turn(4)))
    assert again.head().block_number == 4


def test_reopen_with_another_genesis_is_refused(net: Net):
    net.extend(in_turn(1))
    net.close(net.follower)
    other = parse(_genesis_doc(validators=[STRANGER]))
    with pytest.raises(ChainError, match="another genesis"):
        net.open("follower", genesis=other)
    # the data is untouched: the right genesis still opens it at the same head
    assert net.open("follower").head().block_number == 1


@pytest.mark.parametrize("field, change", [
    ("chainId 2836", {"chainId": 999}),
    ("period 5", {"clique": {"period": 2, "epoch": 30000}}),
    ("epoch 30000", {"clique": {"period": PERIOD, "epoch": 100}}),
])
def test_reopen_with_other_network_parameters_is_refused(net: Net, field: str, change: dict):
    """chainId, period and epoch are not part of the genesis hash but are the network's all the same."""
    net.extend(in_turn(1))
    net.close(net.follower)
    doc = _genesis_doc()
    doc["timestamp"] = hex(net.genesis.header_params["timestamp"])
    doc["config"].update(change)
    other = parse(doc)
    with pytest.raises(ChainError) as info:
        net.open("follower", genesis=other)
    assert field in str(info.value)
    assert net.open("follower").head().block_number == 1


# --- genesis parsing -------------------------------------------------------------------------------

def _doc() -> dict:
    return _genesis_doc()


def _set(doc, path, value):
    *parents, last = path
    for p in parents:
        doc = doc[p]
    if value is KeyError:
        del doc[last]
    else:
        doc[last] = value


@pytest.mark.parametrize("path, value, field", [
    (("config", "clique"), KeyError, "config.clique"),
    (("config", "shanghaiTime"), 0, "config.shanghaiTime"),
    (("config", "terminalTotalDifficulty"), 0, "config.terminalTotalDifficulty"),
    (("config", "parisBlock"), 0, "config.parisBlock"),
    (("config", "chainId"), "forty", "config.chainId"),
    (("config", "clique", "period"), 0, "config.clique.period"),
    (("extraData",), "0x" + "00" * 32 + "00" * 20 + "00" * 65, "zero address"),
    (("extraData",), "0x" + "00" * 32 + "11" * 20 + "00" * 20 + "00" * 65, "zero address"),
    (("extraData",), "0x" + "00" * 97, "extraData"),
    (("extraData",), "0x" + "00" * 32 + "11" * 19 + "00" * 65, "extraData"),
    (("extraData",), "0x" + "00" * 32 + "11" * 20 + "00" * 64, "extraData"),
    (("extraData",), "00" * 117, "extraData"),
    (("alloc", "0xnotanaddress"), {"balance": "0x1"}, "alloc"),
    (("gasLimit",), "lots", "gasLimit"),
])
def test_genesis_errors_name_the_field(path, value, field):
    doc = _doc()
    _set(doc, path, value)
    with pytest.raises(GenesisError) as info:
        parse(doc)
    assert field in str(info.value)
    assert "\n" not in str(info.value)


def test_genesis_bad_extra_data_lengths():
    for body in (b"", b"\x11" * 19, b"\x11" * 21, b"\x11" * 41):
        doc = _doc()
        doc["extraData"] = "0x" + (b"\0" * VANITY + body + b"\0" * SEAL).hex()
        with pytest.raises(GenesisError, match="extraData"):
            parse(doc)


def test_genesis_refuses_the_template_zero_validator():
    import json

    from node.cli import TEMPLATE

    doc = json.loads(TEMPLATE.read_text())  # the repository's genesis.json, not filled in
    with pytest.raises(GenesisError, match="zero address"):
        parse(doc)


def test_genesis_parses_and_keeps_validators_sorted():
    g = parse(_doc())
    assert g.validators == tuple(_addr(k) for k in VALIDATORS)
    assert g.period == PERIOD and g.chain_id == CHAIN_ID and g.is_london
    assert g.alloc[to_canonical_address(SENDER.address)]["balance"] == 10**24
