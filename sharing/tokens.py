"""AccessToken of the Token service (DB23/T 2836 7.3.1): valid for the day, bound to AccountId and IP.

"获取的Token当天有效，需要绑定访问IP地址": the token names the account, the caller's IP and the
day (Beijing time) it was issued on, and is signed with the app's secret key under its own salt,
as the entry API's tokens are (``web.api.tokens``), so neither kind can be replayed as the other
and nothing is stored: any number of server threads or processes check it alike. A token is
refused as *expired* from the next day on, as *of another IP* when presented from another
address, and as *invalid* when forged, truncated, or presented with another AccountId.

Being approved is not carried in the token: every call also authenticates the account and IP
against the client-system list, so an account disabled at noon stops at noon, not at midnight.

The clock is injectable (``app.config["SHARING_CLOCK"]``, a callable returning an aware
datetime) so that tests can move to the next day.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, time, timedelta, timezone
from typing import Callable

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer

SALT = "certledger.sharing-access-token.v1"
BEIJING = timezone(timedelta(hours=8), "CST")  # China has one time zone and no daylight saving
MAX_TOKEN_LENGTH = 512
MAX_REMEMBERED = 50_000  # tokens whose signature was checked, per process (one per account and IP per day)


def now() -> datetime:
    """The current time in Beijing, from the injected clock when the app has one."""
    clock: Callable[[], datetime] | None = current_app.config.get("SHARING_CLOCK")
    moment = clock() if clock is not None else datetime.now(BEIJING)
    return moment.astimezone(BEIJING)


def end_of_day(moment: datetime) -> datetime:
    """The last second of ``moment``'s day in Beijing: when a token issued then stops working."""
    day = moment.astimezone(BEIJING).date()
    return datetime.combine(day, time(23, 59, 59), BEIJING)


class TokenProblem(enum.Enum):
    INVALID = "invalid"
    EXPIRED = "expired"
    OTHER_IP = "other_ip"


@dataclass(frozen=True)
class Issued:
    token: str
    expires_at: datetime


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.secret_key, salt=SALT)


def issue(account_id: str, ip: str) -> Issued:
    moment = now()
    token = _serializer().dumps({"a": account_id, "ip": ip, "d": moment.date().isoformat()})
    return Issued(token, end_of_day(moment))


def _claims(token: str) -> object | None:
    """The signed content of ``token``, or None if its signature is bad.

    Signatures already checked are remembered per app (its secret key) and process: a client
    sends the same token all day, and the HMAC and base64 work was a tenth of a verification.
    """
    seen: dict[str, object] = current_app.extensions.setdefault("sharing.verified_tokens", {})
    claims = seen.get(token)
    if claims is not None:
        return claims
    try:
        claims = _serializer().loads(token)
    except BadSignature:
        return None
    if len(seen) >= MAX_REMEMBERED:
        seen.clear()
    seen[token] = claims
    return claims


def check(token: str, account_id: str, ip: str) -> TokenProblem | None:
    """None when ``token`` is good for ``account_id`` calling from ``ip`` today; else what is wrong."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return TokenProblem.INVALID
    claims = _claims(token)
    if claims is None:
        return TokenProblem.INVALID
    if not isinstance(claims, dict) or claims.get("a") != account_id or not isinstance(claims.get("d"), str):
        return TokenProblem.INVALID
    if claims.get("ip") != ip:
        return TokenProblem.OTHER_IP
    today = now().date().isoformat()
    if claims["d"] < today:
        return TokenProblem.EXPIRED
    if claims["d"] > today:  # signed by us for a day not yet come: a clock turned back; not usable
        return TokenProblem.INVALID
    return None
