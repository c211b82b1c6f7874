"""The node's JSON-RPC, method by method, in the shapes geth answers with: one ledger node
process for the module (``python -m node start``, Clique period 1 s), spoken to raw over HTTP and
through web3.py.

Sealing is made deterministic where a test needs a transaction to stay pending: a transaction
whose max fee is below the base fee waits in the pool (the node keeps it, as geth does) and blocks
its sender's later nonces; replacing it with a well-priced one releases the whole run into one
block.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
import requests
from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_account import Account
from eth_utils import keccak, to_checksum_address

from chain_client.connection import connect
from chain_client.devnode import LedgerNode
from node.rpc.methods import METHODS

CHAIN_ID = 2836
GWEI = 10**9
REASON = "nope: not today"
TOPIC_A = keccak(text="A(uint256)")
TOPIC_B = keccak(text="B(uint256)")


# --- a tiny contract, assembled here so the test needs no compiler ------------------------
#   calldata[0] == 1: revert with Error(REASON)
#   calldata[0] == 2: x = calldata[1:33]; sstore(0, x); log2(x, TOPIC_A, x)
#   calldata[0] == 3: the same with TOPIC_B, then a second log2 with TOPIC_A (two logs)
#   otherwise:        return sload(0)

OP = {"STOP": 0x00, "EQ": 0x14, "SHL": 0x1B, "SHR": 0x1C, "CALLDATALOAD": 0x35, "CODECOPY": 0x39, "MSTORE": 0x52,
      "SLOAD": 0x54, "SSTORE": 0x55, "JUMPI": 0x57, "JUMPDEST": 0x5B, "DUP1": 0x80, "LOG2": 0xA2,
      "RETURN": 0xF3, "REVERT": 0xFD}


def assemble(program: list) -> bytes:
    """Items: an opcode name, an int or bytes (PUSHn of its minimal size), ("label", name) or ("to", name)."""
    def size(item) -> int:
        if isinstance(item, str):
            return 1
        if isinstance(item, tuple):
            return 0 if item[0] == "label" else 3
        return 1 + len(_push_bytes(item))

    labels, pc = {}, 0
    for item in program:
        if isinstance(item, tuple) and item[0] == "label":
            labels[item[1]] = pc
        pc += size(item)
    out = bytearray()
    for item in program:
        if isinstance(item, str):
            out.append(OP[item])
        elif isinstance(item, tuple):
            if item[0] == "to":
                out += bytes([0x61]) + labels[item[1]].to_bytes(2, "big")
        else:
            b = _push_bytes(item)
            out += bytes([0x5F + len(b)]) + b
    return bytes(out)


def _push_bytes(v) -> bytes:
    if isinstance(v, bytes):
        return v
    return v.to_bytes(max(1, (v.bit_length() + 7) // 8), "big")


def _emit(topic: bytes) -> list:
    # stack: x  ->  log2(mem[0:32] = x, topic, x), x kept
    return ["DUP1", 0, "MSTORE", "DUP1", topic, 32, 0, "LOG2"]


def _runtime() -> bytes:
    reason = REASON.encode()
    return assemble([
        0, "CALLDATALOAD", 0xF8, "SHR",
        "DUP1", 1, "EQ", ("to", "revert"), "JUMPI",
        "DUP1", 2, "EQ", ("to", "emit"), "JUMPI",
        "DUP1", 3, "EQ", ("to", "emit2"), "JUMPI",
        0, "SLOAD", 0, "MSTORE", 32, 0, "RETURN",
        ("label", "revert"), "JUMPDEST",
        0x08C379A0, 0xE0, "SHL", 0, "MSTORE", 0x20, 4, "MSTORE", len(reason), 0x24, "MSTORE",
        reason.ljust(32, b"\0"), 0x44, "MSTORE", 0x64, 0, "REVERT",
        ("label", "emit"), "JUMPDEST",
        1, "CALLDATALOAD", "DUP1", 0, "SSTORE", *_emit(TOPIC_A), "STOP",
        ("label", "emit2"), "JUMPDEST",
        1, "CALLDATALOAD", "DUP1", 0, "SSTORE", *_emit(TOPIC_B), *_emit(TOPIC_A), "STOP",
    ])


RUNTIME = _runtime()


def init_code() -> bytes:
    """Constructor: copy the runtime (which follows this prefix) to memory and return it."""
    prefix = lambda offset: assemble([len(RUNTIME), "DUP1", offset, 0, "CODECOPY", 0, "RETURN"])  # noqa: E731
    return prefix(len(prefix(0))) + RUNTIME


def emit_data(x: int, two: bool = False) -> bytes:
    return bytes([3 if two else 2]) + x.to_bytes(32, "big")


REVERT_DATA = bytes([1])
ERROR_STRING = bytes.fromhex("08c379a0") + abi_encode(["string"], [REASON])


# --- the node and raw JSON-RPC ------------------------------------------------------------

class RPC:
    def __init__(self, url: str) -> None:
        self.url, self.http, self._id = url, requests.Session(), 0

    def post(self, body) -> requests.Response:
        data = body if isinstance(body, (bytes, str)) else json.dumps(body)
        return self.http.post(self.url, data=data, headers={"Content-Type": "application/json"}, timeout=30)

    def raw(self, method: str, *params) -> dict:
        self._id += 1
        resp = self.post({"jsonrpc": "2.0", "id": self._id, "method": method, "params": list(params)})
        assert resp.status_code == 200
        out = resp.json()
        assert out["jsonrpc"] == "2.0" and out["id"] == self._id
        assert ("result" in out) != ("error" in out), out
        return out

    def __call__(self, method: str, *params):
        out = self.raw(method, *params)
        assert "error" not in out, f"{method}: {out['error']}"
        return out["result"]

    def error(self, method: str, *params) -> dict:
        out = self.raw(method, *params)
        assert "error" in out, f"{method} answered {out.get('result')!r}, an error was expected"
        assert isinstance(out["error"]["code"], int) and isinstance(out["error"]["message"], str)
        return out["error"]

    def batch(self, calls: list) -> list:
        resp = self.post(calls)
        assert resp.status_code == 200
        return resp.json()


class Env:
    def __init__(self, node: LedgerNode) -> None:
        self.node = node
        self.rpc = RPC(node.url)
        self.w3 = connect(node.url)
        self.nonces: dict[str, int] = {}

    def account(self, wei: int = 10**21):
        a = Account.create()
        self.node.fund(self.w3, a.address, wei)
        return a

    def sign(self, acct, *, to: str | None, data: bytes = b"", gas: int = 200_000, value: int = 0,
             fee: int = 3 * GWEI, tip: int = GWEI, nonce: int | None = None, chain_id: int = CHAIN_ID) -> bytes:
        if nonce is None:
            nonce = self.nonces.get(acct.address, 0)
            self.nonces[acct.address] = nonce + 1
        tx = {"type": 2, "chainId": chain_id, "nonce": nonce, "maxFeePerGas": fee, "maxPriorityFeePerGas": tip,
              "gas": gas, "value": value, "data": data}
        if to is not None:
            tx["to"] = to
        return acct.sign_transaction(tx).raw_transaction

    def send(self, raw: bytes) -> str:
        return self.rpc("eth_sendRawTransaction", "0x" + raw.hex())

    def receipt(self, tx_hash: str, timeout: float = 20) -> dict:
        deadline = time.time() + timeout
        while time.time() < deadline:
            r = self.rpc("eth_getTransactionReceipt", tx_hash)
            if r is not None:
                return r
            time.sleep(0.05)
        raise AssertionError(f"{tx_hash} not mined in {timeout} s")

    def transact(self, acct, **kw) -> dict:
        return self.receipt(self.send(self.sign(acct, **kw)))


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    node = LedgerNode(tmp_path_factory.mktemp("rpc-node")).start()
    try:
        e = Env(node)
        e.genesis_validators = _validators(node.home / "genesis.json")
        e.user = e.account()
        e.deploy = e.transact(e.user, to=None, data=init_code(), gas=300_000)
        e.contract = e.deploy["contractAddress"]
        e.contract2 = e.transact(e.user, to=None, data=init_code(), gas=300_000)["contractAddress"]
        yield e
    finally:
        node.stop()


def _validators(genesis: Path) -> list[str]:
    extra = bytes.fromhex(json.loads(genesis.read_text())["extraData"][2:])
    body = extra[32:-65]
    return [to_checksum_address(body[i:i + 20]) for i in range(0, len(body), 20)]


def q(n: int) -> str:
    return hex(n)


BLOCK_KEYS = {"number", "hash", "parentHash", "nonce", "sha3Uncles", "logsBloom", "transactionsRoot", "stateRoot",
              "receiptsRoot", "miner", "difficulty", "totalDifficulty", "extraData", "size", "gasLimit", "gasUsed",
              "timestamp", "mixHash", "uncles", "transactions", "baseFeePerGas"}
TX_KEYS = {"hash", "nonce", "from", "to", "value", "gas", "input", "type", "blockHash", "blockNumber",
           "transactionIndex", "r", "s", "v", "yParity", "chainId", "accessList", "maxFeePerGas",
           "maxPriorityFeePerGas", "gasPrice"}
RECEIPT_KEYS = {"transactionHash", "transactionIndex", "blockHash", "blockNumber", "from", "to", "cumulativeGasUsed",
                "gasUsed", "effectiveGasPrice", "contractAddress", "logs", "logsBloom", "type", "status"}
LOG_KEYS = {"address", "topics", "data", "blockNumber", "blockHash", "transactionHash", "transactionIndex",
            "logIndex", "removed"}


def is_quantity(v) -> bool:
    return isinstance(v, str) and v.startswith("0x") and (v == "0x0" or (len(v) > 2 and v[2] != "0"))


def is_data(v, size: int | None = None) -> bool:
    if not (isinstance(v, str) and v.startswith("0x") and len(v) % 2 == 0):
        return False
    bytes.fromhex(v[2:])
    return size is None or len(v) == 2 + 2 * size


# --- chain facts ----------------------------------------------------------------------------

def test_chain_identity_methods(env):
    rpc = env.rpc
    assert rpc("eth_chainId") == "0xb14" and env.w3.eth.chain_id == CHAIN_ID
    assert rpc("net_version") == "2836"
    assert rpc("web3_clientVersion").startswith("CertLedger/v") and "py-evm" in rpc("web3_clientVersion")
    assert rpc("net_listening") is True and rpc("net_peerCount") == "0x0"
    assert rpc("eth_syncing") is False and rpc("eth_mining") is True and rpc("eth_accounts") == []
    n = rpc("eth_blockNumber")
    assert is_quantity(n) and int(n, 16) >= 3 and env.w3.eth.block_number >= int(n, 16)


def test_blocks_by_number_and_hash_full_and_hashes(env):
    rpc = env.rpc
    number = env.deploy["blockNumber"]
    b = rpc("eth_getBlockByNumber", number, False)
    assert set(b) == BLOCK_KEYS
    for k in ("number", "difficulty", "totalDifficulty", "size", "gasLimit", "gasUsed", "timestamp", "baseFeePerGas"):
        assert is_quantity(b[k]), k
    for k, n in (("hash", 32), ("parentHash", 32), ("nonce", 8), ("logsBloom", 256), ("stateRoot", 32), ("mixHash", 32)):
        assert is_data(b[k], n), k
    assert b["number"] == number and b["hash"] == env.deploy["blockHash"] and b["uncles"] == []
    assert b["difficulty"] in ("0x1", "0x2") and b["miner"] == "0x" + "00" * 20  # Clique: no vote -> zero coinbase
    assert len(bytes.fromhex(b["extraData"][2:])) == 32 + 65  # vanity + seal (no checkpoint)
    assert env.deploy["transactionHash"] in b["transactions"]
    assert rpc("eth_getBlockByHash", b["hash"], False) == b
    full = rpc("eth_getBlockByHash", b["hash"], True)
    assert [t["hash"] for t in full["transactions"]] == b["transactions"]
    assert {k: v for k, v in full.items() if k != "transactions"} == {k: v for k, v in b.items() if k != "transactions"}
    for i, t in enumerate(full["transactions"]):
        assert set(t) == TX_KEYS and t["blockHash"] == b["hash"] and t["transactionIndex"] == q(i)
        assert t == rpc("eth_getTransactionByHash", t["hash"])
    assert rpc("eth_getBlockByNumber", number, True) == full
    parent = rpc("eth_getBlockByHash", b["parentHash"], False)
    assert int(parent["number"], 16) == int(number, 16) - 1
    assert int(b["totalDifficulty"], 16) == int(parent["totalDifficulty"], 16) + int(b["difficulty"], 16)
    assert int(b["timestamp"], 16) >= int(parent["timestamp"], 16) + 1
    assert rpc("eth_getBlockTransactionCountByNumber", number) == q(len(b["transactions"]))
    # tags, genesis, unknown blocks
    genesis = rpc("eth_getBlockByNumber", "earliest", False)
    assert genesis["number"] == "0x0" and genesis["parentHash"] == "0x" + "00" * 32
    assert genesis == rpc("eth_getBlockByNumber", "0x0", False)
    assert int(rpc("eth_getBlockByNumber", "latest", False)["number"], 16) >= int(number, 16)
    assert rpc("eth_getBlockByNumber", "pending", False) is not None
    assert rpc("eth_getBlockByNumber", q(10**6), False) is None
    assert rpc("eth_getBlockByHash", "0x" + "ab" * 32, True) is None
    # web3 reads them (through the proof-of-authority middleware)
    w3b = env.w3.eth.get_block(int(number, 16), full_transactions=True)
    assert w3b["hash"].to_0x_hex() == b["hash"] and w3b["transactions"][0]["hash"].to_0x_hex() == b["transactions"][0]


def test_balance_at_tags_numbers_and_eip1898(env):
    rpc = env.rpc
    a = Account.create()
    before = rpc("eth_blockNumber")
    env.node.fund(env.w3, a.address, 12345)
    assert rpc("eth_getBalance", a.address) == q(12345) == rpc("eth_getBalance", a.address, "latest")
    assert rpc("eth_getBalance", a.address, "pending") == q(12345)
    assert rpc("eth_getBalance", a.address, "earliest") == "0x0"
    assert rpc("eth_getBalance", a.address, before) == "0x0"
    head = rpc("eth_getBlockByNumber", "latest", False)
    assert rpc("eth_getBalance", a.address, {"blockHash": head["hash"]}) == q(12345)
    assert rpc("eth_getBalance", a.address, {"blockNumber": before}) == "0x0"
    old = rpc("eth_getBlockByNumber", before, False)
    assert rpc("eth_getBalance", a.address, {"blockHash": old["hash"]}) == "0x0"
    assert env.w3.eth.get_balance(a.address, int(before, 16)) == 0 and env.w3.eth.get_balance(a.address) == 12345
    err = rpc.error("eth_getBalance", a.address, {"blockHash": "0x" + "cd" * 32})
    assert err["code"] == -32000 and "not found" in err["message"]
    assert rpc.error("eth_getBalance", a.address, q(10**6))["code"] == -32000
    assert rpc.error("eth_getBalance", a.address, "yesterday")["code"] == -32602


def test_pending_nonce_counts_pooled_transactions_before_they_are_sealed(env):
    rpc, acct = env.rpc, env.account()
    latest = int(rpc("eth_getTransactionCount", acct.address, "latest"), 16)
    assert latest == 0
    # Underpriced (max fee 1 wei, far below the base fee): kept in the pool, not sealed.
    low = [env.sign(acct, to=acct.address, fee=1, tip=1, gas=21000, nonce=n) for n in (0, 1)]
    hashes = [env.send(r) for r in low]
    assert rpc("eth_getTransactionCount", acct.address, "pending") == "0x2"
    assert rpc("eth_getTransactionCount", acct.address, "latest") == "0x0"
    assert rpc("eth_getTransactionCount", acct.address) == "0x0"
    assert env.w3.eth.get_transaction_count(acct.address, "pending") == 2
    pending = rpc("eth_getTransactionByHash", hashes[0])
    assert set(pending) == TX_KEYS
    assert pending["blockHash"] is None and pending["blockNumber"] is None and pending["transactionIndex"] is None
    assert pending["from"] == acct.address and pending["nonce"] == "0x0" and pending["gasPrice"] == "0x1"
    assert rpc("eth_getTransactionReceipt", hashes[0]) is None
    err = rpc.error("eth_sendRawTransaction", "0x" + low[0].hex())
    assert err["code"] == -32000 and err["message"] == "already known"
    # well-priced replacements (>= 10 % more on both fee fields) are sealed
    good = [env.sign(acct, to=acct.address, gas=21000, nonce=n) for n in (0, 1)]
    new = [env.send(r) for r in good]
    receipts = [env.receipt(h) for h in new]
    assert all(r["status"] == "0x1" for r in receipts)
    assert rpc("eth_getTransactionCount", acct.address, "latest") == "0x2"
    assert rpc("eth_getTransactionCount", acct.address, "pending") == "0x2"
    assert rpc("eth_getTransactionByHash", hashes[0]) is None  # replaced, never mined
    mined = rpc("eth_getTransactionByHash", new[0])
    assert mined["blockHash"] == receipts[0]["blockHash"] and mined["blockNumber"] == receipts[0]["blockNumber"]
    assert mined["transactionIndex"] == receipts[0]["transactionIndex"]
    # sent quickly at normal fees: "pending" counts both whether or not a block has sealed them yet
    env.nonces[acct.address] = 2
    out = rpc.batch([
        {"jsonrpc": "2.0", "id": 1, "method": "eth_sendRawTransaction",
         "params": ["0x" + env.sign(acct, to=acct.address, gas=21000).hex()]},
        {"jsonrpc": "2.0", "id": 2, "method": "eth_sendRawTransaction",
         "params": ["0x" + env.sign(acct, to=acct.address, gas=21000).hex()]},
        {"jsonrpc": "2.0", "id": 3, "method": "eth_getTransactionCount", "params": [acct.address, "pending"]},
    ])
    assert out[2]["result"] == "0x4"
    for r in out[:2]:
        env.receipt(r["result"])
    assert rpc("eth_getTransactionCount", acct.address, "latest") == "0x4"


def test_code_and_storage(env):
    rpc = env.rpc
    assert rpc("eth_getCode", env.contract) == "0x" + RUNTIME.hex()
    assert rpc("eth_getCode", env.contract, "earliest") == "0x"
    assert rpc("eth_getCode", env.user.address) == "0x"
    assert env.w3.eth.get_code(env.contract) == RUNTIME
    before = rpc("eth_blockNumber")
    r = env.transact(env.user, to=env.contract2, data=emit_data(0xBEEF))
    assert r["status"] == "0x1"
    slot0 = rpc("eth_getStorageAt", env.contract2, "0x0")
    assert is_data(slot0, 32) and int(slot0, 16) == 0xBEEF
    assert rpc("eth_getStorageAt", env.contract2, "0x0", before) == "0x" + "00" * 32
    assert rpc("eth_getStorageAt", env.contract2, "0x0", {"blockHash": r["blockHash"]}) == slot0
    assert rpc("eth_getStorageAt", env.contract2, "0x1") == "0x" + "00" * 32
    assert rpc.error("eth_getStorageAt", env.contract2, "zero")["code"] == -32602


def test_eth_call_returns_output_and_reverts_with_code_3(env):
    rpc, w3 = env.rpc, env.w3
    env.transact(env.user, to=env.contract, data=emit_data(42))
    assert int(rpc("eth_call", {"to": env.contract, "data": "0x00"}), 16) == 42
    assert int(rpc("eth_call", {"to": env.contract, "input": "0x00"}, "latest"), 16) == 42
    err = rpc.error("eth_call", {"to": env.contract, "data": "0x01", "from": env.user.address})
    assert err["code"] == 3
    assert err["message"] == f"execution reverted: {REASON}"
    assert err["data"] == "0x" + ERROR_STRING.hex()
    data = bytes.fromhex(err["data"][2:])
    assert data[:4] == keccak(text="Error(string)")[:4] and abi_decode(["string"], data[4:])[0] == REASON
    from web3.exceptions import ContractLogicError

    with pytest.raises(ContractLogicError) as info:
        w3.eth.call({"to": env.contract, "data": "0x01"})
    assert REASON in str(info.value)
    # a call to an account without code: empty output; a value transfer from a rich sender
    assert rpc("eth_call", {"to": "0x" + "42" * 20}) == "0x"
    assert rpc("eth_call", {"from": env.user.address, "to": "0x" + "42" * 20, "value": "0x1"}) == "0x"
    assert rpc.error("eth_call", "not an object")["code"] == -32602
    assert rpc.error("eth_call", {"to": "0x1234"})["code"] == -32602


def test_eth_call_at_genesis_is_empty(env):
    assert env.rpc("eth_call", {"to": env.contract, "data": "0x00"}, "earliest") == "0x"


def test_estimate_gas_is_enough_and_reverts_with_code_3(env):
    rpc = env.rpc
    assert rpc("eth_estimateGas", {"from": env.user.address, "to": "0x" + "42" * 20, "value": "0x1"}) == q(21000)
    call = {"from": env.user.address, "to": env.contract2, "data": "0x" + emit_data(7, two=True).hex()}
    est = int(rpc("eth_estimateGas", call), 16)
    assert env.w3.eth.estimate_gas(call) == est
    r = env.transact(env.user, to=env.contract2, data=emit_data(7, two=True), gas=est)
    assert r["status"] == "0x1" and int(r["gasUsed"], 16) <= est
    err = rpc.error("eth_estimateGas", {"from": env.user.address, "to": env.contract, "data": "0x01"})
    assert err["code"] == 3 and err["message"] == f"execution reverted: {REASON}"
    assert err["data"] == "0x" + ERROR_STRING.hex()
    deploy = int(rpc("eth_estimateGas", {"from": env.user.address, "data": "0x" + init_code().hex()}), 16)
    assert deploy >= int(env.deploy["gasUsed"], 16)


def test_fee_methods(env):
    rpc = env.rpc
    head = rpc("eth_getBlockByNumber", "latest", False)
    hist = rpc("eth_feeHistory", "0x3", "latest", [10, 50, 90])
    assert set(hist) == {"oldestBlock", "baseFeePerGas", "gasUsedRatio", "reward"}
    assert int(hist["oldestBlock"], 16) == int(head["number"], 16) - 2
    assert len(hist["baseFeePerGas"]) == 4 and len(hist["gasUsedRatio"]) == 3 and len(hist["reward"]) == 3
    assert hist["baseFeePerGas"][-2] == head["baseFeePerGas"]
    assert all(isinstance(x, float) and 0 <= x <= 1 for x in hist["gasUsedRatio"])
    assert all(len(row) == 3 and all(is_quantity(v) for v in row) for row in hist["reward"])
    next_base = int(hist["baseFeePerGas"][-1], 16)
    assert rpc("eth_gasPrice") == q(next_base + GWEI)
    assert rpc("eth_maxPriorityFeePerGas") == q(GWEI)
    assert env.w3.eth.max_priority_fee == GWEI
    # the reward of a block with our transaction: the tip it paid (1 gwei, under fee - base)
    r = env.transact(env.user, to=env.user.address, gas=21000)
    one = rpc("eth_feeHistory", 1, r["blockNumber"], [0, 100])
    assert one["oldestBlock"] == r["blockNumber"] and one["reward"] == [[q(GWEI), q(GWEI)]]
    assert "reward" not in rpc("eth_feeHistory", "0x2", "latest")
    w = env.w3.eth.fee_history(2, "latest", [25, 75])
    assert len(w["reward"]) == 2 and len(w["baseFeePerGas"]) == 3
    assert rpc.error("eth_feeHistory", "0x2", "latest", [90, 10])["code"] == -32602
    assert rpc.error("eth_feeHistory", "0x2", "latest", [101])["code"] == -32602
    assert rpc.error("eth_feeHistory")["code"] == -32602


def test_send_raw_transaction_refusals(env):
    rpc, acct = env.rpc, env.user
    nonce = int(rpc("eth_getTransactionCount", acct.address, "latest"), 16)
    assert nonce > 0
    err = rpc.error("eth_sendRawTransaction", "0x" + env.sign(acct, to=acct.address, nonce=0, gas=21000).hex())
    assert err["code"] == -32000 and err["message"].startswith("nonce too low")
    err = rpc.error("eth_sendRawTransaction", "0x" + env.sign(acct, to=acct.address, nonce=nonce, chain_id=1).hex())
    assert err["code"] == -32000 and err["message"].startswith("invalid chain id for signer: have 1 want 2836")
    err = rpc.error("eth_sendRawTransaction", "0xdeadbeef")
    assert err["code"] == -32000 and "invalid transaction encoding" in err["message"]
    err = rpc.error("eth_sendRawTransaction", "0x05aabb")
    assert err["code"] == -32000 and err["message"] == "transaction type not supported"
    assert rpc.error("eth_sendRawTransaction", "0xzz")["code"] == -32602
    assert rpc.error("eth_sendRawTransaction", "deadbeef")["code"] == -32602
    assert rpc.error("eth_sendRawTransaction")["code"] == -32602
    poor = Account.create()
    err = rpc.error("eth_sendRawTransaction", "0x" + env.sign(poor, to=acct.address, gas=21000, nonce=0).hex())
    assert err["code"] == -32000 and err["message"].startswith("insufficient funds for gas * price + value")
    err = rpc.error("eth_sendRawTransaction", "0x" + env.sign(acct, to=acct.address, gas=20000, nonce=nonce).hex())
    assert err["code"] == -32000 and err["message"].startswith("intrinsic gas too low")
    legacy = acct.sign_transaction({"nonce": nonce, "gasPrice": 3 * GWEI, "gas": 21000, "to": acct.address,
                                    "value": 0}).raw_transaction
    err = rpc.error("eth_sendRawTransaction", "0x" + legacy.hex())
    assert err["code"] == -32000 and "replay-protected" in err["message"]
    from web3.exceptions import Web3RPCError

    with pytest.raises(Web3RPCError, match="nonce too low"):
        env.w3.eth.send_raw_transaction(env.sign(acct, to=acct.address, nonce=0, gas=21000))
    # a legacy EIP-155 transaction and an EIP-2930 one are taken
    leg = acct.sign_transaction({"nonce": nonce, "gasPrice": 3 * GWEI, "gas": 21000, "to": acct.address,
                                 "value": 0, "chainId": CHAIN_ID}).raw_transaction
    al = acct.sign_transaction({"type": 1, "nonce": nonce + 1, "gasPrice": 3 * GWEI, "gas": 30000, "to": env.contract,
                                "value": 0, "chainId": CHAIN_ID, "data": b"\0",
                                "accessList": [{"address": env.contract, "storageKeys": ["0x" + "00" * 32]}]}).raw_transaction
    h1, h2 = env.send(leg), env.send(al)
    r1, r2 = env.receipt(h1), env.receipt(h2)
    assert (r1["type"], r2["type"], r1["status"], r2["status"]) == ("0x0", "0x1", "0x1", "0x1")
    t1, t2 = rpc("eth_getTransactionByHash", h1), rpc("eth_getTransactionByHash", h2)
    assert t1["gasPrice"] == q(3 * GWEI) and t1["chainId"] == q(CHAIN_ID) and int(t1["v"], 16) in (CHAIN_ID * 2 + 35, CHAIN_ID * 2 + 36)
    assert "maxFeePerGas" not in t1 and "accessList" not in t1
    assert t2["accessList"] == [{"address": env.contract, "storageKeys": ["0x" + "00" * 32]}] and t2["yParity"] == t2["v"]
    assert r1["effectiveGasPrice"] == q(3 * GWEI)
    env.nonces[acct.address] = nonce + 2


def test_receipts_status_contract_address_and_log_indexes_in_one_block(env):
    rpc, acct = env.rpc, env.account()
    # deployment: contractAddress, to null
    d = env.deploy
    assert set(d) == RECEIPT_KEYS and d["to"] is None and d["status"] == "0x1"
    assert d["contractAddress"] == to_checksum_address(env.contract) and d["logs"] == []
    assert rpc("eth_getTransactionReceipt", "0x" + "ee" * 32) is None
    assert rpc.error("eth_getTransactionReceipt", "0x1234")["code"] == -32602
    # a reverted transaction is mined with status 0
    failed = env.transact(acct, to=env.contract, data=REVERT_DATA, gas=60_000)
    assert failed["status"] == "0x0" and failed["logs"] == [] and failed["contractAddress"] is None
    assert 21000 < int(failed["gasUsed"], 16) < 60_000
    assert env.w3.eth.get_transaction_receipt(failed["transactionHash"])["status"] == 0
    # three transactions in one block: the first held back by an underpriced nonce 1, then replaced
    n = env.nonces[acct.address]
    held = env.send(env.sign(acct, to=env.contract, data=emit_data(1), fee=1, tip=1, nonce=n))
    h2 = env.send(env.sign(acct, to=env.contract, data=emit_data(2, two=True), nonce=n + 1))
    h3 = env.send(env.sign(acct, to=env.contract2, data=emit_data(3), nonce=n + 2))
    assert rpc("eth_getTransactionReceipt", h2) is None
    h1 = env.send(env.sign(acct, to=env.contract, data=emit_data(1), nonce=n))
    env.nonces[acct.address] = n + 3
    rs = [env.receipt(h) for h in (h1, h2, h3)]
    assert rpc("eth_getTransactionByHash", held) is None
    assert len({r["blockHash"] for r in rs}) == 1
    assert [r["transactionIndex"] for r in rs] == ["0x0", "0x1", "0x2"]
    assert [[lg["logIndex"] for lg in r["logs"]] for r in rs] == [["0x0"], ["0x1", "0x2"], ["0x3"]]
    assert [[lg["topics"][0] for lg in r["logs"]] for r in rs] == [
        ["0x" + TOPIC_A.hex()], ["0x" + TOPIC_B.hex(), "0x" + TOPIC_A.hex()], ["0x" + TOPIC_A.hex()]]
    gas = [int(r["gasUsed"], 16) for r in rs]
    assert [int(r["cumulativeGasUsed"], 16) for r in rs] == [gas[0], gas[0] + gas[1], sum(gas)]
    block = rpc("eth_getBlockByHash", rs[0]["blockHash"], False)
    assert int(block["gasUsed"], 16) == sum(gas) and block["transactions"] == [h1, h2, h3]
    for r in rs:
        for lg in r["logs"]:
            assert set(lg) == LOG_KEYS and lg["removed"] is False and lg["transactionHash"] == r["transactionHash"]
            assert lg["blockHash"] == r["blockHash"] and lg["transactionIndex"] == r["transactionIndex"]
        assert r["effectiveGasPrice"] == q(int(block["baseFeePerGas"], 16) + GWEI)
        assert r["from"] == acct.address and is_data(r["logsBloom"], 256)
    assert rs[2]["logs"][0]["address"] == to_checksum_address(env.contract2)
    assert rs[1]["logs"][0]["data"] == "0x" + (2).to_bytes(32, "big").hex()
    assert rpc("eth_getLogs", {"blockHash": rs[0]["blockHash"]}) == [lg for r in rs for lg in r["logs"]]
    w3r = env.w3.eth.get_transaction_receipt(h2)
    assert [lg["logIndex"] for lg in w3r["logs"]] == [1, 2]
    env.one_block = rs


def test_get_logs_filters(env):
    rpc = env.rpc
    if not hasattr(env, "one_block"):
        test_receipts_status_contract_address_and_log_indexes_in_one_block(env)
    rs = env.one_block
    block = rs[0]["blockNumber"]
    all_logs = [lg for r in rs for lg in r["logs"]]
    c1, c2 = to_checksum_address(env.contract), to_checksum_address(env.contract2)
    a, b = "0x" + TOPIC_A.hex(), "0x" + TOPIC_B.hex()
    rng = {"fromBlock": block, "toBlock": block}
    assert rpc("eth_getLogs", {**rng, "address": c1}) == [lg for lg in all_logs if lg["address"] == c1]
    assert rpc("eth_getLogs", {**rng, "address": [c1, c2]}) == all_logs
    assert rpc("eth_getLogs", {**rng, "address": c2.lower()}) == [all_logs[3]]
    assert rpc("eth_getLogs", {**rng, "topics": [a]}) == [lg for lg in all_logs if lg["topics"][0] == a]
    assert rpc("eth_getLogs", {**rng, "topics": [b]}) == [all_logs[1]]
    assert rpc("eth_getLogs", {**rng, "topics": [[a, b]]}) == all_logs
    assert rpc("eth_getLogs", {**rng, "topics": [[b, "0x" + "77" * 32]]}) == [all_logs[1]]
    assert rpc("eth_getLogs", {**rng, "topics": [None, "0x" + (2).to_bytes(32, "big").hex()]}) == all_logs[1:3]
    assert rpc("eth_getLogs", {**rng, "topics": [[], "0x" + (3).to_bytes(32, "big").hex()]}) == [all_logs[3]]
    assert rpc("eth_getLogs", {**rng, "address": c1, "topics": [b]}) == [all_logs[1]]
    assert rpc("eth_getLogs", {**rng, "topics": [a, None, None]}) == []  # more topics than the logs have
    assert rpc("eth_getLogs", {**rng, "address": "0x" + "99" * 20}) == []
    assert rpc("eth_getLogs", {"fromBlock": "earliest", "address": "0x" + "99" * 20}) == []
    # whole chain by address: this block's logs plus those of earlier tests, ascending
    every = rpc("eth_getLogs", {"fromBlock": "0x0", "toBlock": "latest", "address": c1})
    assert all(lg["address"] == c1 for lg in every) and [lg for lg in every if lg["blockNumber"] == block] == all_logs[:3]
    keys = [(int(lg["blockNumber"], 16), int(lg["logIndex"], 16)) for lg in every]
    assert keys == sorted(keys) and len(set(keys)) == len(keys)
    assert rpc("eth_getLogs", {"fromBlock": block, "address": c1})[:3] == all_logs[:3]
    assert rpc("eth_getLogs", {"blockHash": rs[0]["blockHash"], "address": c2}) == [all_logs[3]]
    # web3's filter shapes
    w = env.w3.eth.get_logs({"fromBlock": int(block, 16), "toBlock": int(block, 16), "topics": [TOPIC_B]})
    assert len(w) == 1 and w[0]["logIndex"] == 1
    # errors
    err = rpc.error("eth_getLogs", {"fromBlock": block, "toBlock": q(int(block, 16) - 1)})
    assert err["code"] in (-32602, -32000) and "range" in err["message"]
    assert rpc.error("eth_getLogs", {"blockHash": rs[0]["blockHash"], "fromBlock": block})["code"] == -32602
    assert rpc.error("eth_getLogs", {"blockHash": "0x" + "12" * 32})["code"] == -32000
    assert rpc.error("eth_getLogs", {"topics": [a, a, a, a, a]})["code"] == -32602
    assert rpc.error("eth_getLogs", {"topics": ["0x12"]})["code"] == -32602
    assert rpc.error("eth_getLogs", {"address": "0x12"})["code"] == -32602
    assert rpc.error("eth_getLogs", "latest")["code"] == -32602


# --- protocol -------------------------------------------------------------------------------

def test_batch_requests(env):
    rpc = env.rpc
    out = rpc.batch([
        {"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []},
        {"jsonrpc": "2.0", "id": "two", "method": "no_suchMethod", "params": []},
        {"jsonrpc": "2.0", "id": 3, "method": "eth_getBalance", "params": ["0x12"]},
        {"id": 4, "method": "eth_chainId"},  # no "jsonrpc": "2.0"
        17,
        {"jsonrpc": "2.0", "method": "eth_chainId", "params": []},  # a notification: no answer
        {"jsonrpc": "2.0", "id": 7, "method": "eth_call", "params": [{"to": env.contract, "data": "0x01"}]},
        {"jsonrpc": "2.0", "id": 8, "method": "net_version"},  # params may be left out
    ])
    assert isinstance(out, list) and len(out) == 7
    by_id = {r["id"]: r for r in out}
    assert by_id[1]["result"] == "0xb14"
    assert by_id["two"]["error"]["code"] == -32601
    assert by_id[3]["error"]["code"] == -32602
    assert by_id[4]["error"]["code"] == -32600
    assert [r for r in out if r["id"] is None][0]["error"]["code"] == -32600  # the 17
    assert by_id[7]["error"]["code"] == 3 and by_id[7]["error"]["data"] == "0x" + ERROR_STRING.hex()
    assert by_id[8]["result"] == "2836"
    assert [r["id"] for r in out] == [1, "two", 3, 4, None, 7, 8]  # in request order
    empty = rpc.post("[]").json()
    assert isinstance(empty, dict) and empty["error"]["code"] == -32600 and empty["id"] is None
    too_many = rpc.post([{"jsonrpc": "2.0", "id": i, "method": "eth_chainId"} for i in range(1001)]).json()
    assert too_many["error"]["code"] == -32600
    # web3's own batch
    with env.w3.batch_requests() as batch:
        batch.add(env.w3.eth.get_block(0))
        batch.add(env.w3.eth.get_balance(env.user.address))
        genesis, balance = batch.execute()
    assert genesis["number"] == 0 and balance > 0


def test_protocol_errors(env):
    rpc = env.rpc
    for body in ("{", "not json", b"\xff\xfe", '{"jsonrpc": "2.0", "id": 1, "method": "eth_chainId"'):
        r = rpc.post(body)
        assert r.status_code == 200
        assert r.json() == {"jsonrpc": "2.0", "id": None, "error": {"code": -32700, "message": "parse error"}}
    err = rpc.error("eth_noSuchThing")
    assert err["code"] == -32601 and "eth_noSuchThing" in err["message"]
    assert rpc.error("debug_traceTransaction", "0x" + "00" * 32)["code"] == -32601
    # wrong params
    assert rpc.error("eth_getBalance")["code"] == -32602
    assert rpc.error("eth_getBalance", "0x1234")["code"] == -32602
    assert rpc.error("eth_getBalance", env.user.address, "0xnothex")["code"] == -32602
    assert rpc.error("eth_getBalance", env.user.address, {"blockHash": "0x12"})["code"] == -32602
    assert rpc.error("eth_getBalance", env.user.address, {"blockHash": 12})["code"] == -32602
    assert rpc.error("eth_getBalance", env.user.address, 12)["code"] == -32602
    assert rpc.error("eth_getTransactionByHash", "0x12")["code"] == -32602
    assert rpc.error("eth_getBlockByHash", 12)["code"] == -32602
    assert rpc.error("eth_getStorageAt", env.contract)["code"] == -32602
    r = rpc.post({"jsonrpc": "2.0", "id": 5, "method": "eth_getBalance", "params": {"address": env.user.address}}).json()
    assert r["id"] == 5 and r["error"]["code"] == -32602
    for bad in ({"id": 6, "method": "eth_chainId"}, {"jsonrpc": "1.0", "id": 6, "method": "eth_chainId"},
                {"jsonrpc": "2.0", "id": 6, "method": 12}, "eth_chainId", 5, None):
        r = rpc.post(json.dumps(bad)).json()
        assert r["error"]["code"] == -32600, bad
    assert rpc.http.get(env.node.url, timeout=10).status_code == 405


def test_notifications_get_no_answer_but_are_run(env):
    rpc, acct = env.rpc, env.account()
    raw = env.sign(acct, to=acct.address, gas=21000)
    r = rpc.post({"jsonrpc": "2.0", "method": "eth_sendRawTransaction", "params": ["0x" + raw.hex()]})
    assert r.status_code == 204 and r.text == ""  # nothing to answer, as anvil does
    bad = rpc.post({"jsonrpc": "2.0", "method": "eth_getBalance", "params": ["not an address"]})
    assert bad.status_code == 204 and bad.text == ""  # not even an error (JSON-RPC 2.0, 4.1)
    from eth_utils import keccak as k

    env.receipt("0x" + k(raw).hex())
    out = rpc.batch([{"jsonrpc": "2.0", "method": "eth_chainId"},
                     {"jsonrpc": "2.0", "id": 9, "method": "eth_chainId"}])
    assert out == [{"jsonrpc": "2.0", "id": 9, "result": "0xb14"}]


def test_clique_and_peer_methods(env):
    rpc = env.rpc
    signers = rpc("clique_getSigners")
    assert signers == env.genesis_validators and len(signers) == 1
    assert rpc("clique_getSigners", "earliest") == signers
    head = rpc("eth_getBlockByNumber", "latest", False)
    assert rpc("clique_getSignersAtHash", head["hash"]) == signers
    assert rpc.error("clique_getSignersAtHash", "0x" + "34" * 32)["code"] == -32000
    # propose and discard in one request: no transaction is pending, so no block can carry the vote
    who = "0x" + "56" * 20
    out = rpc.batch([
        {"jsonrpc": "2.0", "id": 1, "method": "clique_propose", "params": [who, True]},
        {"jsonrpc": "2.0", "id": 2, "method": "clique_proposals", "params": []},
        {"jsonrpc": "2.0", "id": 3, "method": "clique_discard", "params": [who]},
        {"jsonrpc": "2.0", "id": 4, "method": "clique_proposals", "params": []},
        {"jsonrpc": "2.0", "id": 5, "method": "clique_propose", "params": [who, "yes"]},
    ])
    assert out[0]["result"] is None and out[1]["result"] == {to_checksum_address(who): True}
    assert out[2]["result"] is None and out[3]["result"] == {} and out[4]["error"]["code"] == -32602
    # between nodes
    h = rpc("certledger_head")
    assert set(h) == {"number", "hash", "totalDifficulty"} and int(h["number"], 16) >= int(head["number"], 16)
    blocks = rpc("certledger_getBlocks", "0x1", "0x2")
    assert len(blocks) == 2 and all(is_data(b) for b in blocks)
    assert rpc("certledger_importBlock", blocks[0], "0x1") == "known"
    assert rpc.error("certledger_importBlock", "0x1234", "0x1")["code"] == -32602
    assert rpc("certledger_getBlocks", q(10**6)) == []
    assert rpc("certledger_relayTransactions", []) == 0
    assert rpc("certledger_relayTransactions", ["0xdeadbeef"]) == 0


# Valid parameters for every method the node serves; a new method without an entry fails below.
def _samples(env) -> dict[str, list]:
    zero = "0x" + "00" * 20
    return {
        "eth_chainId": [], "net_version": [], "web3_clientVersion": [], "net_listening": [], "net_peerCount": [],
        "eth_syncing": [], "eth_mining": [], "eth_accounts": [], "eth_blockNumber": [], "eth_gasPrice": [],
        "eth_maxPriorityFeePerGas": [], "eth_feeHistory": ["0x2", "latest", [50]],
        "eth_getBalance": [zero, "latest"], "eth_getTransactionCount": [zero, "pending"],
        "eth_getCode": [env.contract, "latest"], "eth_getStorageAt": [env.contract, "0x0", "latest"],
        "eth_call": [{"to": env.contract, "data": "0x00"}, "latest"],
        "eth_estimateGas": [{"from": zero, "to": zero}],
        "eth_sendRawTransaction": ["0x" + env.sign(env.account(), to=zero, gas=21000).hex()],
        "eth_getTransactionByHash": [env.deploy["transactionHash"]],
        "eth_getTransactionReceipt": [env.deploy["transactionHash"]],
        "eth_getBlockByNumber": ["latest", False], "eth_getBlockByHash": [env.deploy["blockHash"], True],
        "eth_getBlockTransactionCountByNumber": ["latest"],
        "eth_getLogs": [{"fromBlock": "0x0", "address": env.contract}],
        "clique_getSigners": [], "clique_getSignersAtHash": [env.deploy["blockHash"]],
        "clique_propose": None, "clique_discard": [zero], "clique_proposals": [],  # propose: see the clique test
        "certledger_head": [], "certledger_getBlocks": ["0x0", "0x1"],
        "certledger_importBlock": None,  # needs a block: see the clique test
        "certledger_relayTransactions": [[]],
    }


def test_every_method_answers(env):
    samples = _samples(env)
    missing = sorted(set(METHODS) - set(samples))
    assert not missing, f"methods without a sample call here: {missing}"
    for name in sorted(METHODS):
        if samples[name] is None:
            continue
        out = env.rpc.raw(name, *samples[name])
        assert "result" in out, f"{name}: {out.get('error')}"
        if name == "eth_sendRawTransaction":
            env.receipt(out["result"])  # leave nothing pending for the tests after this one


# --- in process: a node.service.Node in a temporary directory ------------------------------

def _in_process_node(tmp_path, *funded):
    from eth_keys import keys as ek

    from node import genesis as G
    from node.cli import _template
    from node.config import NodeConfig
    from node.service import Node

    key = ek.PrivateKey(os.urandom(32))
    genesis = G.parse(G.render(_template(), [key.public_key.to_canonical_address()],
                               {bytes.fromhex(a.address[2:]): 10**24 for a in funded}))
    return Node(NodeConfig(home=tmp_path, empty_blocks=True, allowlist_enabled=False), genesis, key)


def test_get_logs_loads_only_indexed_blocks(tmp_path):
    from node import logindex

    user = Account.create()
    node = _in_process_node(tmp_path, user)
    try:
        me = bytes.fromhex(user.address[2:])
        nonce = 0

        def send(to, data):
            nonlocal nonce
            tx = {"type": 2, "chainId": CHAIN_ID, "nonce": nonce, "maxFeePerGas": 10 * GWEI,
                  "maxPriorityFeePerGas": GWEI, "gas": 300_000, "data": data, "value": 0}
            if to is not None:
                tx["to"] = to
            node.send_raw(user.sign_transaction(tx).raw_transaction, relay=False)
            nonce += 1

        from eth._utils.address import generate_contract_address

        quiet, busy = (generate_contract_address(me, n) for n in (0, 1))
        send(None, init_code())
        send(None, init_code())
        ts = 1_000
        assert len(node.seal_next(ts).block.transactions) == 2
        n_blocks, quiet_at = 120, {30, 95}
        for i in range(2, n_blocks + 1):
            if i in quiet_at:
                send(quiet, emit_data(i, two=(i == 95)))
            elif i % 3 == 0:
                send(busy, emit_data(i))
            ts += 1
            node.seal_next(ts)
        assert node.head().block_number == n_blocks
        loaded: list[int] = []

        def load(block_hash):
            header, txs, receipts, _ = node.load_block(block_hash)
            loaded.append(header.block_number)
            return header, txs, receipts

        def query(addresses, topics, start=1, stop=n_blocks):
            loaded.clear()
            return logindex.query(node.db.raw, node.canonical_hash, load, start, stop, addresses, topics)

        found = query({quiet}, [])
        assert sorted(set(loaded)) == sorted(quiet_at) and len(loaded) == 2
        assert [(h.block_number, e.topics[0].to_bytes(32, "big")) for h, _, _, _, e in found] == [
            (30, TOPIC_A), (95, TOPIC_B), (95, TOPIC_A)]
        # topic B only in block 95 (the two-log call): one block read
        assert len(query(None, [{TOPIC_B}])) == 1 and loaded == [95]
        # an indexed second topic (the value logged) finds its block
        assert len(query(None, [None, {(30).to_bytes(32, "big")}])) == 1 and loaded == [30]
        # a range that misses the address's blocks reads nothing
        assert query({quiet}, [], 31, 94) == [] and loaded == []
        # busy address: every third block, and only those
        found = query({busy}, [])
        assert loaded == [i for i in range(3, n_blocks + 1, 3) if i not in quiet_at]
        assert len(found) == len(loaded)
        # without address or topic only the blocks that have logs are read, and the range is bounded
        assert len(query(None, [], 1, 10)) == 3 and loaded == [3, 6, 9]
        assert len(query(None, [], 1, 40)) == 13 and loaded == [3, 6, 9, 12, 15, 18, 21, 24, 27, 30, 33, 36, 39]
        with pytest.raises(ValueError, match="limit"):
            logindex.query(node.db.raw, node.canonical_hash, load, 0, n_blocks, None, [], max_range=50)
        # the node's own entry point agrees with a full scan of every block
        scan = []
        for n in range(0, n_blocks + 1):
            _, _, receipts, _ = node.load_block(node.canonical_hash(n))
            entries = [e for r in receipts for e in r.logs]
            scan += [(n, i) for i, e in enumerate(entries) if e.address == busy]
        got = node.logs(0, n_blocks, {busy}, [])
        assert [(h.block_number, li) for h, _, _, li, _ in got] == scan and len(scan) == len(found) == 39
    finally:
        node.close()


def test_one_receipt_equals_its_entry_in_the_whole_block(tmp_path):
    """eth_getTransactionReceipt formats only the receipt asked for; it must match the block's list."""
    from eth._utils.address import generate_contract_address

    from node.rpc import formats as F
    from node.rpc import methods as M

    users = [Account.create() for _ in range(3)]
    node = _in_process_node(tmp_path, *users)
    try:
        def raw(u, nonce, **kw):
            tx = {"type": 2, "chainId": CHAIN_ID, "nonce": nonce, "maxFeePerGas": 10 * GWEI,
                  "maxPriorityFeePerGas": GWEI, "gas": 300_000, "value": 0, **kw}
            return u.sign_transaction(tx).raw_transaction

        node.send_raw(raw(users[0], 0, data=init_code()), relay=False)
        node.seal_next(1000)
        c = to_checksum_address(generate_contract_address(bytes.fromhex(users[0].address[2:]), 0))
        hashes = []
        for n in range(4):
            for i, u in enumerate(users):
                kind = (n + i) % 3
                kw = {"to": c, "data": emit_data(n, two=True)} if kind == 0 else \
                     {"to": c, "data": REVERT_DATA} if kind == 1 else {"to": users[0].address, "gas": 21000}
                hashes.append(node.send_raw(raw(u, n + (1 if i == 0 else 0), **kw), relay=False))
        block = node.seal_next(1001).block
        assert len(block.transactions) == 12
        header, txs, receipts, _ = node.load_block(block.hash)
        whole = F.receipts(header, txs, receipts)
        for tx in txs:
            one = M.eth_getTransactionReceipt(node, ["0x" + tx.hash.hex()])
            assert one == whole[int(one["transactionIndex"], 16)]
        assert sum(len(r["logs"]) for r in whole) == 8
        assert [lg["logIndex"] for r in whole for lg in r["logs"]] == [q(i) for i in range(8)]
        assert {r["status"] for r in whole} == {"0x0", "0x1"}
    finally:
        node.close()


def test_malformed_parameters_never_cause_an_internal_error(tmp_path):
    """Every method, in process, with odd values in each position: a -32602/-32000/3 answer or a
    result, never -32603 (the node's own bug)."""
    import itertools
    import logging

    from node.rpc.server import handle

    user = Account.create()
    node = _in_process_node(tmp_path, user)
    a = user.address
    odd = [None, True, 0, -1, 1.5, "", "0x", "0x0", "0x-1", "0xzz", "latest", "pending", "earliest", a,
           "0x" + "11" * 32, "0x" + "11" * 31, "0x" + "ff" * 40, 10**80, [], [None], [a], [10, 50], [50, "x"], {},
           {"to": a}, {"blockHash": "0x" + "11" * 32}, {"blockHash": None}, {"blockHash": 5}, {"blockNumber": "zz"},
           {"fromBlock": "0x2", "toBlock": "0x1"}, {"fromBlock": "0x0", "toBlock": "0x99"}, {"address": [None]},
           {"topics": [[None]]}, {"topics": "x"}, {"to": a, "gas": "0x" + "f" * 20}, {"to": a, "value": "0x" + "f" * 70},
           {"from": a, "value": hex(10**30), "to": a}, {"to": a, "gas": "0x1"}, {"data": "0x60"}, {"to": a, "data": "0xz"},
           {"to": a, "value": -5}]
    try:
        for t in range(1, 4):
            node.seal_next(1000 + t)
        logging.disable(logging.ERROR)
        internal = []
        for name in sorted(METHODS):
            if name == "clique_propose":  # a valid call would vote; its checks are in the clique test
                continue
            grids = [[()], [(v,) for v in odd], itertools.product(odd, odd[:16]),
                     [(x, y, z) for x in odd[:16] for y in odd[:12] for z in odd[:12]]]
            for params in itertools.chain.from_iterable(grids):
                body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": name, "params": list(params)}).encode()
                out = handle(node, body)
                if "error" in out and out["error"]["code"] == -32603:
                    internal.append((name, params))
        assert not internal, internal[:20]
        assert node.proposals == {}
    finally:
        logging.disable(logging.NOTSET)
        node.close()
