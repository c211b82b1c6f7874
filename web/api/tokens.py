"""API tokens for programs: signed, IP-bound, short-lived; no table, no schema change.

A program cannot fill in the login form and echo a CSRF token, so it exchanges a user name and
password for a token (POST /api/v1/auth/token, the password check and lockout of the login page)
and sends it as ``Authorization: Bearer <token>``. The token is as strong as the session cookie
and no stronger: the same secret key (under its own salt, so neither can be replayed as the
other), bound to the client IP like the session (and like the standard's Token service, 需要绑定
访问IP地址), and valid for the session lifetime. It carries a fingerprint of the password hash, so
changing the password ends every token; locking or disabling the account ends them at the next
request because the account is read on every call. Requests with a token are exempt from CSRF
checks (no browser adds the header on its own); requests with the session cookie keep them.
"""

from __future__ import annotations

import hashlib

from flask import current_app
from itsdangerous import BadSignature, URLSafeTimedSerializer

from issuance import accounts
from issuance.context import Actor
from issuance.models import User

from ..app import current_platform

SALT = "certledger.api-token.v1"


def lifetime_seconds() -> int:
    return int(current_app.permanent_session_lifetime.total_seconds())


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key, salt=SALT)


def _password_stamp(user: User) -> str:
    return hashlib.sha256(user.password_hash.encode()).hexdigest()[:16]


def issue(user: User, ip: str) -> str:
    return _serializer().dumps({"u": user.id, "ip": ip, "pw": _password_stamp(user)})


def actor_for_token(token: str, ip: str) -> Actor | None:
    """The actor a token stands for, or None when it is forged, expired, from another IP or stale."""
    if len(token) > 1024:
        return None
    try:
        claims = _serializer().loads(token, max_age=lifetime_seconds())
    except BadSignature:  # SignatureExpired is a subclass
        return None
    if not isinstance(claims, dict) or claims.get("ip") != ip or not isinstance(claims.get("u"), int):
        return None
    platform = current_platform()
    with platform.uow() as uow:
        user = uow.session.get(User, claims["u"])
        if user is None or not user.active or user.locked or claims.get("pw") != _password_stamp(user):
            return None
        return accounts.actor_for(uow, user, platform.policy, ip)
