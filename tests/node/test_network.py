"""Real node processes over HTTP: a network of three validators, and a single node that is killed,
stopped and restarted. Blocks are 1 s apart (--period 1); transactions are signed with eth-account."""

from __future__ import annotations

import json
import signal
import socket
import time
from pathlib import Path

import pytest
import rlp
from eth.consensus.clique._utils import get_block_signer
from eth.vm.forks.london.blocks import LondonBlock
from eth_account import Account
from eth_hash.auto import keccak
from eth_utils import to_checksum_address

from .conftest import NodeProc, free_ports, run_cli, wait_for

GWEI = 10**9
FAUCET = Account.create()
SINK = "0x" + "22" * 20
PING = keccak(b"Ping(bytes)")
# A contract that logs its calldata under the topic PING: calldatacopy(0, 0, size); log1(0, size, PING).
_RUNTIME = bytes.fromhex("3660006000377f") + PING + bytes.fromhex("366000a100")
LOGGER_INIT = bytes.fromhex(f"60{len(_RUNTIME):02x}600c60003960{len(_RUNTIME):02x}6000f3") + _RUNTIME


class Wallet:
    """An account with its own nonce counter; transactions are signed here and sent raw."""

    def __init__(self, account, chain_id: int = 2836) -> None:
        self.account, self.chain_id, self.nonce = account, chain_id, 0

    @property
    def address(self) -> str:
        return self.account.address

    def sync(self, node: NodeProc) -> "Wallet":
        self.nonce = int(node.call("eth_getTransactionCount", [self.address, "pending"]), 16)
        return self

    def sign(self, to: str | None, *, value: int = 0, data: bytes = b"", gas: int = 21000) -> bytes:
        tx = {"type": 2, "chainId": self.chain_id, "nonce": self.nonce, "maxFeePerGas": 100 * GWEI,
              "maxPriorityFeePerGas": GWEI, "gas": gas, "value": value, "data": data}
        if to is not None:
            tx["to"] = to
        raw = self.account.sign_transaction(tx).raw_transaction
        self.nonce += 1
        return raw

    def send(self, node: NodeProc, to: str | None, **kw) -> str:
        return send_raw(node, self.sign(to, **kw))


def send_raw(node: NodeProc, raw: bytes) -> str:
    tx_hash = node.w3().eth.send_raw_transaction(raw)
    return "0x" + bytes(tx_hash).hex()


def receipt(node: NodeProc, tx_hash: str) -> dict | None:
    return node.call("eth_getTransactionReceipt", [tx_hash])


def wait_receipts(nodes: list[NodeProc], hashes: list[str], timeout: float = 20) -> list[dict]:
    """Each transaction's receipt, identical on every node named."""
    def ready():
        found = []
        for h in hashes:
            rs = [receipt(n, h) for n in nodes]
            if any(r is None for r in rs) or len({json.dumps(r, sort_keys=True) for r in rs}) != 1:
                return None
            found.append(rs[0])
        return found

    return wait_for(f"{len(hashes)} receipt(s) on {[n.home.name for n in nodes]}", ready, timeout)


def signer_of(node: NodeProc, number: int) -> bytes:
    raw = node.call("certledger_getBlocks", [hex(number), "0x1"])[0]
    return get_block_signer(rlp.decode(bytes.fromhex(raw[2:]), sedes=LondonBlock).header)


def validator_of(node: NodeProc) -> bytes:
    return bytes.fromhex(json.loads((node.home / "keys" / "validator.json").read_text())["address"].removeprefix("0x"))


def same_head(nodes: list[NodeProc]) -> tuple[int, str] | None:
    heads = {n.head() for n in nodes}
    return heads.pop() if len(heads) == 1 else None


# --- three validators -------------------------------------------------------------------------------

@pytest.fixture(scope="class")
def trio(tmp_path_factory):
    base = tmp_path_factory.mktemp("trio") / "net"
    port = free_ports(3)
    r = run_cli("init-network", str(base), "--nodes", "3", "--base-port", str(port), "--period", "1",
                "--fund", f"{FAUCET.address}={10**24}")
    assert r.returncode == 0, r.stderr
    nodes = [NodeProc(base / f"node{i}") for i in (1, 2, 3)]
    try:
        for n in nodes:
            n.start(wait=False)
        for n in nodes:
            n.wait_ready()
        yield nodes
    finally:
        for n in nodes:
            n.stop()


@pytest.fixture(scope="class")
def trio_wallet(trio):
    return Wallet(FAUCET).sync(trio[0])


@pytest.mark.slow
class TestThreeValidators:
    def test_all_seal_and_agree_after_transactions_sent_to_one_node(self, trio, trio_wallet):
        n1 = trio[0]
        start = n1.head()[0]
        hashes = []
        for batch in range(3):
            # in batches: one validator may not seal two blocks running, so the later batches can only
            # be sealed by a node that heard of them through relaying
            sent = [trio_wallet.send(n1, SINK, value=batch * 10 + i) for i in range(3)]
            if batch == 0:
                for other in trio[1:]:
                    wait_for(f"relay of {sent[0]} to {other.home.name}",
                             lambda: other.call("eth_getTransactionByHash", [sent[0]]), 5)
            hashes += sent
            wait_receipts([n1], sent)
        receipts = wait_receipts(trio, hashes)
        assert all(int(r["status"], 16) == 1 for r in receipts)
        top = max(int(r["blockNumber"], 16) for r in receipts)
        number, head_hash = wait_for("the same head on all three nodes", lambda: same_head(trio), 10)
        assert number >= top >= start + 3
        assert all(n.hash_at(top) == trio[0].hash_at(top) for n in trio)
        sealers = {signer_of(n1, int(r["blockNumber"], 16)) for r in receipts}
        assert len(sealers) >= 2
        assert sealers <= {validator_of(n) for n in trio}
        assert n1.call("clique_getSigners") == trio[2].call("clique_getSigners") == \
            [to_checksum_address(a) for a in sorted(validator_of(n) for n in trio)]
        balance = int(trio[2].call("eth_getBalance", [SINK, "latest"]), 16)
        assert balance >= sum(b * 10 + i for b in range(3) for i in range(3))

    def test_two_keep_sealing_without_the_third_which_catches_up_on_restart(self, trio, trio_wallet):
        n1, n2, n3 = trio
        assert n3.stop() == 0
        before = n1.head()[0]
        hashes = []
        for batch in range(3):
            sent = [trio_wallet.send(n1 if batch % 2 else n2, SINK, value=1) for _ in range(2)]
            hashes += sent
            wait_receipts([n1, n2], sent)
        receipts = wait_receipts([n1, n2], hashes)
        numbers = sorted({int(r["blockNumber"], 16) for r in receipts})
        assert len(numbers) >= 3 and numbers[0] > before
        assert {signer_of(n1, n) for n in numbers} <= {validator_of(n1), validator_of(n2)}
        height, head_hash = wait_for("n1 and n2 on one head", lambda: same_head([n1, n2]), 10)

        t0 = time.time()
        n3.start()
        wait_for("the restarted node to catch up", lambda: n3.hash_at(height) == head_hash, 20)
        assert time.time() - t0 < 20
        assert receipt(n3, hashes[-1])["blockHash"] == receipts[-1]["blockHash"]
        # and it takes part again: new transactions sent to it only are sealed and agreed on
        late = [trio_wallet.send(n3, SINK, value=2) for _ in range(2)]
        wait_receipts(trio, late)
        wait_for("the same head on all three nodes", lambda: same_head(trio), 10)

    def test_transactions_held_by_one_node_reach_peers_that_come_back(self, trio, trio_wallet):
        """Relays to an unreachable peer are lost: once it is back it must still hear of them, or a
        transaction only a recent signer holds would wait forever."""
        n1, n2, n3 = trio
        assert n2.stop() == 0 and n3.stop() == 0
        first = trio_wallet.send(n1, SINK, value=5)
        time.sleep(2.5)  # alone, n1 seals at most one block...
        second = trio_wallet.send(n1, SINK, value=6)
        time.sleep(2.5)
        assert receipt(n1, second) is None  # ...never two running: one of the two waits in its pool
        n2.start(wait=False)
        n3.start(wait=False)
        n2.wait_ready()
        n3.wait_ready()
        receipts = wait_receipts(trio, [first, second], timeout=15)
        assert signer_of(n1, int(receipts[1]["blockNumber"], 16)) != validator_of(n1) or \
            signer_of(n1, int(receipts[0]["blockNumber"], 16)) != validator_of(n1)
        wait_for("the same head on all three nodes", lambda: same_head(trio), 10)

    def test_clique_propose_adds_a_signer_and_discard_drops_a_proposal(self, trio, trio_wallet):
        n1, n2, n3 = trio
        newcomer = to_checksum_address(Account.create().address)
        other = to_checksum_address(Account.create().address)
        # a proposal can be taken back before it is voted on
        assert n3.call("clique_propose", [other, True]) is None
        assert n3.call("clique_proposals") == {other: True}
        assert n3.call("clique_discard", [other]) is None
        assert n3.call("clique_proposals") == {}

        for n in (n1, n2):
            n.call("clique_propose", [newcomer, True])
            assert n.call("clique_proposals") == {newcomer: True}
        assert newcomer not in n1.call("clique_getSigners")

        def added():
            trio_wallet.send(n1, SINK, value=3)  # empty_blocks is off: transactions make the blocks
            return all(newcomer in n.call("clique_getSigners") for n in trio)

        wait_for("the proposed signer on every node", added, 30, interval=1.0)
        assert len(n3.call("clique_getSigners")) == 4
        assert other not in n3.call("clique_getSigners")

        # vote it out again (three of four votes), leaving the network as the other tests found it
        for n in trio:
            n.call("clique_propose", [newcomer, False])

        def removed():
            trio_wallet.send(n2, SINK, value=4)
            return all(newcomer not in n.call("clique_getSigners") for n in trio)

        wait_for("the signer voted out on every node", removed, 30, interval=1.0)
        for n in trio:
            n.call("clique_discard", [newcomer])
        assert len(n1.call("clique_getSigners")) == 3


@pytest.mark.slow
def test_nodes_on_equally_heavy_branches_agree_without_another_block(tmp_path: Path):
    """Two validators each sealed their own block #1 out of turn (equal total difficulty), the
    same sender's nonce 0 in both. Started, the two nodes must settle on one branch by themselves
    (empty blocks are off: no later block will decide) and answer for the losing transaction with
    nothing rather than with the winner's data."""
    from node.chain import NodeChain
    from node.db import LevelDB
    from node.genesis import load as load_genesis
    from node.keys import load as load_key

    base = tmp_path / "net"
    r = run_cli("init-network", str(base), "--nodes", "3", "--base-port", str(free_ports(3)), "--period", "1",
                "--fund", f"{FAUCET.address}={10**24}")
    assert r.returncode == 0, r.stderr
    nodes = {validator_of(NodeProc(base / f"node{i}")): NodeProc(base / f"node{i}") for i in (1, 2, 3)}
    signers = sorted(nodes)
    racers = [nodes[a] for a in signers if a != signers[1 % 3]]  # both out of turn for #1
    genesis = load_genesis(base / "node1" / "genesis.json")
    tx_hashes, blocks = [], []
    for value, n in enumerate(racers, start=1):
        db = LevelDB(n.home / "chaindata")
        try:
            chain = NodeChain(db, genesis)
            key = load_key(n.home / "keys" / "validator.json", n.home / "keys" / "password")
            raw = Wallet(FAUCET).sign(SINK, value=value)
            tx = chain.chain.get_vm_class_for_block_number(1).get_transaction_builder().decode(raw)
            block, _ = chain.seal(key, [tx], 0)
            assert block.header.difficulty == 1
            tx_hashes.append("0x" + tx.hash.hex())
            blocks.append("0x" + block.hash.hex())
        finally:
            db.close()
    assert blocks[0] != blocks[1]
    try:
        for n in racers:
            n.start(wait=False)
        for n in racers:
            n.wait_ready()
        number, head = wait_for("one head on both nodes", lambda: same_head(racers), 10)
        assert (number, head) == (1, min(blocks))
        winner = tx_hashes[blocks.index(head)]
        loser = tx_hashes[1 - blocks.index(head)]
        for n in racers:
            assert receipt(n, winner)["blockHash"] == head
            assert n.request("eth_getTransactionReceipt", [loser]) == {"jsonrpc": "2.0", "id": 1, "result": None}
            assert n.call("eth_getTransactionByHash", [loser]) is None
            assert int(n.call("eth_getBalance", [SINK, "latest"]), 16) == 1 + blocks.index(head)
        # and they go on together
        w = Wallet(FAUCET).sync(racers[0])
        wait_receipts(racers, [w.send(racers[0], SINK, value=10)])
    finally:
        for n in racers:
            n.stop()


# --- one node ---------------------------------------------------------------------------------------

@pytest.fixture(scope="class")
def solo(tmp_path_factory):
    home = tmp_path_factory.mktemp("solo") / "node"
    port = free_ports(1)
    r = run_cli("init", str(home), "--rpc-port", str(port), "--period", "1", "--fund", f"{FAUCET.address}={10**24}")
    assert r.returncode == 0, r.stderr
    node = NodeProc(home)
    try:
        yield node.start()
    finally:
        node.stop()


@pytest.fixture(scope="class")
def solo_wallet(solo):
    return Wallet(FAUCET).sync(solo)


def _restart(node: NodeProc) -> None:
    if node.running():
        assert node.stop() == 0
    node.start()


class TestOneNode:
    @pytest.mark.slow
    def test_kill_9_mid_stream_keeps_the_chain_receipts_and_logs(self, solo, solo_wallet):
        deploy = solo_wallet.send(solo, None, data=LOGGER_INIT, gas=200_000)
        logger = wait_receipts([solo], [deploy])[0]["contractAddress"]
        assert logger and solo.call("eth_getCode", [logger, "latest"]) == "0x" + _RUNTIME.hex()

        returned: dict[str, dict] = {}
        sent: list[str] = []
        blocks: set[int] = set()
        i = 0
        deadline = time.time() + 30
        while len(blocks) < 4 or i % 7 != 3:  # kill while transactions are still arriving
            assert time.time() < deadline, "the node did not seal the stream"
            sent.append(solo_wallet.send(solo, logger, data=i.to_bytes(4, "big") * (1 + i % 3), gas=60_000))
            i += 1
            for h in sent:
                if h not in returned and (r := receipt(solo, h)) is not None:
                    returned[h] = r
                    blocks.add(int(r["blockNumber"], 16))
            time.sleep(0.02)
        head_before = solo.head()[0]
        solo.kill()
        assert solo.proc.returncode == -signal.SIGKILL

        solo.start()
        assert solo.head()[0] >= head_before
        for h, r in returned.items():
            assert receipt(solo, h) == r
            assert int(r["status"], 16) == 1
        by_address = solo.call("eth_getLogs", [{"fromBlock": "0x0", "address": logger}])
        by_topic = solo.call("eth_getLogs", [{"fromBlock": "0x0", "topics": ["0x" + PING.hex()]}])
        assert by_address == by_topic
        logged = {(entry["transactionHash"], entry["logIndex"]) for entry in by_address}
        expected = {(h, entry["logIndex"]) for h, r in returned.items() for entry in r["logs"]}
        assert len(expected) == len(returned) >= 10
        assert expected <= logged
        for entry in by_address:
            assert entry["blockHash"] == solo.hash_at(int(entry["blockNumber"], 16))
        # and it goes on: transactions lost from the pool are sent again under fresh nonces
        solo_wallet.sync(solo)
        after = solo_wallet.send(solo, logger, data=b"after", gas=60_000)
        r = wait_receipts([solo], [after])[0]
        assert r["logs"][0]["data"] == "0x" + b"after".hex()
        assert solo.call("eth_getLogs", [{"fromBlock": r["blockNumber"], "address": logger}])[-1]["transactionHash"] == after

    @pytest.mark.slow
    def test_allowlist_refuses_strangers_until_named_in_node_toml(self, solo, solo_wallet):
        solo_wallet.sync(solo)
        stranger = Wallet(Account.create())
        answer = solo.request("eth_sendRawTransaction", ["0x" + stranger.sign(SINK).hex()])
        assert answer["error"]["code"] == -32003, answer
        assert stranger.address.lower() in answer["error"]["message"].lower()

        # with ether it is still refused: the allowlist, not the balance, says no
        wait_receipts([solo], [solo_wallet.send(solo, stranger.address, value=10**18)])
        stranger.nonce = 0
        answer = solo.request("eth_sendRawTransaction", ["0x" + stranger.sign(SINK, value=5).hex()])
        assert answer["error"]["code"] == -32003, answer

        cfg = solo.home / "node.toml"
        text = cfg.read_text()
        assert "accounts = []" in text
        cfg.write_text(text.replace("accounts = []", f'accounts = ["{stranger.address}"]'))
        _restart(solo)
        stranger.nonce = 0
        tx = stranger.send(solo, SINK, value=5)
        assert int(wait_receipts([solo], [tx])[0]["status"], 16) == 1
        # another stranger is still refused
        answer = solo.request("eth_sendRawTransaction", ["0x" + Wallet(Account.create()).sign(SINK).hex()])
        assert answer["error"]["code"] == -32003

    @pytest.mark.slow
    def test_a_transaction_waiting_for_an_earlier_nonce_does_not_make_the_producer_spin(self, solo, solo_wallet):
        if not solo.running():
            solo.start()
        solo_wallet.sync(solo)
        solo_wallet.nonce += 1  # leave a gap: this one cannot be sealed until the missing nonce comes
        gapped = solo_wallet.send(solo, SINK, value=7)
        time.sleep(0.5)
        cpu = _cpu_seconds(solo.proc.pid)
        time.sleep(2.0)
        used = _cpu_seconds(solo.proc.pid) - cpu
        assert used < 0.5, f"an idle node with one queued transaction used {used:.2f}s of CPU in 2s"
        assert receipt(solo, gapped) is None
        solo_wallet.nonce -= 2
        filler = solo_wallet.send(solo, SINK, value=8)
        solo_wallet.nonce += 1
        rs = wait_receipts([solo], [filler, gapped])
        assert int(rs[0]["blockNumber"], 16) <= int(rs[1]["blockNumber"], 16)

    def test_second_process_on_the_same_directory_exits_2_with_one_line(self, solo):
        assert solo.running()
        r = run_cli("start", "--data-dir", str(solo.home), "--rpc-port", str(free_ports(1)), timeout=30)
        assert r.returncode == 2
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error:") and "in use" in lines[0], r.stderr
        assert solo.call("eth_blockNumber")  # the running node is unharmed

    def test_sigterm_stops_cleanly_and_removes_rpc_url(self, solo):
        if not solo.running():
            solo.start()
        url_file = solo.home / "rpc.url"
        assert url_file.read_text().strip() == solo.url
        log_size = solo.log_path.stat().st_size
        assert solo.stop() == 0
        assert not url_file.exists()
        tail = solo.log_path.read_bytes()[log_size:].decode(errors="replace")
        assert "stopped cleanly" in tail
        assert "Traceback" not in tail and "Error in sys.excepthook" not in tail, tail


def _cpu_seconds(pid: int) -> float:
    import os

    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


# --- command-line failures --------------------------------------------------------------------------

@pytest.fixture
def idle_home(tmp_path: Path) -> Path:
    home = tmp_path / "idle"
    r = run_cli("init", str(home), "--rpc-port", str(free_ports(1)), "--period", "1")
    assert r.returncode == 0, r.stderr
    return home


def test_start_on_a_taken_port_exits_nonzero_with_one_line(idle_home: Path):
    import tomllib

    port = tomllib.loads((idle_home / "node.toml").read_text())["rpc"]["port"]
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))
        s.listen()
        r = run_cli("start", "--data-dir", str(idle_home), timeout=30)
    assert r.returncode != 0
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert str(port) in lines[0] and lines[0].startswith("error:")
    assert not (idle_home / "rpc.url").exists()


@pytest.mark.parametrize("section, line, words", [
    ("[chain]", "empty_block = true", "chain.empty_block"),
    ("[rpc]", "prot = 1", "rpc.prot"),
    ("[allowlist]", "registry = 5", "allowlist.registry"),
])
def test_node_toml_typo_exits_2_naming_the_key(idle_home: Path, section: str, line: str, words: str):
    cfg = idle_home / "node.toml"
    text = cfg.read_text()
    assert section in text
    cfg.write_text(text.replace(section, f"{section}\n{line}", 1))
    r = run_cli("start", "--data-dir", str(idle_home), timeout=30)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and words in lines[0], r.stderr
