"""The CJK fonts the renderers use, from Debian's fonts-noto-cjk (installed by the set-up).

The collections hold one face per region; the Simplified Chinese face is found by its name, not
by a fixed index, so a font update that reorders the collection changes nothing here.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

SEARCH = (Path("/usr/share/fonts/opentype/noto"), Path("/usr/share/fonts/truetype/noto"),
          Path("/usr/local/share/fonts"))
FILES = {
    ("serif", False): "NotoSerifCJK-Regular.ttc", ("serif", True): "NotoSerifCJK-Bold.ttc",
    ("sans", False): "NotoSansCJK-Regular.ttc", ("sans", True): "NotoSansCJK-Bold.ttc",
}


class FontMissing(RuntimeError):
    pass


@dataclass(frozen=True)
class FontFace:
    path: Path
    index: int
    name: str


@lru_cache(maxsize=None)
def cjk_face(style: str = "serif", bold: bool = False) -> FontFace:
    """The Simplified Chinese face of a Noto CJK collection."""
    from PIL import ImageFont

    key = ("sans" if style == "sans" else "serif", bold)
    for folder in SEARCH:
        path = folder / FILES[key]
        if not path.exists():
            continue
        for index in range(16):
            try:
                family, _ = ImageFont.truetype(str(path), 12, index=index).getname()
            except OSError:
                break
            if family.endswith("CJK SC"):
                return FontFace(path, index, family)
    raise FontMissing(f"CJK font {FILES[key]} not found: install Debian's fonts-noto-cjk")


def pil_font(size_px: int, style: str = "serif", bold: bool = False):
    from PIL import ImageFont

    face = cjk_face(style, bold)
    return ImageFont.truetype(str(face.path), size_px, index=face.index)


PDF_FONT_FILES = (Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"),)


@lru_cache(maxsize=None)
def pdf_font_name() -> str:
    """A CJK font registered with reportlab for embedding (subset) in PDFs.

    reportlab embeds TrueType outlines only; the Noto CJK collections are CFF-based, so PDFs use
    WenQuanYi Zen Hei (Debian's fonts-wqy-zenhei) instead.
    """
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    for path in PDF_FONT_FILES:
        if path.exists():
            pdfmetrics.registerFont(TTFont("CertLedgerCJK", str(path), subfontIndex=0))
            return "CertLedgerCJK"
    raise FontMissing("no TrueType CJK font for PDFs: install Debian's fonts-wqy-zenhei")
