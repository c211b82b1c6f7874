"""The allowed status changes of each kind of item, in one place.

Every status change in the domain goes through ``advance`` so that an illegal change is refused
with the same clear error wherever it is attempted.
"""

from __future__ import annotations

import enum
from typing import Mapping

from .errors import IllegalTransition
from .models import CertificateStatus as C
from .models.org import ReviewState as R
from .models.sharing import UsageStatus as U

CERTIFICATE: Mapping[str, frozenset[str]] = {
    C.DRAFT: frozenset({C.SUBMITTED}),
    C.SUBMITTED: frozenset({C.APPROVED, C.DRAFT}),
    C.APPROVED: frozenset({C.ISSUING, C.SUBMITTED}),
    C.ISSUING: frozenset({C.EFFECTIVE, C.APPROVED}),
    C.EFFECTIVE: frozenset({C.LOST, C.REVOKED, C.REVIEW_OVERDUE, C.SUPERSEDED}),
    C.REVIEW_OVERDUE: frozenset({C.EFFECTIVE, C.LOST, C.REVOKED, C.SUPERSEDED}),
    C.LOST: frozenset({C.REVOKED, C.SUPERSEDED}),
    C.REVOKED: frozenset(),
    C.SUPERSEDED: frozenset(),
}

DEPARTMENT: Mapping[str, frozenset[str]] = {
    R.DRAFT: frozenset({R.SUBMITTED}),
    R.SUBMITTED: frozenset({R.APPROVED, R.REJECTED}),
    R.REJECTED: frozenset({R.SUBMITTED}),
    R.APPROVED: frozenset({R.DISABLED}),
    R.DISABLED: frozenset({R.SUBMITTED}),
}

CERTIFICATE_TYPE: Mapping[str, frozenset[str]] = {
    R.DRAFT: frozenset({R.SUBMITTED}),
    R.SUBMITTED: frozenset({R.APPROVED, R.DRAFT}),
    R.APPROVED: frozenset({R.DISABLED}),
    R.REJECTED: frozenset({R.SUBMITTED}),
    R.DISABLED: frozenset(),
}

CATALOG: Mapping[str, frozenset[str]] = {
    R.DRAFT: frozenset({R.SUBMITTED}),
    R.SUBMITTED: frozenset({R.APPROVED, R.REJECTED}),
    R.REJECTED: frozenset({R.SUBMITTED}),
    R.APPROVED: frozenset({R.SUBMITTED, R.DISABLED}),  # re-registration goes back to review
    R.DISABLED: frozenset(),                            # "禁用操作不能恢复"
}

# a disabled client system may be edited and sent back to review; its next approval issues a new AccountId
CLIENT_SYSTEM: Mapping[str, frozenset[str]] = {
    R.DRAFT: frozenset({R.SUBMITTED}),
    R.SUBMITTED: frozenset({R.APPROVED, R.REJECTED, R.DISABLED}),
    R.REJECTED: frozenset({R.SUBMITTED, R.DISABLED}),
    R.APPROVED: frozenset({R.SUBMITTED, R.DISABLED}),
    R.DISABLED: frozenset({R.SUBMITTED}),
}

USAGE: Mapping[str, frozenset[str]] = {
    U.DRAFT: frozenset({U.SUBMITTED}),
    U.SUBMITTED: frozenset({U.APPROVED, U.REJECTED, U.WITHDRAWN}),
    U.APPROVED: frozenset({U.WITHDRAWN}),
    U.REJECTED: frozenset({U.WITHDRAWN}),
    U.WITHDRAWN: frozenset(),
}

MACHINES: dict[str, Mapping[str, frozenset[str]]] = {
    "certificate": CERTIFICATE,
    "department": DEPARTMENT,
    "certificate_type": CERTIFICATE_TYPE,
    "catalog": CATALOG,
    "client_system": CLIENT_SYSTEM,
    "usage": USAGE,
}

FINAL_HINTS = {
    C.REVOKED: "a revoked certificate is final",
    C.SUPERSEDED: "a superseded certificate is final; change the newest version",
    R.DISABLED: "a disabled catalog cannot be restored",
}


def _value(state: object) -> str:
    return state.value if isinstance(state, enum.Enum) else str(state)


def check(kind: str, ident: object, current: object, target: object) -> None:
    cur, tgt = _value(current), _value(target)
    if tgt not in MACHINES[kind].get(cur, frozenset()):
        raise IllegalTransition(kind, ident, cur, tgt, FINAL_HINTS.get(cur, ""))


def advance(kind: str, item, target: object) -> None:
    """Move ``item.status`` to ``target`` if the machine of ``kind`` allows it."""
    check(kind, getattr(item, "identifier", None) or item.id, item.status, target)
    item.status = type(item.status)(_value(target))
