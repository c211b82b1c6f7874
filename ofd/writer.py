"""Writing a certificate's OFD (GB/T 33190) from its surface design and data.

The package holds OFD.xml, the document, its resources (fonts referenced by name, images
embedded once each) and one page. Every string goes through ElementTree, so values are XML-escaped
whatever they contain. Fonts are referenced, not embedded: readers map them to installed CJK
fonts, and the OFD stays small and fast to write.
"""

from __future__ import annotations

import hashlib
import zipfile
from dataclasses import dataclass, field
from datetime import date
from io import BytesIO
from typing import Callable, Mapping
from xml.etree.ElementTree import Element, SubElement, tostring

from .design import FieldElement, ImageElement, QRElement, SealElement, SurfaceDesign, TextElement
from .package import NS
from .text_layout import PT_TO_MM, layout

FONT_NAMES = {"serif": ("宋体", "SimSun"), "sans": ("黑体", "SimHei"), "kai": ("楷体", "KaiTi"),
              "fangsong": ("仿宋", "FangSong")}
ImageResolver = Callable[[str], tuple[bytes, str]]  # ref -> (bytes, "png" | "jpeg")


def _el(parent: Element | None, tag: str, attrs: Mapping[str, object] | None = None, text: str | None = None) -> Element:
    attrib = {k: _fmt(v) for k, v in (attrs or {}).items() if v is not None}
    e = Element(f"ofd:{tag}", attrib) if parent is None else SubElement(parent, f"ofd:{tag}", attrib)
    if text is not None:
        e.text = text
    return e


def _fmt(v: object) -> str:
    if isinstance(v, float):
        return f"{v:.3f}".rstrip("0").rstrip(".")
    return str(v)


def _box(x: float, y: float, w: float, h: float) -> str:
    return " ".join(_fmt(float(v)) for v in (x, y, w, h))


def _xml(root: Element) -> bytes:
    root.set("xmlns:ofd", NS)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + tostring(root, encoding="utf-8", xml_declaration=False)


@dataclass
class _Ids:
    next: int = 1
    media: dict[str, int] = field(default_factory=dict)

    def new(self) -> int:
        self.next += 1
        return self.next - 1


@dataclass(frozen=True)
class OFDMeta:
    doc_id: str
    title: str
    creator: str = "CertLedger"
    creation_date: date | None = None
    custom: Mapping[str, str] = field(default_factory=dict)  # e.g. the certificate identifier


def write_ofd(design: SurfaceDesign, values: Mapping[str, str], meta: OFDMeta,
              images: ImageResolver | None = None, qr_png: bytes | None = None) -> bytes:
    """The OFD package bytes of one certificate face."""
    return zip_package(write_ofd_files(design, values, meta, images, qr_png))


def write_ofd_files(design: SurfaceDesign, values: Mapping[str, str], meta: OFDMeta,
                    images: ImageResolver | None = None, qr_png: bytes | None = None) -> dict[str, bytes]:
    """The files of one certificate face, by package path: for a caller that adds to them (seals)
    before zipping once, instead of zipping, unzipping and checking its own output."""
    ids = _Ids()
    files: dict[str, bytes] = {}
    fonts = {}
    for key in sorted({e.style.font for e in design.elements if isinstance(e, (FieldElement, TextElement))} or {"serif"}):
        fonts[key] = ids.new()
    medias: list[tuple[int, str]] = []

    def media(data: bytes, fmt: str) -> int:
        digest = hashlib.sha256(data).hexdigest()
        if digest not in ids.media:
            mid = ids.new()
            path = f"Res/{digest[:16]}.{'jpg' if fmt == 'jpeg' else fmt}"
            files[f"Doc_0/{path}"] = data
            ids.media[digest] = mid
            medias.append((mid, path))
        return ids.media[digest]

    page_id = ids.new()
    page = _el(None, "Page")
    content = _el(page, "Content")
    layer = _el(content, "Layer", {"ID": ids.new()})
    if design.background:
        if images is None:
            raise ValueError("the design has a background image but no image source was given")
        mid = media(*images(design.background))
        _image(layer, ids, mid, 0, 0, design.width, design.height)
    for el in design.elements:
        if isinstance(el, (FieldElement, TextElement)):
            text = el.text if isinstance(el, TextElement) else _field_text(el, values)
            if text:
                _text(layer, ids, fonts[el.style.font], el, text)
        elif isinstance(el, ImageElement):
            if images is None:
                raise ValueError("the design has images but no image source was given")
            mid = media(*images(el.ref))
            _image(layer, ids, mid, el.box.x, el.box.y, el.box.width, el.box.height)
        elif isinstance(el, QRElement) and qr_png is not None:
            _image(layer, ids, media(qr_png, "png"), el.x, el.y, el.size, el.size)
        # seal slots are filled by the signing step (a StampAnnot), not drawn on the page
    files["Doc_0/Pages/Page_0/Content.xml"] = _xml(page)

    public = _el(None, "Res", {"BaseLoc": "Res"})
    fonts_el = _el(public, "Fonts")
    for key, fid in fonts.items():
        name, family = FONT_NAMES[key]
        _el(fonts_el, "Font", {"ID": fid, "FontName": name, "FamilyName": family})
    files["Doc_0/PublicRes.xml"] = _xml(public)
    docres = _el(None, "Res", {"BaseLoc": "Res"})
    if medias:
        mm = _el(docres, "MultiMedias")
        for mid, path in medias:
            m = _el(mm, "MultiMedia", {"ID": mid, "Type": "Image", "Format": path.rsplit(".", 1)[1].upper()})
            _el(m, "MediaFile", text=path.split("/", 1)[1])
    files["Doc_0/DocumentRes.xml"] = _xml(docres)

    doc = _el(None, "Document")
    common = _el(doc, "CommonData")
    _el(common, "MaxUnitID", text=str(ids.next - 1))
    area = _el(common, "PageArea")
    _el(area, "PhysicalBox", text=_box(0, 0, design.width, design.height))
    _el(common, "PublicRes", text="PublicRes.xml")
    _el(common, "DocumentRes", text="DocumentRes.xml")
    pages = _el(doc, "Pages")
    _el(pages, "Page", {"ID": page_id, "BaseLoc": "Pages/Page_0/Content.xml"})
    files["Doc_0/Document.xml"] = _xml(doc)

    ofd = _el(None, "OFD", {"DocType": "OFD", "Version": "1.0"})
    body = _el(ofd, "DocBody")
    info = _el(body, "DocInfo")
    _el(info, "DocID", text=meta.doc_id)
    _el(info, "Title", text=meta.title)
    _el(info, "Creator", text=meta.creator)
    _el(info, "CreationDate", text=(meta.creation_date or date.today()).isoformat())
    if meta.custom:
        cds = _el(info, "CustomDatas")
        for k, v in meta.custom.items():
            _el(cds, "CustomData", {"Name": k}, v)
    _el(body, "DocRoot", text="Doc_0/Document.xml")
    files["OFD.xml"] = _xml(ofd)
    return files


STORED_SUFFIXES = (".png", ".jpg", ".jpeg")  # compressed already: deflating them again gains nothing


def zip_package(files: Mapping[str, bytes]) -> bytes:
    """The package as a zip, OFD.xml first; XML deflated, images and signature values stored."""
    out = BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        for name in sorted(files, key=lambda n: (n != "OFD.xml", n)):
            stored = name.lower().endswith(STORED_SUFFIXES)
            zf.writestr(name, files[name], zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED)
    return out.getvalue()


def _field_text(el: FieldElement, values: Mapping[str, str]) -> str:
    value = values.get(el.source, "")
    return f"{el.label}：{value}" if el.label and value else value


def _colour(hex_colour: str) -> str:
    return " ".join(str(int(hex_colour[i:i + 2], 16)) for i in (1, 3, 5))


def _text(layer: Element, ids: _Ids, font_id: int, el, text: str) -> None:
    box, st = el.box, el.style
    lines = layout(text, box.width, box.height, st.size_pt, st.align, st.wrap, st.line_spacing)
    for line in lines:
        if not line.text:
            continue
        obj = _el(layer, "TextObject", {"ID": ids.new(), "Boundary": _box(box.x, box.y, box.width, box.height),
                                        "Font": font_id, "Size": round(st.size_pt * PT_TO_MM, 3),
                                        "Weight": 700 if st.bold else None})
        _el(obj, "FillColor", {"Value": _colour(st.colour)})
        _el(obj, "TextCode", {"X": line.x, "Y": line.baseline,
                              "DeltaX": " ".join(_fmt(a) for a in line.advances) or None}, line.text)


def _image(layer: Element, ids: _Ids, media_id: int, x: float, y: float, w: float, h: float) -> None:
    # the CTM scales the unit square of the image to the box
    _el(layer, "ImageObject", {"ID": ids.new(), "Boundary": _box(x, y, w, h),
                               "CTM": f"{_fmt(float(w))} 0 0 {_fmt(float(h))} 0 0", "ResourceID": media_id})
