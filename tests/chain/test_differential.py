"""One contract scenario on anvil and on our node in the same test, compared step by step.

Both run london, so every receipt's gasUsed must be equal; the same keys and nonces give the same
contract addresses; events decode to the same names and arguments; views return the same values;
failing calls revert with the same error data (custom errors and an Error(string)). Block numbers
legitimately differ (the ledger node's faucet transfers take blocks, anvil's funding does not), so
values that are block numbers are compared as "the block of step X".
"""

from __future__ import annotations

import hashlib
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests
from eth_abi import decode as abi_decode
from eth_account import Account
from web3 import Web3

from chain_client.artifacts import load
from chain_client.connection import connect
from chain_client.contracts import contract, deploy_all, type_code_id
from chain_client.devnode import AnvilNode, LedgerNode
from chain_client.transactions import Sender
from ledger.merkle import build
from tests.node.test_rpc import ERROR_STRING, REASON, init_code

T1, T2 = type_code_id("11100000000013338W032"), type_code_id("11100000000013338W099")
ANNUAL, LOSS, REVOKE, CHANGE = 3, 1, 2, 4
ZERO32 = b"\0" * 32
GWEI = 10**9


def digests(tag: str, n: int) -> list[bytes]:
    """The same certificate digests on both chains."""
    return [hashlib.sha256(f"{tag}/{i}".encode()).digest() for i in range(n)]


def _error_names() -> dict[bytes, tuple[str, list[str]]]:
    out = {}
    for name in ("IssuerRegistry", "CertificateLedger"):
        for item in load(name)["abi"]:
            if item["type"] == "error":
                types = [i["type"] for i in item["inputs"]]
                out[Web3.keccak(text=f"{item['name']}({','.join(types)})")[:4]] = (item["name"], types)
    return out


ERRORS = _error_names()


def decode_error(data_hex: str):
    """(name, args) of revert data: a custom error of our ABIs, Error(string), or the raw bytes."""
    data = bytes.fromhex(data_hex[2:])
    if data[:4] == ERROR_STRING[:4]:
        return ("Error", abi_decode(["string"], data[4:])[0])
    if data[:4] in ERRORS:
        name, types = ERRORS[data[:4]]
        return (name, tuple(abi_decode(types, data[4:])))
    return ("raw", data)


@dataclass
class Trace:
    steps: dict[str, dict] = field(default_factory=dict)      # label -> normalised receipt
    views: dict[str, object] = field(default_factory=dict)
    errors: dict[str, dict] = field(default_factory=dict)     # label -> {call, estimate}
    logs: list = field(default_factory=list)                  # eth_getLogs of the ledger, decoded
    estimates: dict[str, int] = field(default_factory=dict)
    block_of: dict[int, str] = field(default_factory=dict)    # block number -> step label


class Scenario:
    def __init__(self, node, accounts: dict) -> None:
        self.node, self.acct = node, accounts
        self.w3 = connect(node.url)
        self.http = requests.Session()
        self.trace = Trace()
        for a in accounts.values():
            node.fund(self.w3, a.address, 10**21)
        self.send = {name: Sender(self.w3, a) for name, a in accounts.items()}

    # --- recording ---------------------------------------------------------------------------
    def _events(self):
        evs = {}
        for c in (self.registry, self.ledger):
            for ev in c.events:
                evs[ev.topic] = (c, ev)
        return evs

    def _decode_log(self, log) -> tuple:
        topic0 = "0x" + bytes(log["topics"][0]).hex()
        c, ev = self._events()[topic0]
        d = ev.process_log(log)
        args = {k: (self._block(v) if k == "prevBlock" else v) for k, v in d["args"].items()}
        return (d["address"], d["event"], args, d["logIndex"])

    def _block(self, number: int):
        return ("block of", self.trace.block_of.get(number, number)) if number else 0

    def record(self, label: str, receipt) -> None:
        self.trace.block_of[receipt["blockNumber"]] = label
        self.trace.steps[label] = {
            "status": receipt["status"], "gasUsed": receipt["gasUsed"], "from": receipt["from"],
            "to": receipt["to"], "contractAddress": receipt["contractAddress"], "type": receipt["type"],
            "logs": [self._decode_log(lg) for lg in receipt["logs"]],
        }

    def transact(self, label: str, who: str, fn) -> None:
        est = fn.estimate_gas({"from": self.acct[who].address})
        sent = self.send[who].transact(fn)
        receipt = self.w3.eth.get_transaction_receipt(sent.tx_hash)
        assert est >= receipt["gasUsed"], (label, est, receipt["gasUsed"])
        self.trace.estimates[label] = est
        self.record(label, receipt)

    def transact_raw(self, label: str, who: str, fn=None, gas: int = 200_000, to=None, data=None) -> None:
        """Signed here with explicit gas (no estimate, so failing calls are mined): the receipt is recorded."""
        s = self.send[who]
        with s._lock:
            nonce = s._next_nonce()
        tx = {"from": self.acct[who].address, "nonce": nonce, "gas": gas, "chainId": s.chain_id,
              "maxFeePerGas": 3 * GWEI + 2 * (self.w3.eth.get_block("latest")["baseFeePerGas"]),
              "maxPriorityFeePerGas": GWEI}
        tx = fn.build_transaction(tx) if fn is not None else {**tx, "to": to, "data": data, "value": 0}
        tx_hash = self.w3.eth.send_raw_transaction(self.acct[who].sign_transaction(tx).raw_transaction)
        receipt = self.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=30, poll_latency=0.05)
        self.record(label, receipt)

    def raw(self, method: str, params: list) -> dict:
        return self.http.post(self.node.url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params},
                              timeout=30).json()

    def failing_call(self, label: str, who: str, fn=None, to=None, data=None) -> None:
        if fn is not None:
            tx = fn.build_transaction({"from": self.acct[who].address, "gas": 1_000_000, "maxFeePerGas": 0,
                                       "maxPriorityFeePerGas": 0, "nonce": 0})
            to, data = tx["to"], tx["data"]
        obj = {"from": self.acct[who].address, "to": to, "data": data if isinstance(data, str) else "0x" + data.hex()}
        out = {}
        for method in ("eth_call", "eth_estimateGas"):
            err = self.raw(method, [obj, "latest"])["error"]
            out[method] = {"code": err["code"], "data": err.get("data"), "decoded": decode_error(err.get("data") or "0x"),
                           "reverted": err["message"].startswith("execution reverted")}
        self.trace.errors[label] = out

    # --- the scenario ----------------------------------------------------------------------
    def run(self) -> Trace:
        a = self.acct
        start = self.w3.eth.block_number
        deployed = deploy_all(self.send["admin"])
        self.registry = contract(self.w3, "IssuerRegistry", deployed.registry)
        self.ledger = contract(self.w3, "CertificateLedger", deployed.ledger)
        self.trace.views["deployed"] = (deployed.registry, deployed.ledger)
        # the deployments' receipts (deploy_all returns the addresses only)
        found = []
        for n in range(start + 1, deployed.block + 1):
            for tx in self.w3.eth.get_block(n, full_transactions=True)["transactions"]:
                if tx["from"] == a["admin"].address and tx["to"] is None:
                    found.append(self.w3.eth.get_transaction_receipt(tx["hash"]))
        assert [r["contractAddress"] for r in found] == [deployed.registry, deployed.ledger]
        self.record("deploy registry", found[0])
        self.record("deploy ledger", found[1])
        reg, led = self.registry.functions, self.ledger.functions
        self.transact("register a", "admin", reg.registerIssuer(a["dept_a"].address, "哈尔滨市市场监督管理局", [T1]))
        self.transact("register b", "admin", reg.registerIssuer(a["dept_b"].address, "大庆市市场监督管理局", [T2]))
        self.transact("type code", "admin", reg.setTypeCode(a["dept_b"].address, T1, True))
        small = digests("small", 4)
        root1, proofs1 = build(small)
        big = digests("big", 1000)
        root2, _ = build(big)
        self.transact("anchor 4", "dept_a", led.anchorBatch(root1, T1, 4))
        self.transact("anchor 1000", "dept_a", led.anchorBatch(root2, T1, 1000))
        self.transact("anchor by b", "dept_b", led.anchorBatch(build(digests("b", 3))[0], T2, 3))
        d0, d1, d2, d3 = small
        self.transact("annual review", "dept_a", led.recordEvent((d0, root1, proofs1[d0], ANNUAL, 1893456000, ZERO32, ZERO32)))
        self.transact("loss", "dept_a", led.recordEvent((d0, root1, [], LOSS, 0, ZERO32, b"\7" * 32)))
        self.transact("batch events", "dept_a", led.recordEvents([
            (d1, root1, proofs1[d1], LOSS, 0, ZERO32, ZERO32), (d2, root1, proofs1[d2], REVOKE, 0, ZERO32, ZERO32)]))
        self.transact("admin change", "admin", led.recordEvent((d3, root1, proofs1[d3], CHANGE, 0, b"\3" * 32, ZERO32)))
        self.transact("suspend b", "admin", reg.suspendIssuer(a["dept_b"].address))
        # stranger's first transaction: the assembled contract (its address depends on nonce 0 only)
        self.transact_raw("tiny deploy", "stranger", to=None, data=init_code(), gas=300_000)
        tiny = self.trace.steps["tiny deploy"]["contractAddress"]
        # failing calls: eth_call and eth_estimateGas errors
        fresh = build(digests("fresh", 2))[0]
        self.failing_call("stranger anchors", "stranger", led.anchorBatch(fresh, T1, 2))
        self.failing_call("suspended anchors", "dept_b", led.anchorBatch(fresh, T2, 2))
        self.failing_call("empty batch", "dept_a", led.anchorBatch(fresh, T1, 0))
        self.failing_call("root again", "dept_a", led.anchorBatch(root1, T1, 4))
        self.failing_call("final status", "dept_a", led.recordEvent((d2, root1, [], LOSS, 0, ZERO32, ZERO32)))
        self.failing_call("not the issuer", "dept_b", led.recordEvent((d1, root1, [], ANNUAL, 1, ZERO32, ZERO32)))
        self.failing_call("missing value", "dept_a", led.recordEvent((d1, root1, [], CHANGE, 0, ZERO32, ZERO32)))
        self.failing_call("stranger registers", "stranger", reg.registerIssuer(a["stranger"].address, "x", [T1]))
        self.failing_call("unknown issuer", "admin", reg.suspendIssuer(a["stranger"].address))
        self.failing_call("reason string", "stranger", to=tiny, data=b"\1")
        self.failing_call("no such function", "stranger", to=self.ledger.address, data=b"\xde\xad\xbe\xef")
        # failing transactions, mined
        self.transact_raw("stranger anchors (mined)", "stranger", led.anchorBatch(fresh, T1, 2))
        self.transact_raw("reason string (mined)", "stranger", to=tiny, data=b"\1")
        self.transact_raw("out of gas (mined)", "dept_a", led.anchorBatch(fresh, T1, 2), gas=30_000)
        self.transact("anchor after failures", "dept_a", led.anchorBatch(fresh, T1, 2))
        # views
        v = self.trace.views
        for name in ("admin", "dept_a", "dept_b", "stranger"):
            addr = a[name].address
            v[f"isActive {name}"] = reg.isActive(addr).call()
            v[f"isAdmin {name}"] = reg.isAdmin(addr).call()
            v[f"issuer {name}"] = reg.issuer(addr).call()
            v[f"isAuthorised {name} T1"] = reg.isAuthorised(addr, T1).call()
            v[f"isAuthorised {name} T2"] = reg.isAuthorised(addr, T2).call()
        v["registry of ledger"] = led.registry().call()
        v["REGISTRAR_ROLE"] = reg.REGISTRAR_ROLE().call()
        for label, root in (("root 4", root1), ("root 1000", root2), ("fresh", fresh), ("unknown", b"\5" * 32)):
            issuer, type_code, count, block = led.rootInfo(root).call()
            v[f"rootInfo {label}"] = (issuer, type_code, count, self._block(block))
        for i, d in enumerate(small):
            status, issuer, last, due, by = led.statusOf(d, root1, proofs1[d]).call()
            v[f"statusOf d{i}"] = (status, issuer, self._block(last), due, by)
            v[f"verifyInclusion d{i}"] = led.verifyInclusion(d, root1, proofs1[d]).call()
        v["verifyInclusion stranger digest"] = led.verifyInclusion(b"\x09" * 32, root1, proofs1[d0]).call()
        v["tiny slot"] = self.w3.eth.call({"to": tiny, "data": "0x00"})
        v["code"] = tuple(self.w3.eth.get_code(x) for x in (self.registry.address, self.ledger.address, tiny))
        # the ledger's logs as eth_getLogs returns them, over the whole chain
        for lg in self.w3.eth.get_logs({"fromBlock": 0, "toBlock": "latest", "address": self.ledger.address}):
            self.trace.logs.append(self._decode_log(lg)[:3])
        self.trace.views["balance of ledger"] = self.w3.eth.get_balance(self.ledger.address)
        return self.trace


@pytest.fixture(scope="module")
def nodes():
    anvil = AnvilNode().start()
    home = Path(tempfile.mkdtemp(prefix="differential-"))
    try:
        ledger = LedgerNode(home / "node").start()
    except RuntimeError:
        anvil.stop()
        raise
    yield anvil, ledger
    anvil.stop()
    ledger.stop()


def test_same_scenario_same_results_on_anvil_and_our_node(nodes):
    anvil, ours = nodes
    accounts = {name: Account.create() for name in ("admin", "dept_a", "dept_b", "stranger")}
    a = Scenario(anvil, accounts).run()
    b = Scenario(ours, accounts).run()

    assert a.views["deployed"] == b.views["deployed"]  # same deployer key and nonces
    assert list(a.steps) == list(b.steps)
    for label in a.steps:
        assert a.steps[label] == b.steps[label], label
    statuses = {label: s["status"] for label, s in a.steps.items()}
    assert statuses["stranger anchors (mined)"] == statuses["reason string (mined)"] == 0
    # the registry call runs out of its 63/64 of the gas; the ledger reverts with the 1/64 left
    assert statuses["out of gas (mined)"] == 0 and 21_000 < a.steps["out of gas (mined)"]["gasUsed"] <= 30_000
    assert statuses["anchor 4"] == statuses["tiny deploy"] == 1
    assert [e[1] for e in a.steps["batch events"]["logs"]] == ["CertificateEvent", "CertificateEvent"]
    assert a.steps["loss"]["logs"][0][2]["prevBlock"] == ("block of", "annual review")

    assert a.views == b.views
    assert a.views["statusOf d2"][0] == 3 and a.views["statusOf d3"][0] == 4 and a.views["rootInfo root 4"][3] == ("block of", "anchor 4")

    assert a.logs == b.logs and len(a.logs) == 9  # 4 anchors + 5 certificate events

    assert a.errors == b.errors
    e = a.errors
    for label, out in e.items():
        for method in ("eth_call", "eth_estimateGas"):
            assert out[method]["code"] == 3 and out[method]["reverted"], (label, method)
    assert e["stranger anchors"]["eth_call"]["decoded"] == ("NotAuthorisedIssuer", (accounts["stranger"].address.lower(), T1))
    assert e["suspended anchors"]["eth_call"]["decoded"][0] == "NotAuthorisedIssuer"
    assert e["empty batch"]["eth_call"]["decoded"] == ("EmptyBatch", ())
    assert e["root again"]["eth_call"]["decoded"][0] == "RootAlreadyAnchored"
    assert e["final status"]["eth_call"]["decoded"][0] == "FinalStatus"
    assert e["not the issuer"]["eth_call"]["decoded"][0] == "NotTheIssuer"
    assert e["missing value"]["eth_call"]["decoded"][0] == "MissingValue"
    assert e["stranger registers"]["eth_call"]["decoded"][0] == "AccessControlUnauthorizedAccount"
    assert e["unknown issuer"]["eth_call"]["decoded"][0] == "UnknownIssuer"
    assert e["reason string"]["eth_call"]["decoded"] == ("Error", REASON)
    assert e["no such function"]["eth_call"]["data"] == "0x"

    # estimates differ by design (py-evm's search stops within 21,000 gas, anvil's is exact) but
    # both cover what the transaction used
    assert set(a.estimates) == set(b.estimates)
