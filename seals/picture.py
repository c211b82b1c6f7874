"""Seal pictures: uploaded ones normalised to transparent PNG, or generated in four styles.

Generated seals follow the look of the seal platform: a red ring, a five-pointed star in the
middle, the organisation's name along the upper arc, and for some styles a line of text under the
star and a code along the lower arc. Drawn four times larger and scaled down for smooth edges.
A picture is made once per seal and reused for every document it seals.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass

from PIL import Image, ImageChops, ImageDraw, UnidentifiedImageError

from ofd.fonts import pil_font

RED = (230, 0, 18, 255)
MM_PER_INCH = 25.4
ALLOWED_UPLOADS = {"JPEG", "PNG", "GIF"}
MAX_UPLOAD_BYTES = 5 * 1024 * 1024
MAX_UPLOAD_PIXELS = 4000 * 4000


class PictureError(ValueError):
    pass


@dataclass(frozen=True)
class Style:
    """Proportions of a style, as fractions of the seal's radius."""

    label: str
    ring: float          # ring width
    inner_ring: float    # 0 for none; else radius of a thin inner ring
    star: float          # star's outer radius
    arc_text: float      # radius on which the name sits
    arc_span: float      # degrees the name spans
    text_size: float
    bottom_line: bool    # a horizontal line of text below the star
    bottom_arc: bool     # a code along the lower arc


STYLES: dict[str, Style] = {
    "party": Style("党政机关、纪委公章", ring=0.055, inner_ring=0.0, star=0.30, arc_text=0.72, arc_span=250,
                   text_size=0.20, bottom_line=False, bottom_arc=False),
    "official": Style("普通公章", ring=0.05, inner_ring=0.0, star=0.26, arc_text=0.72, arc_span=230,
                      text_size=0.19, bottom_line=True, bottom_arc=True),
    "union": Style("工会章", ring=0.05, inner_ring=0.86, star=0.24, arc_text=0.64, arc_span=220,
                   text_size=0.17, bottom_line=True, bottom_arc=False),
    "league": Style("团委章", ring=0.04, inner_ring=0.0, star=0.22, arc_text=0.72, arc_span=220,
                    text_size=0.18, bottom_line=True, bottom_arc=False),
}


def _star(draw: ImageDraw.ImageDraw, cx: float, cy: float, r: float) -> None:
    points = []
    for i in range(10):
        radius = r if i % 2 == 0 else r * 0.382
        angle = math.radians(-90 + i * 36)
        points.append((cx + radius * math.cos(angle), cy + radius * math.sin(angle)))
    draw.polygon(points, fill=RED)


def _glyph(ch: str, size: int, angle_deg: float) -> Image.Image:
    font = pil_font(size, "serif", bold=True)
    box = font.getbbox(ch)
    w, h = box[2] - box[0], box[3] - box[1]
    img = Image.new("RGBA", (int(size * 1.2), int(size * 1.2)), (0, 0, 0, 0))
    ImageDraw.Draw(img).text(((img.width - w) / 2 - box[0], (img.height - h) / 2 - box[1]), ch, font=font, fill=RED)
    return img.rotate(-angle_deg, resample=Image.BICUBIC, expand=True)


def _arc_text(img: Image.Image, text: str, cx: float, cy: float, radius: float, span: float, size: int,
              bottom: bool = False) -> None:
    """Characters spread over ``span`` degrees of the upper (or lower) arc, upright to the centre."""
    n = len(text)
    if not n:
        return
    step = span / max(n - 1, 1) if n > 1 else 0
    start = -span / 2 if n > 1 else 0
    for i, ch in enumerate(text):
        a = start + i * step                 # 0 = top centre, clockwise positive
        if bottom:
            a = 180 - a                      # left to right along the bottom, reading outward
        rad = math.radians(a - 90)
        x, y = cx + radius * math.cos(rad), cy + radius * math.sin(rad)
        glyph = _glyph(ch, size, a + (180 if bottom else 0))
        img.alpha_composite(glyph, (int(x - glyph.width / 2), int(y - glyph.height / 2)))


def generate(style: str, text: str, bottom_text: str = "", code: str = "", size_mm: float = 42,
             dpi: int = 300) -> bytes:
    """A transparent PNG seal of ``size_mm`` (default 42 mm x 42 mm) at ``dpi``."""
    if style not in STYLES:
        raise PictureError(f"style is one of: {', '.join(STYLES)}")
    text = text.strip()
    if not 1 <= len(text) <= 40:
        raise PictureError("the seal text is 1-40 characters")
    s = STYLES[style]
    px = max(64, round(size_mm / MM_PER_INCH * dpi))
    big = px * 4
    img = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    draw = ImageDraw.Draw(img)
    r = big / 2
    ring = max(2, int(r * s.ring))
    draw.ellipse([ring / 2, ring / 2, big - ring / 2, big - ring / 2], outline=RED, width=ring)
    if s.inner_ring:
        ir = r * s.inner_ring
        draw.ellipse([r - ir, r - ir, r + ir, r + ir], outline=RED, width=max(2, ring // 3))
    _star(draw, r, r, r * s.star)
    radius = r * s.arc_text
    n = len(text)
    span = 30 * n if n <= 4 else s.arc_span
    if n > 4:
        # long names take more of the circle (up to 300 degrees), then smaller characters
        wanted = n * r * s.text_size * 1.05 / radius  # radians the characters need at full size
        span = min(300.0, max(span, math.degrees(wanted)))
    spacing = radius * math.radians(span / max(n - 1, 1))
    glyph_size = int(min(r * s.text_size, spacing * 0.92)) if n > 1 else int(r * s.text_size)
    _arc_text(img, text, r, r, radius, span, glyph_size)
    if s.bottom_line and bottom_text:
        font = pil_font(int(r * 0.14), "serif", bold=True)
        w = font.getlength(bottom_text)
        draw.text((r - w / 2, r + r * s.star * 1.15), bottom_text, font=font, fill=RED)
    if s.bottom_arc and code:
        _arc_text(img, code, r, r, r * 0.80, min(100, 9 * len(code)), int(r * 0.08), bottom=True)
    out = io.BytesIO()
    img.resize((px, px), Image.LANCZOS).save(out, format="PNG", optimize=False)
    return out.getvalue()


def normalise_upload(data: bytes, max_side: int = 800) -> bytes:
    """Check an uploaded seal picture and return it as a transparent PNG cropped to the seal.

    White and near-white pixels become transparent, so a scan on white paper stamps cleanly.
    """
    if len(data) > MAX_UPLOAD_BYTES:
        raise PictureError("the picture is larger than 5 MB")
    try:
        with Image.open(io.BytesIO(data)) as probe:
            fmt = probe.format
            if fmt not in ALLOWED_UPLOADS:
                raise PictureError("upload a JPG, JPEG, PNG or GIF picture")
            if probe.width * probe.height > MAX_UPLOAD_PIXELS:
                raise PictureError("the picture has too many pixels")
            probe.verify()
        with Image.open(io.BytesIO(data)) as im:
            im.seek(0)
            rgba = im.convert("RGBA")
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError, SyntaxError):
        raise PictureError("the file is not a readable picture") from None
    r, g, b, a = rgba.split()
    near_white = [c.point(lambda v: 255 if v > 225 else 0) for c in (r, g, b)]
    white = ImageChops.multiply(ImageChops.multiply(near_white[0], near_white[1]), near_white[2])
    rgba.putalpha(ImageChops.subtract(a, white))
    box = rgba.getbbox()
    if box is None:
        raise PictureError("the picture is empty (all white or transparent)")
    rgba = rgba.crop(box)
    rgba.thumbnail((max_side, max_side), Image.LANCZOS)
    out = io.BytesIO()
    rgba.save(out, format="PNG")
    return out.getvalue()
