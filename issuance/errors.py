"""Domain errors. Each carries a message meant for the person who caused it."""

from __future__ import annotations


class DomainError(Exception):
    """Base of every refusal by the domain; ``code`` is stable for APIs and tests."""

    code = "domain_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ValidationError(DomainError):
    """Bad input. ``errors`` maps a field name (or ``row N: field``) to what is wrong with it."""

    code = "invalid"

    def __init__(self, errors: dict[str, str] | str, message: str | None = None) -> None:
        if isinstance(errors, str):
            errors = {"": errors}
        self.errors = dict(errors)
        text = message or "; ".join(f"{k}: {v}" if k else v for k, v in self.errors.items())
        super().__init__(text)


class NotFound(DomainError):
    code = "not_found"


class PermissionDenied(DomainError):
    code = "forbidden"


class Conflict(DomainError):
    """The change would duplicate something that must be unique."""

    code = "conflict"


class IllegalTransition(DomainError):
    code = "illegal_transition"

    def __init__(self, kind: str, ident: object, current: str, target: str, hint: str = "") -> None:
        msg = f"{kind} {ident}: cannot go from '{current}' to '{target}'"
        super().__init__(msg + (f" ({hint})" if hint else ""))
        self.current, self.target = current, target


class AuthenticationFailed(DomainError):
    code = "auth_failed"


class AccountLocked(DomainError):
    code = "account_locked"
