"""Reading the chain ledger: what a writing ledger and a read-only one answer alike.

Statuses, roots and issuers come from the chain follower (the contracts' state rebuilt from
their logs, with the block it reflects); a certificate's history is walked from its logs. Where a
certificate sits (digest, batch root, proof) is asked of ``_locate``: the writing ledger keeps it
in its chain index, a read-only one (a web worker) is handed it by the caller. Either way it is a
claim the chain checks: a proof that does not lead to an anchored root finds nothing.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Mapping, Sequence

from chain_client.contracts import type_code_id
from chain_client.reader import LedgerReader

from ..interface import CertificateState, EventKind, EventRecord, IssuerInfo, LedgerError, LedgerStatus, RootInfo
from ..merkle import verify_proof
from .follower import STATUS, ChainFollower


@dataclass(frozen=True)
class Located:
    """Where a certificate sits on the chain, as its anchoring recorded it."""

    digest: bytes
    root: bytes
    proof: tuple[bytes, ...]

    @classmethod
    def from_hex(cls, digest: str, root: str, proof: Sequence[str]) -> "Located":
        """From the hex strings anchoring records keep; ValueError if one is not hex."""
        return cls(bytes.fromhex(digest), bytes.fromhex(root), tuple(bytes.fromhex(p) for p in proof))


def now() -> datetime:
    return datetime.now(timezone.utc)


def unreachable_is_ledger_error(fn):
    """A node that is down or restarting is a LedgerError the caller can wait on, not a crash."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except (OSError, TimeoutError) as exc:
            raise LedgerError(f"the chain is unavailable: {type(exc).__name__}") from None
    return wrapper


class FollowedReads:
    """The read side of the Ledger interface; needs ``w3``, ``follower``, ``reader`` and the two hooks."""

    w3: object
    follower: ChainFollower
    reader: LedgerReader

    def _locate(self, certificate_id: str) -> Located | None:
        raise NotImplementedError

    def _issuers(self) -> Mapping[str, Mapping]:
        """Issuer code -> {"address", "type_codes"} for the issuers this deployment registered."""
        raise NotImplementedError

    def _issuer_code(self, address: str) -> tuple[str, Mapping | None]:
        for code, rec in self._issuers().items():
            if rec["address"].lower() == str(address).lower():
                return code, rec
        return str(address), None

    @unreachable_is_ledger_error
    def status(self, certificate_id: str) -> CertificateState | None:
        """From the follower's copy of the contract's state, with the block it reflects."""
        loc = self._locate(certificate_id)
        if loc is None:
            return None
        as_of = self.follower.follow()
        anchored = self.follower.root(loc.root)
        if anchored is None:
            return None
        st = self.follower.certificate(loc.digest)
        if st is None:  # no event yet: effective if its proof leads to the anchored root
            if not verify_proof(loc.digest, list(loc.proof), loc.root):
                return None
            st = {"status": 1, "last_block": anchored["block"], "due": 0, "superseded_by": ""}
        due = datetime.fromtimestamp(st["due"], timezone.utc).date() if st["due"] else None
        issuer, _ = self._issuer_code(anchored["issuer"])
        return CertificateState(certificate_id, LedgerStatus(STATUS[st["status"]]), issuer, loc.digest, loc.root,
                                anchored["block"], st["last_block"], due, None, as_of)

    @unreachable_is_ledger_error
    def history(self, certificate_id: str) -> list[EventRecord]:
        loc = self._locate(certificate_id)
        if loc is None:
            return []
        self.follower.follow()
        anchored = self.follower.root(loc.root)
        issuer = self._issuer_code(anchored["issuer"])[0] if anchored else ""
        out = []
        for e in self.reader.history(loc.digest, loc.root, list(loc.proof)):
            due = datetime.fromtimestamp(e.next_review_due, timezone.utc).date() if e.next_review_due else None
            out.append(EventRecord(certificate_id, EventKind(e.kind), issuer, e.block, e.prev_block,
                                   e.tx_hash, now(), actor=e.actor, next_review_due=due,
                                   digest=loc.digest if e.kind == "issue" else None,
                                   root=loc.root if e.kind == "issue" else None))
        return out

    @unreachable_is_ledger_error
    def root_info(self, root: bytes) -> RootInfo | None:
        self.follower.follow()
        info = self.follower.root(root)
        if info is None:
            return None
        # the contract knows accounts and type-code hashes; answer in issuer and type codes, as the local store does
        issuer, rec = self._issuer_code(info["issuer"])
        type_code = info["type_code"]
        if rec is not None:
            type_code = next((t for t in rec["type_codes"] if type_code_id(t).hex() == info["type_code"]), type_code)
        return RootInfo(root, issuer, type_code, info["count"], info["block"], now())

    @unreachable_is_ledger_error
    def issuer_info(self, issuer: str) -> IssuerInfo | None:
        rec = self._issuers().get(issuer)
        if rec is None:
            return None
        self.follower.follow()
        acc = self.follower.account(rec["address"])
        if acc is None:
            return None
        # the registry knows type-code hashes; answer in the codes this deployment registered
        codes = frozenset(t for t in rec["type_codes"] if type_code_id(t).hex() in acc["types"])
        return IssuerInfo(issuer, acc["name"], codes, acc["active"])

    @unreachable_is_ledger_error
    def head(self) -> int:
        return self.w3.eth.block_number

