"""The JSON-RPC methods: parameters checked, the node asked, answers in geth's shapes.

Each method takes the node and the params list; a wrong parameter raises ``NodeError(-32602)``.
"""

from __future__ import annotations

import platform
from typing import Any, Callable

import eth
from eth_utils import is_address, to_canonical_address

from ..service import Node, NodeError, _execution_error
from ..txpool import TxPoolError
from . import formats as F

VERSION = f"CertLedger/v0.1.0/py-evm-{eth.__version__}/python{platform.python_version()}"
DEFAULT_TIP = 10**9  # 1 gwei: what eth_maxPriorityFeePerGas suggests


def _param(params: list, i: int, default: Any = ..., *, name: str = "") -> Any:
    if i < len(params):
        return params[i]
    if default is ...:
        raise NodeError(-32602, f"missing value for required argument {i}{' (' + name + ')' if name else ''}")
    return default


def _address(v: Any) -> bytes:
    if not isinstance(v, str) or not is_address(v):
        raise NodeError(-32602, f"invalid address: {v!r}")
    return to_canonical_address(v)


def _quantity(v: Any, name: str, bits: int = 256) -> int:
    n = None
    if isinstance(v, int) and not isinstance(v, bool):
        n = v
    elif isinstance(v, str) and v.startswith("0x") and all(c in "0123456789abcdefABCDEF" for c in v[2:]):
        try:
            n = int(v, 16)
        except ValueError:
            pass
    if n is None or not 0 <= n < 2**bits:
        raise NodeError(-32602, f"invalid {name}: {v!r} (want a 0x hex quantity below 2^{bits})")
    return n


def _data(v: Any, name: str) -> bytes:
    if isinstance(v, str) and v.startswith("0x"):
        try:
            return bytes.fromhex(v[2:])
        except ValueError:
            pass
    raise NodeError(-32602, f"invalid {name}: hex data expected")


def _hash32(v: Any) -> bytes:
    b = _data(v, "hash")
    if len(b) != 32:
        raise NodeError(-32602, "invalid hash: 32 bytes expected")
    return b


def _call_object(obj: Any) -> dict[str, Any]:
    if not isinstance(obj, dict):
        raise NodeError(-32602, "invalid transaction object")
    tx: dict[str, Any] = {}
    if obj.get("from"):
        tx["from"] = _address(obj["from"])
    if obj.get("to"):
        tx["to"] = _address(obj["to"])
    if obj.get("gas") is not None:
        tx["gas"] = _quantity(obj["gas"], "gas", 64)
    if obj.get("value") is not None:
        tx["value"] = _quantity(obj["value"], "value")
    data = obj.get("input", obj.get("data"))
    if data is not None:
        tx["data"] = _data(data, "input")
    return tx


# --- chain facts -------------------------------------------------------------------------

def eth_chainId(node: Node, params: list) -> str:
    return F.q(node.genesis.chain_id)


def net_version(node: Node, params: list) -> str:
    return str(node.genesis.chain_id)


def web3_clientVersion(node: Node, params: list) -> str:
    return VERSION


def net_listening(node: Node, params: list) -> bool:
    return True


def net_peerCount(node: Node, params: list) -> str:
    return F.q(len(node.config.peers))


def eth_syncing(node: Node, params: list) -> bool:
    return False


def eth_mining(node: Node, params: list) -> bool:
    return node.key is not None


def eth_accounts(node: Node, params: list) -> list:
    return []  # the node holds no user keys: transactions arrive signed


def eth_blockNumber(node: Node, params: list) -> str:
    return F.q(node.head().block_number)


def eth_gasPrice(node: Node, params: list) -> str:
    return F.q(node.next_base_fee() + DEFAULT_TIP)


def eth_maxPriorityFeePerGas(node: Node, params: list) -> str:
    return F.q(DEFAULT_TIP)


def eth_feeHistory(node: Node, params: list) -> dict:
    count = min(_quantity(_param(params, 0, name="blockCount"), "blockCount"), 1024)
    newest = node.resolve(_param(params, 1, "latest"))
    percentiles = _param(params, 2, None) or []
    if not isinstance(percentiles, list) or any(not isinstance(p, (int, float)) or not 0 <= p <= 100 for p in percentiles) \
            or percentiles != sorted(percentiles):
        raise NodeError(-32602, "invalid reward percentiles")
    oldest = max(newest.block_number - count + 1, 0)
    base_fees, ratios, rewards = [], [], []
    for n in range(oldest, newest.block_number + 1):
        header, txs, receipts, _ = node.load_block(node.canonical_hash(n))
        base = getattr(header, "base_fee_per_gas", 0)
        base_fees.append(F.q(base))
        ratios.append(header.gas_used / header.gas_limit if header.gas_limit else 0.0)
        if percentiles:
            tips, previous = [], 0
            for tx, r in zip(txs, receipts):
                tips.append((F.effective_gas_price(tx, base) - base, r.gas_used - previous))
                previous = r.gas_used
            tips.sort()
            row, total = [], sum(g for _, g in tips)
            for p in percentiles:
                if not tips:
                    row.append(F.q(0))
                    continue
                threshold, acc, pick = total * p / 100, 0, tips[-1][0]
                for tip, gas in tips:
                    acc += gas
                    if acc >= threshold:
                        pick = tip
                        break
                row.append(F.q(pick))
            rewards.append(row)
    with node.lock:
        last = node.load_block(newest.hash)[0]
    from eth.vm.forks.london.headers import calculate_expected_base_fee_per_gas

    base_fees.append(F.q(calculate_expected_base_fee_per_gas(last) if hasattr(last, "base_fee_per_gas") else 0))
    out = {"oldestBlock": F.q(oldest), "baseFeePerGas": base_fees, "gasUsedRatio": ratios}
    if percentiles:
        out["reward"] = rewards
    return out


# --- state ---------------------------------------------------------------------------------

def _account_read(node: Node, params: list, read: Callable[[Any, bytes], Any]) -> Any:
    """``read(state, address)`` at the block the second parameter names (latest by default)."""
    a = _address(_param(params, 0, name="address"))
    with node.lock:
        return read(node.state(node.resolve(_param(params, 1, "latest"))), a)


def eth_getBalance(node: Node, params: list) -> str:
    return F.q(_account_read(node, params, lambda state, a: state.get_balance(a)))


def eth_getTransactionCount(node: Node, params: list) -> str:
    a = _address(_param(params, 0, name="address"))
    tag = _param(params, 1, "latest")
    with node.lock:
        nonce = node.state(node.resolve(tag)).get_nonce(a)
        if tag == "pending":
            nonce = node.pool.pending_nonce(a, nonce)
        return F.q(nonce)


def eth_getCode(node: Node, params: list) -> str:
    return F.h(_account_read(node, params, lambda state, a: state.get_code(a)))


def eth_getStorageAt(node: Node, params: list) -> str:
    a = _address(_param(params, 0, name="address"))
    slot = _quantity(_param(params, 1, name="slot"), "slot")
    with node.lock:
        value = node.state(node.resolve(_param(params, 2, "latest"))).get_storage(a, slot)
        return F.h(value.to_bytes(32, "big"))


def eth_call(node: Node, params: list) -> str:
    tx = _call_object(_param(params, 0, name="transaction"))
    c = node.execute(tx, node.resolve(_param(params, 1, "latest")))
    if c.is_error:
        raise _execution_error(c)
    return F.h(c.output)


def eth_estimateGas(node: Node, params: list) -> str:
    tx = _call_object(_param(params, 0, name="transaction"))
    return F.q(node.estimate_gas(tx, node.resolve(_param(params, 1, "latest"))))


# --- transactions ----------------------------------------------------------------------------

def eth_sendRawTransaction(node: Node, params: list) -> str:
    raw = _data(_param(params, 0, name="data"), "transaction data")
    try:
        return F.h(node.send_raw(raw))
    except TxPoolError as exc:
        raise NodeError(exc.code, str(exc)) from None


def eth_getTransactionByHash(node: Node, params: list) -> dict | None:
    tx_hash = _hash32(_param(params, 0, name="hash"))
    found = node.find_transaction(tx_hash)
    if found is not None:
        header, index = found
        _, txs, _, _ = node.load_block(header.hash)
        return F.transaction(txs[index], header, index)
    pending = node.pool.get(tx_hash)
    return F.transaction(pending) if pending is not None else None


def eth_getTransactionReceipt(node: Node, params: list) -> dict | None:
    tx_hash = _hash32(_param(params, 0, name="hash"))
    found = node.find_transaction(tx_hash)
    if found is None:
        return None
    header, index = found
    _, txs, receipts, _ = node.load_block(header.hash)
    return F.receipt(header, txs, receipts, index)


# --- blocks and logs ------------------------------------------------------------------------

def _block_json(node: Node, block_hash: bytes | None, full: Any) -> dict | None:
    if block_hash is None:
        return None
    try:
        _, _, _, b = node.load_block(block_hash)
    except KeyError:
        return None
    with node.lock:
        return F.block(b, node.chain.score(block_hash), bool(full))


def eth_getBlockByNumber(node: Node, params: list) -> dict | None:
    tag = _param(params, 0, name="block")
    try:
        header = node.resolve(tag)
    except NodeError as exc:
        if exc.code == -32000:
            return None
        raise
    return _block_json(node, header.hash, _param(params, 1, False))


def eth_getBlockByHash(node: Node, params: list) -> dict | None:
    return _block_json(node, _hash32(_param(params, 0, name="hash")), _param(params, 1, False))


def eth_getBlockTransactionCountByNumber(node: Node, params: list) -> str:
    header = node.resolve(_param(params, 0, name="block"))
    return F.q(len(node.load_block(header.hash)[1]))


def _topics(raw: Any) -> list[set[bytes] | None]:
    if raw is None:
        return []
    if not isinstance(raw, list) or len(raw) > 4:
        raise NodeError(-32602, "invalid topics: a list of at most 4 entries")
    out: list[set[bytes] | None] = []
    for t in raw:
        if t is None:
            out.append(None)
        elif isinstance(t, list):
            out.append({_hash32(x) for x in t} or None)
        else:
            out.append({_hash32(t)})
    return out


def eth_getLogs(node: Node, params: list) -> list[dict]:
    f = _param(params, 0, name="filter")
    if not isinstance(f, dict):
        raise NodeError(-32602, "invalid filter object")
    head = node.head().block_number
    if f.get("blockHash"):
        if "fromBlock" in f or "toBlock" in f:
            raise NodeError(-32602, "blockHash cannot be combined with fromBlock/toBlock")
        header = node.chain.header_by_hash(_hash32(f["blockHash"]))
        if header is None:
            raise NodeError(-32000, "unknown block")
        start = stop = header.block_number
    else:
        start = node.resolve(f.get("fromBlock", "latest")).block_number
        stop = node.resolve(f.get("toBlock", "latest")).block_number if f.get("toBlock") else head
    if start > stop:
        raise NodeError(-32602, "invalid block range: fromBlock is after toBlock")
    address = f.get("address")
    addresses = None
    if address:
        addresses = {_address(a) for a in (address if isinstance(address, list) else [address])}
    try:
        found = node.logs(start, stop, addresses, _topics(f.get("topics")))
    except ValueError as exc:
        raise NodeError(-32005, str(exc)) from None
    return [F.log(*item) for item in found]


# --- clique -------------------------------------------------------------------------------

def clique_getSigners(node: Node, params: list) -> list[str]:
    with node.lock:
        header = node.resolve(_param(params, 0, "latest"))
        return [F.addr(s) for s in node.chain.signers(header)]


def clique_getSignersAtHash(node: Node, params: list) -> list[str]:
    return clique_getSigners(node, [{"blockHash": _param(params, 0, name="hash")}])


def clique_propose(node: Node, params: list) -> None:
    a = _address(_param(params, 0, name="address"))
    auth = _param(params, 1, name="auth")
    if not isinstance(auth, bool):
        raise NodeError(-32602, "auth must be true (add) or false (remove)")
    with node.lock:
        node.proposals[a] = auth
    return None


def clique_discard(node: Node, params: list) -> None:
    a = _address(_param(params, 0, name="address"))
    with node.lock:
        node.proposals.pop(a, None)
    return None


def clique_proposals(node: Node, params: list) -> dict[str, bool]:
    with node.lock:
        return {F.addr(a): v for a, v in node.proposals.items()}


# --- between nodes ------------------------------------------------------------------------

def certledger_head(node: Node, params: list) -> dict:
    with node.lock:
        head = node.head()
        return {"number": F.q(head.block_number), "hash": F.h(head.hash), "totalDifficulty": F.q(node.chain.score(head.hash))}


def certledger_getBlocks(node: Node, params: list) -> list[str]:
    start = _quantity(_param(params, 0, name="from"), "from")
    count = _quantity(_param(params, 1, 64), "count")
    return node.encoded_blocks(start, count)


def certledger_importBlock(node: Node, params: list) -> str:
    from eth_utils import ValidationError

    raw = _data(_param(params, 0, name="block"), "block")
    number = _quantity(_param(params, 1, name="number"), "number")
    try:
        block = node.chain.decode_block(raw, number)
        if block.number != number:
            raise ValidationError("block number does not match")
        if node.chain.header_by_hash(block.header.parent_hash) is None:
            return "unknown-parent"
        return "imported" if node.import_block(block) else "known"
    except ValidationError as exc:
        raise NodeError(-32000, f"invalid block: {exc}") from None
    except Exception as exc:  # undecodable
        raise NodeError(-32602, f"invalid block: {type(exc).__name__}: {exc}") from None


def certledger_relayTransactions(node: Node, params: list) -> int:
    raws = _param(params, 0, name="transactions")
    if not isinstance(raws, list) or len(raws) > 1024:
        raise NodeError(-32602, "a list of at most 1024 raw transactions expected")
    taken = 0
    for r in raws:
        try:
            node.send_raw(_data(r, "transaction"), relay=False)
            taken += 1
        except (TxPoolError, NodeError):
            pass
    return taken


METHODS: dict[str, Callable[[Node, list], Any]] = {
    name: fn for name, fn in dict(globals()).items()
    if callable(fn) and name.split("_", 1)[0] in {"eth", "net", "web3", "clique", "certledger"} and "_" in name
}
