"""Reading the certificate ledger: statuses, roots, and a certificate's history walked from logs.

History is found by following each event's ``prevBlock`` back: one indexed log query per event,
never a scan of the chain.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from ledger.merkle import verify_proof

STATUS = ("none", "effective", "lost", "revoked", "superseded")
KINDS = ("issue", "report_loss", "revoke", "annual_review", "change")


@dataclass(frozen=True)
class ChainEvent:
    kind: str
    block: int
    prev_block: int
    actor: str
    tx_hash: str
    next_review_due: int
    new_digest: bytes
    reason: bytes


class LedgerReader:
    def __init__(self, ledger_contract) -> None:
        self.ledger = ledger_contract

    def status(self, digest: bytes, root: bytes, proof: Sequence[bytes]) -> dict:
        s, issuer, last, due, superseded = self.ledger.functions.statusOf(digest, root, list(proof)).call()
        return {"status": STATUS[s], "issuer": issuer, "last_block": last, "next_review_due": due,
                "superseded_by": superseded}

    def root(self, root: bytes) -> dict | None:
        issuer, type_code, count, block = self.ledger.functions.rootInfo(root).call()
        if int(issuer, 16) == 0:
            return None
        return {"issuer": issuer, "type_code": type_code, "count": count, "block": block}

    def verify_inclusion(self, digest: bytes, root: bytes, proof: Sequence[bytes]) -> tuple[bool, bool]:
        """(off-chain result, contract's result): both must hold for an anchored certificate."""
        return verify_proof(digest, proof, root), bool(self.ledger.functions.verifyInclusion(digest, root, list(proof)).call())

    def history(self, digest: bytes, root: bytes, proof: Sequence[bytes]) -> list[ChainEvent]:
        """Oldest first: the anchoring of its batch, then each lifecycle event."""
        state = self.status(digest, root, proof)
        if state["status"] == "none":
            return []
        anchor = self.root(root)
        events: list[ChainEvent] = []
        block = state["last_block"]
        while block and block != anchor["block"]:
            logs = self.ledger.events.CertificateEvent().get_logs(
                from_block=block, to_block=block, argument_filters={"digest": digest})
            if not logs:
                raise LookupError(f"no event of this certificate in block {block}: the node's logs are incomplete")
            for log in sorted(logs, key=lambda l: l["logIndex"], reverse=True):
                a = log["args"]
                events.append(ChainEvent(KINDS[a["kind"]], block, a["prevBlock"], a["actor"], log["transactionHash"].hex(),
                                         a["nextReviewDue"], a["newDigest"], a["reason"]))
                block = a["prevBlock"]
                if block != events[-1].block:
                    break
        events.append(ChainEvent("issue", anchor["block"], 0, anchor["issuer"], "", 0, b"", b""))
        events.reverse()
        return events
