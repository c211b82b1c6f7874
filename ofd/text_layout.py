"""Placing text in a box: glyph advances, line breaks and alignment, in millimetres.

OFD positions each glyph itself (TextCode X/Y and DeltaX), so the layout is computed here once
and the same numbers serve every renderer. Wide (CJK) characters advance one em, others about
half; that matches the fonts we reference closely enough for certificate faces.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import lru_cache

PT_TO_MM = 25.4 / 72
ASCENT = 0.88  # baseline below the top of a line, in em


@lru_cache(maxsize=4096)
def em_width(ch: str) -> float:
    if unicodedata.east_asian_width(ch) in ("W", "F"):
        return 1.0
    if ch == " ":
        return 0.3
    return 0.55


@dataclass(frozen=True)
class Line:
    text: str
    x: float          # of the first glyph, from the box's left edge
    baseline: float   # from the box's top edge
    advances: tuple[float, ...]  # between consecutive glyphs (OFD DeltaX)


def _widths(text: str, size: float) -> list[float]:
    return [em_width(c) * size for c in text]


def _break(text: str, size: float, width: float) -> list[str]:
    lines: list[str] = []
    for para in text.split("\n"):
        line, used = "", 0.0
        for ch in para:
            w = em_width(ch) * size
            if line and used + w > width:
                lines.append(line)
                line, used = "", 0.0
                if ch == " ":
                    continue
            line += ch
            used += w
        lines.append(line)
    return lines


def layout(text: str, box_width: float, box_height: float, size_pt: float, align: str = "left",
           wrap: bool = False, line_spacing: float = 1.3) -> list[Line]:
    """Lines that fit the box; text that does not fit vertically is cut (never drawn outside)."""
    size = size_pt * PT_TO_MM
    raw_lines = _break(text, size, box_width) if wrap else [text.replace("\n", " ")]
    out = []
    for i, chunk in enumerate(raw_lines):
        top = i * size * line_spacing
        if i and top + size > box_height + 1e-6:
            break
        widths = _widths(chunk, size)
        total = sum(widths)
        if align == "center":
            x = max(0.0, (box_width - total) / 2)
        elif align == "right":
            x = max(0.0, box_width - total)
        else:
            x = 0.0
        out.append(Line(chunk, round(x, 3), round(top + size * ASCENT, 3), tuple(round(w, 3) for w in widths[:-1])))
    return out
