"""``ChainLedger``: anchoring and lifecycle events as transactions; reads as ``reads.FollowedReads``.

Anchoring is idempotent by content: the batch root is a function of the digests, so before
sending, the contract is asked whether that root is anchored already, and if so the earlier
transaction is found through its ``BatchAnchored`` log instead of sending again. A worker killed
between sending and recording therefore never anchors twice.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Sequence

from web3 import Web3

from chain_client.contracts import Deployed, contract, type_code_id
from chain_client.keystore import Keystores
from chain_client.reader import LedgerReader
from chain_client.transactions import ChainError, Reverted, Sender

from ..interface import (
    AnchorItem, BatchReceipt, EventKind, EventReceipt, IssuerInfo, Ledger, LedgerError, LifecycleEvent, check_batch,
)
from ..merkle import build
from .follower import ChainFollower
from .index import ChainIndex
from .reads import FollowedReads, Located, now, unreachable_is_ledger_error

KIND_CODES = {EventKind.REPORT_LOSS: 1, EventKind.REVOKE: 2, EventKind.ANNUAL_REVIEW: 3, EventKind.CHANGE: 4}
ZERO = b"\0" * 32
ADMIN = "platform-admin"
MESSAGES = {
    "NotAuthorisedIssuer": "{issuer} is not an active issuer allowed to issue this type",
    "NotTheIssuer": "{issuer} is not the issuer of the certificate",
    "FinalStatus": "the certificate is revoked or superseded: no further events",
    "NotAllowed": "this event is not allowed in the certificate's present status",
    "MissingValue": "the event lacks its value (next due date or new version)",
    "RootAlreadyAnchored": "this batch is already anchored",
}


class ChainLedger(FollowedReads, Ledger):
    # an event with its Merkle proof costs 40-60k gas: 200 stay well inside a 30M-gas block
    max_events_per_call = 200

    def __init__(self, w3: Web3, deployed: Deployed, keystores: Keystores, index_path: Path,
                 confirmations: int = 0, min_balance: int = 10**17) -> None:
        self.w3, self.deployed, self.keys = w3, deployed, keystores
        self.registry = contract(w3, "IssuerRegistry", deployed.registry)
        self.contract = contract(w3, "CertificateLedger", deployed.ledger)
        self.reader = LedgerReader(self.contract)
        self.index = ChainIndex(index_path)
        self.follower = ChainFollower(w3, self.contract, self.registry, self.index.db)
        self.confirmations, self.min_balance = confirmations, min_balance
        self._senders: dict[str, Sender] = {}

    def close(self) -> None:
        self.index.close()

    def sender(self, name: str) -> Sender:
        if name not in self._senders:
            self._senders[name] = Sender(self.w3, self.keys.get_or_create(name), self.confirmations)
        return self._senders[name]

    def _send(self, who: str, fn, issuer: str = ""):
        try:
            return self.sender(who).transact(fn)
        except Reverted as exc:
            text = MESSAGES.get(exc.error_name or "", str(exc)).format(issuer=issuer)
            raise LedgerError(text) from None
        except ChainError as exc:
            raise LedgerError(f"the chain is unavailable: {exc}") from None
        finally:
            self.follower.mark_stale()

    def _fund(self, address: str) -> None:
        """Accounts pay gas; the platform admin tops up a department that runs low."""
        if self.w3.eth.get_balance(address) < self.min_balance:
            try:
                self.sender(ADMIN).transfer(address, self.min_balance * 10)
            except ChainError as exc:
                raise LedgerError(f"cannot fund the account {address}: {exc}") from None

    # --- issuer registry ---
    @unreachable_is_ledger_error
    def register_issuer(self, issuer: str, name: str, type_codes: Sequence[str]) -> IssuerInfo:
        account = self.keys.get_or_create(issuer)
        self._fund(account.address)
        self._send(ADMIN, self.registry.functions.registerIssuer(account.address, name,
                                                                  [type_code_id(t) for t in type_codes]))
        known = self.index.issuer(issuer) or {"type_codes": []}
        codes = sorted(set(known["type_codes"]) | set(type_codes))
        self.index.put_issuer(issuer, {"name": name, "type_codes": codes, "address": account.address})
        return self.issuer_info(issuer)

    @unreachable_is_ledger_error
    def suspend_issuer(self, issuer: str) -> None:
        rec = self.index.issuer(issuer)
        if rec is None:
            raise LedgerError(f"issuer {issuer} is not registered")
        self._send(ADMIN, self.registry.functions.suspendIssuer(rec["address"]))

    # --- anchoring ---
    @unreachable_is_ledger_error
    def anchor_batch(self, issuer: str, type_code: str, items: Sequence[AnchorItem]) -> BatchReceipt:
        ids = check_batch(items)
        for cid in ids:
            if self.index.get(cid) is not None:
                raise LedgerError(f"certificate {cid} is already on the ledger")
        root, proofs = build(i.digest for i in items)
        rec = self.index.issuer(issuer)
        if rec is None:
            raise LedgerError(f"issuer {issuer} is not an active registered issuer")
        found = self._find_anchor(root)
        if found is None:
            self._send(issuer, self.contract.functions.anchorBatch(root, type_code_id(type_code), len(items)), issuer)
            found = self._find_anchor(root)
        tx_hash, block = found
        self.index.put_batch({i.certificate_id: {"digest": i.digest.hex(), "root": root.hex(),
                                                 "proof": [p.hex() for p in proofs[i.digest]], "issuer": issuer,
                                                 "block": block} for i in items})
        return BatchReceipt(root, tx_hash, block, {i.certificate_id: proofs[i.digest] for i in items}, now())

    def _find_anchor(self, root: bytes) -> tuple[str, int] | None:
        """The transaction that anchored ``root``, found by content (its indexed log)."""
        info = self.reader.root(root)
        if info is None:
            return None
        logs = self.contract.events.BatchAnchored().get_logs(
            from_block=info["block"], to_block=info["block"], argument_filters={"root": root})
        return (logs[0]["transactionHash"].hex(), info["block"]) if logs else ("", info["block"])

    # --- lifecycle events ---
    @unreachable_is_ledger_error
    def record_events(self, events: Sequence[LifecycleEvent]) -> list[EventReceipt]:
        if not events:
            return []
        inputs = []
        for ev in events:
            rec = self.index.get(ev.certificate_id)
            if rec is None:
                raise LedgerError(f"certificate {ev.certificate_id} is not on the ledger")
            if ev.kind not in KIND_CODES:
                raise LedgerError("issue events are written by anchor_batch")
            due = int(datetime(ev.next_review_due.year, ev.next_review_due.month, ev.next_review_due.day,
                               tzinfo=timezone.utc).timestamp()) if ev.next_review_due else 0
            new = Web3.keccak(text=ev.superseded_by) if ev.superseded_by else (ev.superseded_by_digest or ZERO)
            reason = Web3.keccak(text=ev.reason) if ev.reason else ZERO
            inputs.append((bytes.fromhex(rec["digest"]), bytes.fromhex(rec["root"]),
                           [bytes.fromhex(p) for p in rec["proof"]], KIND_CODES[ev.kind], due, new, reason))
        senders = {ev.issuer for ev in events}
        who = senders.pop() if len(senders) == 1 else ADMIN  # one transaction: all events or none
        sent = self._send(who, self.contract.functions.recordEvents(inputs), who)
        at = now()
        return [EventReceipt(ev.certificate_id, ev.kind, sent.tx_hash, sent.block, at) for ev in events]

    # --- reading (FollowedReads) ---
    def _locate(self, certificate_id: str) -> Located | None:
        rec = self.index.get(certificate_id)
        if rec is None:
            return None
        return Located.from_hex(rec["digest"], rec["root"], rec["proof"])

    def _issuers(self) -> dict[str, dict]:
        return self.index.issuers()
