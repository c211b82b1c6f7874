"""Signed raw transactions: a local nonce manager, explicit gas, retries, confirmations.

Keys never leave the process: transactions are signed with eth-account and sent raw, so any
standard node (ours, anvil, Besu, GoQuorum) works without unlocked accounts. Nonces are handed
out locally per account (several transactions per block) and re-read from the node after an error.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.exceptions import ContractCustomError, ContractLogicError, TimeExhausted, Web3RPCError

TRANSIENT = (ConnectionError, TimeoutError, OSError)


class ChainError(Exception):
    """The chain refused a transaction or could not be reached; the message says which."""


class Reverted(ChainError):
    def __init__(self, message: str, error_name: str | None = None) -> None:
        super().__init__(message)
        self.error_name = error_name


@dataclass(frozen=True)
class Sent:
    tx_hash: str
    block: int
    gas_used: int
    status: int
    logs: tuple


class Sender:
    """Sends transactions from one account, in nonce order, and waits for their receipts."""

    def __init__(self, w3: Web3, account: LocalAccount, confirmations: int = 0, gas_margin: float = 1.25,
                 timeout: float = 60.0, retries: int = 3) -> None:
        self.w3, self.account = w3, account
        self.confirmations, self.gas_margin, self.timeout, self.retries = confirmations, gas_margin, timeout, retries
        self._lock = threading.Lock()
        self._nonce: int | None = None
        self.chain_id = w3.eth.chain_id

    def _next_nonce(self) -> int:
        if self._nonce is None:
            self._nonce = self.w3.eth.get_transaction_count(self.account.address, "pending")
        nonce = self._nonce
        self._nonce += 1
        return nonce

    def _fees(self) -> dict:
        try:  # the next block's base fee; pre-London nodes have none
            base = self.w3.eth.fee_history(1, "latest")["baseFeePerGas"][-1]
        except (Web3RPCError, KeyError, IndexError, ValueError):
            base = None
        if not base:
            return {"gasPrice": self.w3.eth.gas_price}
        tip = self.w3.eth.max_priority_fee
        return {"maxFeePerGas": base * 2 + tip, "maxPriorityFeePerGas": tip}

    def transact(self, fn, value: int = 0) -> Sent:
        """Build, sign and send a contract call (``contract.functions.x(...)``); wait for its receipt."""
        try:
            gas = int(fn.estimate_gas({"from": self.account.address, "value": value}) * self.gas_margin)
        except (ContractCustomError, ContractLogicError) as exc:
            raise _reverted(fn, exc) from None
        with self._lock:
            for attempt in range(self.retries + 1):
                nonce = self._next_nonce()
                tx = fn.build_transaction({"from": self.account.address, "nonce": nonce, "gas": gas, "value": value,
                                           "chainId": self.chain_id, **self._fees()})
                signed = self.account.sign_transaction(tx)
                try:
                    tx_hash = self.w3.eth.send_raw_transaction(signed.raw_transaction)
                    raw = signed.raw_transaction
                    break
                except Web3RPCError as exc:
                    self._nonce = None  # re-read from the node: another writer, or a dropped transaction
                    if attempt == self.retries or "nonce" not in str(exc).lower():
                        raise ChainError(f"the node refused the transaction: {exc}") from None
                except TRANSIENT as exc:
                    self._nonce = None
                    if attempt == self.retries:
                        raise ChainError(f"the chain is unreachable: {exc}") from None
                    time.sleep(0.5 * (attempt + 1))
        return self.wait(tx_hash.hex() if isinstance(tx_hash, bytes) else str(tx_hash), raw)

    def transfer(self, to: str, value: int) -> Sent:
        """Send ether (e.g. gas money to a department account), in nonce order with the rest."""
        with self._lock:
            tx = {"to": Web3.to_checksum_address(to), "value": value, "gas": 21000, "chainId": self.chain_id,
                  "nonce": self._next_nonce(), **self._fees()}
            raw = self.account.sign_transaction(tx).raw_transaction
            try:
                tx_hash = self.w3.eth.send_raw_transaction(raw)
            except Web3RPCError as exc:
                self._nonce = None
                raise ChainError(f"the node refused the transfer: {exc}") from None
        return self.wait(tx_hash.hex() if isinstance(tx_hash, bytes) else str(tx_hash), raw)

    def _known(self, tx_hash: str) -> bool:
        try:
            return self.w3.eth.get_transaction(tx_hash) is not None
        except Exception:  # web3 raises TransactionNotFound for an unknown hash
            return False

    def deploy(self, abi: list, bytecode: str, *args) -> tuple[str, Sent]:
        contract = self.w3.eth.contract(abi=abi, bytecode=bytecode)
        sent = self.transact(contract.constructor(*args))
        receipt = self.w3.eth.get_transaction_receipt(sent.tx_hash)
        return receipt["contractAddress"], sent

    def wait(self, tx_hash: str, raw: bytes | None = None) -> Sent:
        """The receipt; a transaction the node has dropped from its pool is sent again, as signed."""
        for attempt in range(self.retries + 1):
            try:
                receipt = self.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=self.timeout, poll_latency=0.05)
                break
            except TimeExhausted:
                if attempt == self.retries or raw is None:
                    raise ChainError(f"transaction {tx_hash} was not mined within {self.timeout:.0f} s") from None
                if not self._known(tx_hash):
                    try:
                        self.w3.eth.send_raw_transaction(raw)  # dropped: the same bytes, the same nonce
                    except Web3RPCError:
                        pass  # mined meanwhile, or known to the node again
        if receipt["status"] != 1:
            raise Reverted(f"transaction {tx_hash} reverted")
        while self.confirmations and self.w3.eth.block_number - receipt["blockNumber"] + 1 < self.confirmations:
            time.sleep(0.05)
        return Sent(tx_hash, receipt["blockNumber"], receipt["gasUsed"], receipt["status"], tuple(receipt["logs"]))


def _reverted(fn, exc: Exception) -> Reverted:
    """Name the custom error of a revert (decoded from the contract's ABI)."""
    data = getattr(exc, "data", None) or (exc.args[1] if len(exc.args) > 1 else None)
    if isinstance(data, str) and data.startswith("0x") and len(data) >= 10:
        selector = data[:10]
        for item in fn.contract_abi:
            if item.get("type") == "error":
                sig = f"{item['name']}({','.join(i['type'] for i in item['inputs'])})"
                if Web3.keccak(text=sig).hex()[:8] == selector[2:]:
                    return Reverted(f"{fn.fn_name} reverted: {item['name']}", item["name"])
    return Reverted(f"{fn.fn_name} reverted: {exc}")
