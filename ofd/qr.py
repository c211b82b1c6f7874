"""The anti-forgery QR code (防伪二维码): the certificate's verification URL, ASCII only.

Non-ASCII characters would be encoded differently by different readers, so the URL is
percent-encoded first; the code uses error correction level M and a quiet zone, as scanners expect.
"""

from __future__ import annotations

import io
from urllib.parse import quote

import segno


def verification_url(base_url: str, identifier: str) -> str:
    url = f"{base_url.rstrip('/')}/verify/{quote(identifier, safe='.-')}"
    return quote(url, safe=":/?&=%#.-_~")


def qr_png(payload: str, scale: int = 4) -> bytes:
    if not payload.isascii():
        raise ValueError("the QR payload must be ASCII (percent-encode the URL)")
    buf = io.BytesIO()
    segno.make(payload, error="m", micro=False).save(buf, kind="png", scale=scale, border=4)
    return buf.getvalue()
