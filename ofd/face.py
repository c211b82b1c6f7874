"""A certificate face as drawing operations in millimetres, shared by the PDF and PNG renderers.

The OFD writer places glyphs itself; PDF and PNG draw lines of text with their own font metrics,
so only line breaks come from the shared layout and each renderer aligns with real widths.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping, Union

from .design import FieldElement, ImageElement, QRElement, SurfaceDesign, TextElement
from .text_layout import PT_TO_MM, layout

ImageResolver = Callable[[str], tuple[bytes, str]]


@dataclass(frozen=True)
class TextOp:
    text: str
    box_x: float
    box_width: float
    baseline: float  # from the top of the page
    size_mm: float
    colour: str
    bold: bool
    align: str
    font: str


@dataclass(frozen=True)
class ImageOp:
    data: bytes
    x: float
    y: float
    width: float
    height: float


Op = Union[TextOp, ImageOp]


def operations(design: SurfaceDesign, values: Mapping[str, str], images: ImageResolver | None = None,
               qr_png: bytes | None = None) -> list[Op]:
    ops: list[Op] = []
    if design.background:
        if images is None:
            raise ValueError("the design has a background image but no image source was given")
        ops.append(ImageOp(images(design.background)[0], 0, 0, design.width, design.height))
    for el in design.elements:
        if isinstance(el, (FieldElement, TextElement)):
            if isinstance(el, TextElement):
                text = el.text
            else:
                value = values.get(el.source, "")
                text = f"{el.label}：{value}" if el.label and value else value
            st = el.style
            for line in layout(text, el.box.width, el.box.height, st.size_pt, st.align, st.wrap, st.line_spacing):
                if line.text:
                    ops.append(TextOp(line.text, el.box.x, el.box.width, el.box.y + line.baseline,
                                      st.size_pt * PT_TO_MM, st.colour, st.bold, st.align, st.font))
        elif isinstance(el, ImageElement):
            if images is None:
                raise ValueError("the design has images but no image source was given")
            ops.append(ImageOp(images(el.ref)[0], el.box.x, el.box.y, el.box.width, el.box.height))
        elif isinstance(el, QRElement) and qr_png is not None:
            ops.append(ImageOp(qr_png, el.x, el.y, el.size, el.size))
    return ops


def aligned_x(op: TextOp, width: float) -> float:
    if op.align == "center":
        return op.box_x + max(0.0, (op.box_width - width) / 2)
    if op.align == "right":
        return op.box_x + max(0.0, op.box_width - width)
    return op.box_x
