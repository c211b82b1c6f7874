"""The login captcha: a distorted picture of a few letters and digits drawn by the app with Pillow.

The session (a signed, not encrypted, cookie) keeps only an HMAC of the answer with a nonce and the
time it was drawn, never the answer itself. A challenge is single use: checking it removes it from
the session, and its nonce joins a per-process list of used nonces so that replaying an older
cookie within the lifetime is refused too (per worker process; the lifetime bounds the rest).
Answers are case-insensitive and expire after ``CAPTCHA_TTL_SECONDS`` (default 180).

Tests need the answer: with ``app.config["CAPTCHA_TEST_ANSWER"]`` true (off by default; the
environment variable ``CERTLEDGER_TEST_CAPTCHA_ANSWER=1`` sets it for a test server) the picture's
response carries it in the ``X-Captcha-Answer`` header. Never set it in production.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import logging
import math
import os
import secrets
import threading
import time
from collections import OrderedDict

from flask import Blueprint, Response, current_app, session
from PIL import Image, ImageDraw, ImageFilter, ImageFont

bp = Blueprint("captcha", __name__)
log = logging.getLogger(__name__)

# no 0/O, 1/I/L, 2/Z, 5/S, 8/B: letters a person can tell apart in a distorted picture
ALPHABET = "34679ACDEFGHJKMNPQRTUVWXY"
LENGTH = 4
WIDTH, HEIGHT = 132, 44
DEFAULT_TTL = 180
SESSION_KEY = "captcha"
TEST_ENV = "CERTLEDGER_TEST_CAPTCHA_ANSWER"

# outcomes of check()
OK, MISSING, EXPIRED, WRONG = "ok", "missing", "expired", "wrong"


@bp.record_once
def _configure(state) -> None:
    app = state.app
    app.config.setdefault("CAPTCHA_TTL_SECONDS", DEFAULT_TTL)
    app.config.setdefault("CAPTCHA_TEST_ANSWER", os.environ.get(TEST_ENV) == "1")
    if app.config["CAPTCHA_TEST_ANSWER"]:
        log.warning("captcha answers are exposed in a response header (%s): test set-ups only", TEST_ENV)


class _UsedNonces:
    """Nonces already checked in this process, forgotten once they would have expired anyway."""

    def __init__(self, limit: int = 100_000) -> None:
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()
        self._limit = limit

    def claim(self, nonce: str, now: float, ttl: float) -> bool:
        with self._lock:
            while self._seen and (next(iter(self._seen.values())) < now - ttl or len(self._seen) > self._limit):
                self._seen.popitem(last=False)
            if nonce in self._seen:
                return False
            self._seen[nonce] = now
            return True


_used = _UsedNonces()


def _now() -> float:
    return time.time()


def _digest(nonce: str, answer: str) -> str:
    key = current_app.config["SECRET_KEY"]
    key = key.encode() if isinstance(key, str) else key
    return hmac.new(key, f"captcha:{nonce}:{answer.strip().upper()}".encode(), hashlib.sha256).hexdigest()


def new_answer() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))


def _font(size: int) -> ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)  # Pillow's bundled TrueType face (needs FreeType)
    except (TypeError, OSError):
        return ImageFont.load_default()


def render(answer: str) -> bytes:
    """PNG of ``answer``: each character rotated and shifted, noise lines and dots, a wave warp."""
    rnd = secrets.SystemRandom()
    img = Image.new("RGB", (WIDTH, HEIGHT), (244, 246, 250))
    draw = ImageDraw.Draw(img)
    for _ in range(5):  # background lines
        draw.line([(rnd.randint(0, WIDTH), rnd.randint(0, HEIGHT)), (rnd.randint(0, WIDTH), rnd.randint(0, HEIGHT))],
                  fill=(rnd.randint(150, 210), rnd.randint(150, 210), rnd.randint(150, 210)), width=1)
    step = (WIDTH - 16) // len(answer)
    for i, ch in enumerate(answer):
        font = _font(rnd.randint(26, 32))
        glyph = Image.new("RGBA", (40, 44), (0, 0, 0, 0))
        colour = (rnd.randint(10, 90), rnd.randint(20, 90), rnd.randint(80, 160), 255)
        ImageDraw.Draw(glyph).text((8, 2), ch, font=font, fill=colour)
        glyph = glyph.rotate(rnd.uniform(-28, 28), resample=Image.BICUBIC, expand=False)
        img.paste(glyph, (8 + i * step + rnd.randint(-3, 3), rnd.randint(-4, 2)), glyph)
    # a sine warp, column by column
    warped = Image.new("RGB", img.size, (244, 246, 250))
    amplitude, period, phase = rnd.uniform(2, 4), rnd.uniform(28, 44), rnd.uniform(0, 2 * math.pi)
    for x in range(WIDTH):
        dy = int(amplitude * math.sin(2 * math.pi * x / period + phase))
        warped.paste(img.crop((x, 0, x + 1, HEIGHT)), (x, dy))
    draw = ImageDraw.Draw(warped)
    for _ in range(2):  # lines across the text
        draw.line([(0, rnd.randint(8, HEIGHT - 8)), (WIDTH, rnd.randint(8, HEIGHT - 8))],
                  fill=(rnd.randint(40, 120), rnd.randint(40, 120), rnd.randint(120, 180)), width=2)
    for _ in range(120):  # dots
        draw.point((rnd.randrange(WIDTH), rnd.randrange(HEIGHT)),
                   fill=(rnd.randint(60, 200), rnd.randint(60, 200), rnd.randint(60, 200)))
    warped = warped.filter(ImageFilter.SMOOTH)
    out = io.BytesIO()
    warped.save(out, "PNG", optimize=True)
    return out.getvalue()


def issue() -> str:
    """Start a challenge in the session (replacing any earlier one); returns its answer."""
    answer = new_answer()
    nonce = secrets.token_urlsafe(12)
    session[SESSION_KEY] = {"n": nonce, "h": _digest(nonce, answer), "t": int(_now())}
    return answer


def check(given: str) -> str:
    """Check and consume the session's challenge: OK, MISSING, EXPIRED or WRONG."""
    challenge = session.pop(SESSION_KEY, None)
    if not isinstance(challenge, dict) or not {"n", "h", "t"} <= challenge.keys():
        return MISSING
    ttl = float(current_app.config.get("CAPTCHA_TTL_SECONDS", DEFAULT_TTL))
    now = _now()
    if now - float(challenge["t"]) > ttl:
        return EXPIRED
    if not _used.claim(str(challenge["n"]), now, ttl):
        return MISSING  # an older cookie replayed: that challenge was already used
    if not given or not hmac.compare_digest(_digest(str(challenge["n"]), given), str(challenge["h"])):
        return WRONG
    return OK


@bp.route("/captcha.png")
def image() -> Response:
    answer = issue()
    resp = Response(render(answer), mimetype="image/png")
    resp.headers["Cache-Control"] = "no-store"
    if current_app.config.get("CAPTCHA_TEST_ANSWER"):
        resp.headers["X-Captcha-Answer"] = answer
    return resp
