"""Short-lived signed download links for layout files (OFD, PDF) and pictures (PNG).

The file methods answer with a ``fileUrl`` (appendix C.2) rather than the file itself. The URL
carries a token signed with the app's secret key (own salt), naming the certificate, the kind of
file, the AccountId it was made for and its expiry (five minutes by default,
``app.config["SHARING_LINK_SECONDS"]``). Nothing is stored, so the link works on any server
process; downloading it checks, besides signature and expiry, that the account is still approved
and calls from one of its bound IPs and that its usage still covers the certificate's type: a
link that leaks out of the calling system is useless elsewhere and soon dead.

The expiry is read from the same injectable clock as the access tokens (``tokens.now``).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer

from . import tokens

SALT = "certledger.sharing-file-link.v1"
DEFAULT_SECONDS = 300
MAX_LINK_LENGTH = 1024

# kind -> (file format named in the answer, content type served)
KINDS: dict[str, tuple[str, str]] = {
    "ofd": ("ofd", "application/ofd"),
    "pdf": ("pdf", "application/pdf"),
    "png": ("png", "image/png"),
}


class LinkProblem(enum.Enum):
    INVALID = "invalid"
    EXPIRED = "expired"


@dataclass(frozen=True)
class Link:
    identifier: str
    kind: str
    account_id: str
    expires: int  # Unix seconds


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.secret_key, salt=SALT)


def lifetime_seconds() -> int:
    return int(current_app.config.get("SHARING_LINK_SECONDS", DEFAULT_SECONDS))


def make(identifier: str, kind: str, account_id: str) -> tuple[str, int]:
    """(the URL path of a signed link to the ``kind`` file of ``identifier``, its expiry in Unix seconds)."""
    if kind not in KINDS:
        raise ValueError(f"unknown file kind {kind!r}")
    expires = int(tokens.now().timestamp()) + lifetime_seconds()
    token = _serializer().dumps({"i": identifier, "k": kind, "a": account_id, "e": expires})
    return f"/sharing/file/{token}.{kind}", expires


def read(name: str) -> Link | LinkProblem:
    """The link a ``/sharing/file/<name>`` stands for, or what is wrong with it.

    ``name`` is the token with the file's extension (the extension must match the signed kind).
    """
    if not name or len(name) > MAX_LINK_LENGTH:
        return LinkProblem.INVALID
    token, dot, ext = name.rpartition(".")
    if not dot or ext not in KINDS:
        return LinkProblem.INVALID
    try:
        claims = _serializer().loads(token)
    except BadSignature:
        return LinkProblem.INVALID
    if not isinstance(claims, dict) or claims.get("k") != ext or not isinstance(claims.get("e"), int) \
            or not isinstance(claims.get("i"), str) or not isinstance(claims.get("a"), str):
        return LinkProblem.INVALID
    if tokens.now().timestamp() > claims["e"]:
        return LinkProblem.EXPIRED
    return Link(claims["i"], ext, claims["a"], claims["e"])
