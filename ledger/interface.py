"""What the domain may ask of a ledger, whichever backend keeps it.

The shapes mirror the contracts of the chain backend, so that a local store's history can be
replayed onto a chain (backfill) event for event: batches of certificate digests are anchored as
Merkle roots (keccak256, sorted pairs, OpenAttestation style), lifecycle events are recorded per
certificate with a link to that certificate's previous event, and the ledger keeps each
certificate's status itself so that a verifier never has to trust our database.
"""

from __future__ import annotations

import abc
import enum
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Sequence


class LedgerError(Exception):
    """A request the ledger refuses (unknown certificate, unauthorised issuer, final status...)."""


class EventKind(str, enum.Enum):
    ISSUE = "issue"                  # written by anchor_batch for each certificate of the batch
    REPORT_LOSS = "report_loss"
    REVOKE = "revoke"
    ANNUAL_REVIEW = "annual_review"
    CHANGE = "change"                # superseded by a new version (its digest is recorded)


class LedgerStatus(str, enum.Enum):
    EFFECTIVE = "effective"
    LOST = "lost"
    REVOKED = "revoked"        # final
    SUPERSEDED = "superseded"  # final


@dataclass(frozen=True)
class AnchorItem:
    certificate_id: str  # GB/T 36904 identifier
    digest: bytes        # 32 bytes, keccak256 of the canonical certificate data


@dataclass(frozen=True)
class BatchReceipt:
    root: bytes
    ref: str       # where it was written: "local:<seq>" or a transaction hash
    block: int     # log sequence number (local) or block number (chain)
    proofs: dict[str, list[bytes]]  # certificate_id -> sibling hashes, leaf to root
    at: datetime


@dataclass(frozen=True)
class LifecycleEvent:
    certificate_id: str
    kind: EventKind
    issuer: str                      # the issuing department's ledger identity
    actor: str = ""                  # who did it (user name), for the record
    reason: str = ""
    next_review_due: date | None = None     # ANNUAL_REVIEW
    superseded_by: str | None = None        # CHANGE: identifier of the new version
    superseded_by_digest: bytes | None = None


@dataclass(frozen=True)
class EventReceipt:
    certificate_id: str
    kind: EventKind
    ref: str
    block: int
    at: datetime


@dataclass(frozen=True)
class EventRecord:
    """One entry of a certificate's history, as the ledger holds it."""

    certificate_id: str
    kind: EventKind
    issuer: str
    block: int
    prev_block: int        # block of this certificate's previous event, 0 for the first
    ref: str
    at: datetime
    actor: str = ""
    reason: str = ""
    digest: bytes | None = None        # ISSUE
    root: bytes | None = None          # ISSUE
    next_review_due: date | None = None
    superseded_by: str | None = None
    superseded_by_digest: bytes | None = None


@dataclass(frozen=True)
class CertificateState:
    certificate_id: str
    status: LedgerStatus
    issuer: str
    digest: bytes
    root: bytes
    issued_block: int
    last_block: int
    next_review_due: date | None = None
    superseded_by: str | None = None
    as_of_block: int | None = None  # the ledger position this state reflects, where it is a local copy


@dataclass(frozen=True)
class RootInfo:
    root: bytes
    issuer: str
    type_code: str
    count: int
    block: int
    at: datetime


@dataclass(frozen=True)
class IssuerInfo:
    issuer: str
    name: str
    type_codes: frozenset[str] = field(default_factory=frozenset)
    active: bool = True


def check_batch(items: Sequence[AnchorItem]) -> list[str]:
    """The rules every backend applies to a batch before anchoring it; returns the ids."""
    if not items:
        raise LedgerError("an anchored batch needs at least one certificate")
    ids = [i.certificate_id for i in items]
    if len(set(ids)) != len(ids):
        raise LedgerError("a certificate appears twice in the batch")
    if any(len(i.digest) != 32 for i in items):
        raise LedgerError("certificate digests are 32 bytes")
    return ids


class Ledger(abc.ABC):
    """Implemented by ``ledger.local.LocalLedger`` and ``ledger.chain.ChainLedger``."""

    # the most lifecycle events one record_events call takes: a chain transaction must fit in a block
    max_events_per_call: int = 10_000

    # --- issuer registry (governed by admins) ---
    @abc.abstractmethod
    def register_issuer(self, issuer: str, name: str, type_codes: Sequence[str]) -> IssuerInfo:
        """Add an issuer or replace its type codes; re-activates a suspended issuer."""

    @abc.abstractmethod
    def suspend_issuer(self, issuer: str) -> None: ...

    @abc.abstractmethod
    def issuer_info(self, issuer: str) -> IssuerInfo | None: ...

    # --- writing ---
    @abc.abstractmethod
    def anchor_batch(self, issuer: str, type_code: str, items: Sequence[AnchorItem]) -> BatchReceipt:
        """Anchor the Merkle root of ``items`` and mark each certificate effective.

        Refused when the issuer is unknown, suspended or not allowed the type code, when the
        batch is empty or a certificate id appears twice or is already on the ledger.
        """

    @abc.abstractmethod
    def record_events(self, events: Sequence[LifecycleEvent]) -> list[EventReceipt]:
        """Record lifecycle events atomically: all are written, or none (LedgerError)."""

    def record_event(self, event: LifecycleEvent) -> EventReceipt:
        return self.record_events([event])[0]

    # --- reading ---
    @abc.abstractmethod
    def status(self, certificate_id: str) -> CertificateState | None: ...

    @abc.abstractmethod
    def history(self, certificate_id: str) -> list[EventRecord]:
        """Oldest first, found by following each event's link to the previous one."""

    @abc.abstractmethod
    def root_info(self, root: bytes) -> RootInfo | None: ...

    def verify_inclusion(self, digest: bytes, proof: Sequence[bytes], root: bytes) -> bool:
        """True when the proof leads from the digest to a root this ledger has anchored."""
        from .merkle import verify_proof

        return verify_proof(digest, proof, root) and self.root_info(root) is not None

    @abc.abstractmethod
    def head(self) -> int:
        """The latest block (chain) or log sequence number (local) this ledger reflects."""

    def close(self) -> None:  # noqa: B027 - optional for backends without resources
        pass
