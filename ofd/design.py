"""The surface design (照面设计): what goes where on a certificate's face.

Units are millimetres from the top-left corner, as in OFD. A design is stored as JSON on the
certificate type and validated here, so every renderer (OFD, PDF, PNG) can trust it: elements lie
inside the page, colours and fonts are known, a design has at most one QR code.
"""

from __future__ import annotations

import re
from typing import Annotated, Iterable, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

FONTS = ("serif", "sans", "kai", "fangsong")  # mapped to CJK fonts installed by the set-up
BASIC_ITEMS = ("identifier", "name", "holder", "holder_code", "number", "issue_date", "valid_from", "valid_to",
               "issue_dept", "type_name", "area_code", "matter_name")
COLOUR = re.compile(r"^#[0-9A-Fa-f]{6}$")
IMAGE_REF = re.compile(r"^file:[0-9a-f]{64}$")


class DesignError(ValueError):
    """A design that does not validate; ``errors`` maps a location to the problem."""

    def __init__(self, errors: dict[str, str]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Box(_Strict):
    x: float = Field(ge=0)
    y: float = Field(ge=0)
    width: float = Field(gt=0)
    height: float = Field(gt=0)


class TextStyle(_Strict):
    font: Literal["serif", "sans", "kai", "fangsong"] = "serif"
    size_pt: float = Field(12, ge=4, le=96)
    colour: str = "#000000"
    bold: bool = False
    align: Literal["left", "center", "right"] = "left"
    wrap: bool = False
    line_spacing: float = Field(1.3, ge=1.0, le=3.0)

    @field_validator("colour")
    @classmethod
    def _colour(cls, v: str) -> str:
        if not COLOUR.match(v):
            raise ValueError("a colour is #RRGGBB")
        return v.upper()


class FieldElement(_Strict):
    """A data item of the certificate: a basic item or a column of the type's fields."""

    kind: Literal["field"] = "field"
    source: str = Field(min_length=1, max_length=64)
    label: str = Field("", max_length=64)
    box: Box
    style: TextStyle = TextStyle()


class TextElement(_Strict):
    kind: Literal["text"] = "text"
    text: str = Field(min_length=1, max_length=500)
    box: Box
    style: TextStyle = TextStyle()


class ImageElement(_Strict):
    kind: Literal["image"] = "image"
    ref: str
    box: Box

    @field_validator("ref")
    @classmethod
    def _ref(cls, v: str) -> str:
        if not IMAGE_REF.match(v):
            raise ValueError("an image is a stored file reference (file:<sha256>)")
        return v


class SealElement(_Strict):
    """Where the issuer's seal is stamped; ``seal_id`` None means the department's default seal."""

    kind: Literal["seal"] = "seal"
    seal_id: int | None = None
    x: float = Field(ge=0)
    y: float = Field(ge=0)
    size: float = Field(42, ge=10, le=80)


class QRElement(_Strict):
    kind: Literal["qr"] = "qr"
    x: float = Field(ge=0)
    y: float = Field(ge=0)
    size: float = Field(25, ge=10, le=80)


Element = Annotated[Union[FieldElement, TextElement, ImageElement, SealElement, QRElement], Field(discriminator="kind")]


class SurfaceDesign(_Strict):
    version: Literal[1] = 1
    width: float = Field(297, ge=50, le=1000)   # A4 landscape by default, as a business licence
    height: float = Field(210, ge=50, le=1000)
    background: str | None = None
    elements: list[Element] = Field(default_factory=list, max_length=200)

    @field_validator("background")
    @classmethod
    def _background(cls, v: str | None) -> str | None:
        if v is not None and not IMAGE_REF.match(v):
            raise ValueError("the background is a stored file reference (file:<sha256>)")
        return v

    @model_validator(mode="after")
    def _inside_page(self) -> "SurfaceDesign":
        problems = []
        for i, el in enumerate(self.elements):
            if isinstance(el, (SealElement, QRElement)):
                right, bottom = el.x + el.size, el.y + el.size
            else:
                right, bottom = el.box.x + el.box.width, el.box.y + el.box.height
            if right > self.width + 1e-6 or bottom > self.height + 1e-6:
                problems.append(f"element {i + 1} ({el.kind}) extends beyond the page")
        if sum(isinstance(e, QRElement) for e in self.elements) > 1:
            problems.append("a design has at most one QR code")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def seal_slot(self) -> tuple[float, float, float]:
        """(x, y, size) in mm where the seal is stamped: the design's seal slot, else the bottom
        right corner, so the OFD, the PDF and the PNG of one certificate put the seal alike."""
        slot = next((e for e in self.elements if isinstance(e, SealElement)), None)
        size = slot.size if slot else 42.0
        x = slot.x if slot else max(0.0, self.width - size - 20)
        y = slot.y if slot else max(0.0, self.height - size - 20)
        return x, y, size

    def sources(self) -> set[str]:
        return {e.source for e in self.elements if isinstance(e, FieldElement)}

    def check_sources(self, columns: Iterable[str]) -> None:
        """Every field element must name a basic item or a column of the type."""
        known = set(BASIC_ITEMS) | set(columns)
        unknown = sorted(self.sources() - known)
        if unknown:
            raise DesignError({"elements": f"unknown data items: {', '.join(unknown)}"})

    def to_json(self) -> dict:
        return self.model_dump(mode="json")


def parse(data: dict | str | bytes) -> SurfaceDesign:
    """Validate a design from JSON (text or already decoded); DesignError lists every problem."""
    try:
        if isinstance(data, (str, bytes)):
            return SurfaceDesign.model_validate_json(data)
        return SurfaceDesign.model_validate(data)
    except ValidationError as exc:
        errors = {}
        for err in exc.errors():
            loc = ".".join(str(p) for p in err["loc"] if not (isinstance(p, str) and p in
                                                                 ("field", "text", "image", "seal", "qr")))
            errors[loc or "design"] = err["msg"].removeprefix("Value error, ")
        raise DesignError(errors) from None


def default_for(columns: Iterable[tuple[str, str]], width: float = 297, height: float = 210) -> SurfaceDesign:
    """A plain design listing the type's fields, for a type whose designer has not been used yet."""
    elements: list = [TextElement(text="电子证照", box=Box(x=20, y=12, width=width - 40, height=14),
                                  style=TextStyle(size_pt=26, bold=True, align="center"))]
    y = 36.0
    for source, label in [("number", "证照编号"), ("holder", "持证主体")] + list(columns):
        if y + 9 > height - 50:
            break
        elements.append(FieldElement(source=source, label=label, box=Box(x=30, y=y, width=width - 110, height=8),
                                     style=TextStyle(size_pt=11, wrap=True)))
        y += 9.5
    elements.append(FieldElement(source="issue_dept", box=Box(x=width - 120, y=height - 40, width=90, height=8),
                                 style=TextStyle(size_pt=11, align="center")))
    elements.append(FieldElement(source="issue_date", box=Box(x=width - 120, y=height - 30, width=90, height=8),
                                 style=TextStyle(size_pt=11, align="center")))
    elements.append(SealElement(x=width - 96, y=height - 62))
    elements.append(QRElement(x=20, y=height - 45, size=25))
    return SurfaceDesign(width=width, height=height, elements=elements)
