"""Blocks, transactions, receipts and logs in the JSON shapes geth returns."""

from __future__ import annotations

from typing import Any

import rlp

from eth._utils.address import generate_contract_address
from eth.abc import BlockAPI, BlockHeaderAPI, ReceiptAPI, SignedTransactionAPI
from eth_utils import to_checksum_address


def q(n: int) -> str:
    return hex(n)


def h(b: bytes) -> str:
    return "0x" + bytes(b).hex()


def addr(a: bytes | None) -> str | None:
    return None if a is None or a == b"" else to_checksum_address(a)


def tx_type(tx: SignedTransactionAPI) -> int:
    return getattr(tx, "type_id", None) or 0


def effective_gas_price(tx: SignedTransactionAPI, base_fee: int) -> int:
    if tx_type(tx) == 2:
        return min(tx.max_fee_per_gas, base_fee + tx.max_priority_fee_per_gas)
    return tx.gas_price


def transaction(tx: SignedTransactionAPI, header: BlockHeaderAPI | None = None, index: int | None = None) -> dict[str, Any]:
    kind = tx_type(tx)
    out: dict[str, Any] = {
        "hash": h(tx.hash), "nonce": q(tx.nonce), "from": addr(tx.sender), "to": addr(tx.to) if tx.to else None,
        "value": q(tx.value), "gas": q(tx.gas), "input": h(tx.data), "type": q(kind),
        "blockHash": h(header.hash) if header else None, "blockNumber": q(header.block_number) if header else None,
        "transactionIndex": q(index) if index is not None else None,
        "r": q(tx.r), "s": q(tx.s),
    }
    if kind == 0:
        out["v"] = q(tx.v)
        out["gasPrice"] = q(tx.gas_price)
        if tx.chain_id is not None:
            out["chainId"] = q(tx.chain_id)
    else:
        out["v"] = q(tx.y_parity)
        out["yParity"] = q(tx.y_parity)
        out["chainId"] = q(tx.chain_id)
        out["accessList"] = [{"address": addr(a), "storageKeys": [h(k.to_bytes(32, "big")) for k in keys]}
                             for a, keys in tx.access_list]
        if kind == 2:
            out["maxFeePerGas"] = q(tx.max_fee_per_gas)
            out["maxPriorityFeePerGas"] = q(tx.max_priority_fee_per_gas)
            base = getattr(header, "base_fee_per_gas", None) if header else None
            out["gasPrice"] = q(effective_gas_price(tx, base) if base is not None else tx.max_fee_per_gas)
        else:
            out["gasPrice"] = q(tx.gas_price)
    return out


def log(header: BlockHeaderAPI, tx_index: int, tx: SignedTransactionAPI, log_index: int, entry: Any) -> dict[str, Any]:
    return {"address": addr(entry.address), "topics": [h(t.to_bytes(32, "big")) for t in entry.topics],
            "data": h(entry.data), "blockNumber": q(header.block_number), "blockHash": h(header.hash),
            "transactionHash": h(tx.hash), "transactionIndex": q(tx_index), "logIndex": q(log_index),
            "removed": False}


def receipts(header: BlockHeaderAPI, txs: tuple[SignedTransactionAPI, ...], rs: tuple[ReceiptAPI, ...]) -> list[dict]:
    """All receipts of one block (gas used and log indexes depend on the ones before)."""
    out, previous_gas, log_index = [], 0, 0
    for i, (tx, r) in enumerate(zip(txs, rs)):
        out.append(_receipt(header, i, tx, r, previous_gas, log_index))
        previous_gas, log_index = r.gas_used, log_index + len(r.logs)
    return out


def receipt(header: BlockHeaderAPI, txs: tuple[SignedTransactionAPI, ...], rs: tuple[ReceiptAPI, ...],
            index: int) -> dict:
    """One receipt of a block, without formatting the others (a busy block has hundreds)."""
    previous_gas = rs[index - 1].gas_used if index else 0
    return _receipt(header, index, txs[index], rs[index], previous_gas, sum(len(r.logs) for r in rs[:index]))


def _receipt(header: BlockHeaderAPI, i: int, tx: SignedTransactionAPI, r: ReceiptAPI, previous_gas: int,
             first_log_index: int) -> dict[str, Any]:
    base = getattr(header, "base_fee_per_gas", 0)
    return {
        "transactionHash": h(tx.hash), "transactionIndex": q(i), "blockHash": h(header.hash),
        "blockNumber": q(header.block_number), "from": addr(tx.sender), "to": addr(tx.to) if tx.to else None,
        "cumulativeGasUsed": q(r.gas_used), "gasUsed": q(r.gas_used - previous_gas),
        "effectiveGasPrice": q(effective_gas_price(tx, base)),
        "contractAddress": None if tx.to else addr(generate_contract_address(tx.sender, tx.nonce)),
        "logs": [log(header, i, tx, first_log_index + k, entry) for k, entry in enumerate(r.logs)],
        "logsBloom": h(r.bloom.to_bytes(256, "big")), "type": q(tx_type(tx)),
        "status": q(1 if r.state_root == b"\x01" else 0),  # post-Byzantium: 0x01 success, empty failure
    }


def block(b: BlockAPI, total_difficulty: int, full: bool) -> dict[str, Any]:
    header = b.header
    out = {
        "number": q(header.block_number), "hash": h(header.hash), "parentHash": h(header.parent_hash),
        "nonce": h(header.nonce), "sha3Uncles": h(header.uncles_hash),
        "logsBloom": h(header.bloom.to_bytes(256, "big")), "transactionsRoot": h(header.transaction_root),
        "stateRoot": h(header.state_root), "receiptsRoot": h(header.receipt_root), "miner": addr(header.coinbase),
        "difficulty": q(header.difficulty), "totalDifficulty": q(total_difficulty), "extraData": h(header.extra_data),
        "size": q(len(rlp.encode(b))), "gasLimit": q(header.gas_limit), "gasUsed": q(header.gas_used),
        "timestamp": q(header.timestamp), "mixHash": h(header.mix_hash), "uncles": [h(u.hash) for u in b.uncles],
        "transactions": [transaction(tx, header, i) if full else h(tx.hash) for i, tx in enumerate(b.transactions)],
    }
    if hasattr(header, "base_fee_per_gas"):
        out["baseFeePerGas"] = q(header.base_fee_per_gas)
    return out
