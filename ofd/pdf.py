"""The certificate face as PDF (reportlab, CJK font subset embedded) and as PNG (Pillow)."""

from __future__ import annotations

import io
from functools import lru_cache
from typing import Mapping

from .design import SurfaceDesign
from .face import ImageOp, ImageResolver, TextOp, aligned_x, operations
from .fonts import pdf_font_name, pil_font

MM = 72 / 25.4


def render_pdf(design: SurfaceDesign, values: Mapping[str, str], title: str = "", images: ImageResolver | None = None,
               qr_png: bytes | None = None) -> bytes:
    from reportlab.lib.colors import HexColor
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfbase.pdfmetrics import stringWidth
    from reportlab.pdfgen import canvas

    font = pdf_font_name()
    buf = io.BytesIO()
    page_h = design.height * MM
    c = canvas.Canvas(buf, pagesize=(design.width * MM, page_h), pageCompression=1, invariant=0)
    c.setTitle(title)
    c.setCreator("CertLedger")
    for op in operations(design, values, images, qr_png):
        if isinstance(op, ImageOp):
            c.drawImage(ImageReader(io.BytesIO(op.data)), op.x * MM, page_h - (op.y + op.height) * MM,
                        op.width * MM, op.height * MM, mask="auto")
        else:
            size = op.size_mm * MM
            width = stringWidth(op.text, font, size) / MM
            c.setFillColor(HexColor(op.colour))
            c.setFont(font, size)
            x, y = aligned_x(op, width) * MM, page_h - op.baseline * MM
            c.drawString(x, y, op.text)
            if op.bold:  # the face has no bold weight: overdraw slightly to embolden
                c.drawString(x + 0.25, y, op.text)
    c.showPage()
    c.save()
    return buf.getvalue()


def render_png(design: SurfaceDesign, values: Mapping[str, str], images: ImageResolver | None = None,
               qr_png: bytes | None = None, dpi: int = 150) -> bytes:
    from PIL import Image, ImageDraw

    px = dpi / 25.4
    img = Image.new("RGBA", (round(design.width * px), round(design.height * px)), (255, 255, 255, 255))
    draw = ImageDraw.Draw(img)
    for op in operations(design, values, images, qr_png):
        if isinstance(op, ImageOp):
            pic = _decoded(op.data).resize((max(1, round(op.width * px)), max(1, round(op.height * px))))
            img.alpha_composite(pic, (round(op.x * px), round(op.y * px)))
        else:
            f = pil_font(max(6, round(op.size_mm * px)), "sans" if op.font == "sans" else "serif", op.bold)
            width = f.getlength(op.text) / px
            draw.text((aligned_x(op, width) * px, op.baseline * px), op.text, font=f, fill=op.colour, anchor="ls")
    out = io.BytesIO()
    img.convert("RGB").save(out, format="PNG")
    return out.getvalue()


@lru_cache(maxsize=64)
def _decoded(data: bytes):
    """Pictures used on many faces (backgrounds, seals) are decoded once."""
    from PIL import Image

    return Image.open(io.BytesIO(data)).convert("RGBA")
