"""What the surface designer (照面设计) needs beyond the design itself.

* Who may edit or view a type's design: editing follows ``cert_types.save_surface_design`` (the
  type's own department, as dept admin or clerk; the platform admin too); viewing needs the
  type's department (or the admin), so no department sees another one's design.
* Uploaded backgrounds, stored the way the pipeline reads a design's images: content-addressed
  at DATA/files/<sha256> and referred to as ``file:<sha256>``. Only PNG and JPEG are taken, at
  most ``MAX_BACKGROUND_BYTES``, refused before decoding when they have too many pixels
  (decompression bombs), and re-encoded by Pillow so nothing but pixels is kept. A marker
  DATA/files/design-uploads/<type id>/<sha256> remembers which type's designer uploaded a file,
  so a design can only refer to (and a user only download) images of types they may see.
* The preview: a design rendered with sample values by ``ofd.pdf.render_png``, the function the
  PNG rendition of an issued certificate uses, with the seal stamped at the design's seal slot
  and the anti-forgery QR code, as ``renditions._render_png`` does.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

from .context import Actor
from .errors import NotFound, PermissionDenied, ValidationError
from .models import CertificateType, Department, RoleCode, ValueType
from .unit_of_work import UnitOfWork

if TYPE_CHECKING:
    from ofd.design import SurfaceDesign

MAX_BACKGROUND_BYTES = 5 * 1024 * 1024
MAX_BACKGROUND_PIXELS = 40_000_000   # checked from the header, before any pixel is decoded
MAX_BACKGROUND_SIDE = 6000           # larger pictures are scaled down (a page at 600 dpi is ~ 7000 px)
PREVIEW_DPI = 150                    # the PNG rendition's resolution (renditions.PNG_DPI)
SAMPLE_IDENTIFIER = "1.2.156.3005.2.SAMPLE.PREVIEW"
_SHA = re.compile(r"^[0-9a-f]{64}$")

# the basic items every certificate has (ofd.design.BASIC_ITEMS), as the designer's palette names them
BASIC_LABELS: dict[str, str] = {
    "identifier": "证照标识", "name": "证照名称", "holder": "持证主体", "holder_code": "持证主体代码",
    "number": "证照编号", "issue_date": "发证日期", "valid_from": "有效期起始", "valid_to": "有效期截止",
    "issue_dept": "发证机关", "type_name": "证照类型", "area_code": "行政区划代码", "matter_name": "事项名称",
}


class BackgroundError(ValueError):
    """An upload refused; ``reason`` is one of empty, too_large, not_image, too_many_pixels."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# --- who may do what ------------------------------------------------------------------------------

def _type(uow: UnitOfWork, actor: Actor, type_id: int) -> CertificateType:
    t = uow.session.get(CertificateType, type_id)
    if t is None or t.tenant_id != actor.tenant_id:
        raise NotFound(f"certificate type {type_id} not found")
    return t


def editable_type(uow: UnitOfWork, actor: Actor, type_id: int) -> CertificateType:
    """The type if ``actor`` may change its design: the rule of ``save_surface_design``."""
    t = _type(uow, actor, type_id)
    if not actor.is_admin:
        actor.require(RoleCode.DEPT_ADMIN, RoleCode.CLERK)
        if t.department_id != actor.department_id:
            raise PermissionDenied("only types of your own department can be designed")
    return t


def viewable_type(uow: UnitOfWork, actor: Actor, type_id: int) -> CertificateType:
    """The type if ``actor`` may look at its design: its own department's staff, or the admin."""
    t = _type(uow, actor, type_id)
    if not actor.can_see_department(t.department_id):
        raise PermissionDenied("the design of another department's type is not shown")
    return t


def can_edit(actor: Actor, t: CertificateType) -> bool:
    """Whether the edit link is worth showing (the same rule as ``editable_type``)."""
    return actor.is_admin or (t.department_id == actor.department_id
                              and bool(actor.roles & {RoleCode.DEPT_ADMIN.value, RoleCode.CLERK.value}))


# --- backgrounds ----------------------------------------------------------------------------------

def files_dir(data_dir: Path | str) -> Path:
    """Where a deployment keeps the images designs refer to (the pipeline's ``files_dir``)."""
    return Path(data_dir) / "files"


def _uploads_dir(data_dir: Path | str, type_id: int) -> Path:
    return files_dir(data_dir) / "design-uploads" / str(int(type_id))


def normalise_background(data: bytes) -> bytes:
    """A PNG or JPEG, checked and re-encoded (PNG stays PNG with its transparency, JPEG stays JPEG)."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    if not data:
        raise BackgroundError("empty")
    if len(data) > MAX_BACKGROUND_BYTES:
        raise BackgroundError("too_large")
    try:
        with Image.open(io.BytesIO(data)) as img:
            fmt = img.format
            if fmt not in ("PNG", "JPEG"):
                raise BackgroundError("not_image")
            if img.width * img.height > MAX_BACKGROUND_PIXELS:
                raise BackgroundError("too_many_pixels")
            img.load()
            pic = ImageOps.exif_transpose(img)
            if max(pic.size) > MAX_BACKGROUND_SIDE:
                pic.thumbnail((MAX_BACKGROUND_SIDE, MAX_BACKGROUND_SIDE), Image.LANCZOS)
            out = io.BytesIO()
            if fmt == "PNG":
                pic = pic.convert("RGBA" if pic.mode in ("RGBA", "LA", "P", "PA") else "RGB")
                pic.save(out, "PNG", optimize=True)
            else:
                pic.convert("RGB").save(out, "JPEG", quality=90)
            return out.getvalue()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        if isinstance(exc, BackgroundError):
            raise
        raise BackgroundError("not_image") from None


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def store_background(uow: UnitOfWork, actor: Actor, data_dir: Path | str, type_id: int, data: bytes) -> str:
    """Check, re-encode and keep an uploaded background for ``type_id``'s design; its ``file:`` ref.

    The design is not changed: the designer puts the ref into the design it saves later.
    """
    from . import audit

    t = editable_type(uow, actor, type_id)
    clean = normalise_background(data)
    sha = hashlib.sha256(clean).hexdigest()
    target = files_dir(data_dir) / sha
    if not target.is_file():
        _write(target, clean)
    marker = _uploads_dir(data_dir, t.id) / sha
    if not marker.is_file():
        _write(marker, b"")
    audit.record(uow.session, actor, "certificate_type.design_background", "certificate_type", t.id, sha256=sha)
    return f"file:{sha}"


def design_refs(design: Mapping[str, Any] | None) -> set[str]:
    """The ``file:`` images a design (as JSON) refers to: its background and image elements."""
    refs: set[str] = set()
    if design:
        if isinstance(design.get("background"), str):
            refs.add(design["background"])
        refs.update(e["ref"] for e in design.get("elements", [])
                    if isinstance(e, dict) and e.get("kind") == "image" and isinstance(e.get("ref"), str))
    return refs


def allowed_refs(t: CertificateType, data_dir: Path | str) -> set[str]:
    """The images ``t``'s design may use: those of its saved design and those uploaded for it."""
    refs = design_refs(t.surface_design)
    folder = _uploads_dir(data_dir, t.id)
    if folder.is_dir():
        refs.update(f"file:{p.name}" for p in folder.iterdir() if _SHA.match(p.name))
    return refs


def _read(data_dir: Path | str, ref: str) -> tuple[bytes, str]:
    path = files_dir(data_dir) / ref.removeprefix("file:")
    if not _SHA.match(path.name) or not path.is_file():
        raise NotFound(f"image {ref} is not stored")
    data = path.read_bytes()
    return data, ("png" if data.startswith(b"\x89PNG") else "jpeg")


def read_asset(uow: UnitOfWork, actor: Actor, data_dir: Path | str, type_id: int, sha: str) -> tuple[bytes, str]:
    """A stored image of ``type_id``'s design, for someone who may see the type: (bytes, mimetype)."""
    t = viewable_type(uow, actor, type_id)
    ref = f"file:{sha}"
    if not _SHA.match(sha) or ref not in allowed_refs(t, data_dir):
        raise NotFound(f"image {sha} is not part of this design")
    data, fmt = _read(data_dir, ref)
    return data, f"image/{fmt}"


# --- the palette and sample data ------------------------------------------------------------------

def palette(t: CertificateType) -> list[tuple[str, str]]:
    """(source, label) of every data item a field element of ``t``'s design may show."""
    items = list(BASIC_LABELS.items())
    items += [(f.column_name, f.name) for f in sorted(t.fields, key=lambda f: (f.display_order, f.id or 0))]
    return items


def _sample(vt: ValueType, name: str, options: list | None) -> str:
    if vt is ValueType.DATE:
        return "2024-03-01"
    if vt is ValueType.NUMBER:
        return "100"
    if vt is ValueType.ENUM:
        return str(options[0]) if options else name
    if vt is ValueType.ID_NUMBER:
        return "11010519491231002X"
    if vt is ValueType.USCC:
        return "91230100MA1BXXXX0E"
    if vt is ValueType.IMAGE:
        return "[图片]"
    return f"{name}（示例）"


def sample_values(t: CertificateType, department_name: str = "") -> dict[str, str]:
    """Values a face of ``t`` is previewed with: plausible text for every basic item and field."""
    values = {f.column_name: _sample(f.value_type, f.name, f.options) for f in t.fields}
    values.update({
        "identifier": SAMPLE_IDENTIFIER, "name": t.name, "holder": "示例科技有限公司",
        "holder_code": "91230100MA1BXXXX0E", "number": "91230100MA1BXXXX0E", "issue_date": "2024年3月1日",
        "valid_from": "2024年3月1日", "valid_to": "长期", "issue_dept": department_name or "发证机关",
        "type_name": t.name, "area_code": "230100", "matter_name": "示例事项",
    })
    return values


# --- seals ------------------------------------------------------------------------------------------
#
# The seal registry (issuance/seal_registry.py, models.signing.Seal) is built beside the designer;
# without it a design's seal is the department's default seal (seal_id None) and nothing else.

def _seal_model():
    try:
        from .models.signing import Seal  # type: ignore[attr-defined]
    except ImportError:
        return None
    return Seal


def seal_choices(uow: UnitOfWork, t: CertificateType) -> list[tuple[int, str]]:
    """(id, name) of the valid seals of ``t``'s department, which its design may name (as
    ``seal_registry.seals_for_design``, but for the type's department, so the admin sees them too)."""
    from datetime import datetime, timezone

    from sqlalchemy import select

    seal = _seal_model()
    if seal is None:
        return []
    stmt = (select(seal.id, seal.name).where(seal.tenant_id == t.tenant_id, seal.department_id == t.department_id,
                                             seal.status == "valid", seal.valid_to > datetime.now(timezone.utc))
            .order_by(seal.name))
    return [(int(i), str(n)) for i, n in uow.session.execute(stmt).all()]


def _chosen_seal(design: "SurfaceDesign"):
    from ofd.design import SealElement

    return next((e for e in design.elements if isinstance(e, SealElement)), None)


def _seal_picture(uow: UnitOfWork, t: CertificateType, design: "SurfaceDesign", dept_name: str) -> bytes:
    """The seal stamped on the preview: the chosen seal's picture, else the department's own
    seal, else one drawn for the preview."""
    slot = _chosen_seal(design)
    seal = _seal_model()
    if slot is not None and slot.seal_id is not None and seal is not None:
        row = uow.session.get(seal, slot.seal_id)
        if row is not None and row.tenant_id == t.tenant_id and row.department_id == t.department_id and row.picture:
            return bytes(row.picture)
    from .signing_identity import seal_picture

    picture = seal_picture(uow, t.department_id)
    if picture:
        return picture
    from seals.picture import PictureError, generate

    try:
        return generate("official", (dept_name or "示例印章")[:40], size_mm=42, dpi=150)
    except PictureError:
        return generate("official", "示例印章", size_mm=42, dpi=150)


# --- rendering --------------------------------------------------------------------------------------

def parse_design(t: CertificateType, data: Any) -> "SurfaceDesign":
    """``data`` as a design of ``t``; ValidationError keyed like ``save_surface_design``'s."""
    from ofd.design import DesignError, parse

    try:
        design = parse(data)
        design.check_sources(f.column_name for f in t.fields)
    except DesignError as exc:
        raise ValidationError({f"design.{k}": v for k, v in exc.errors.items()}) from None
    return design


def check_design(uow: UnitOfWork, t: CertificateType, design: "SurfaceDesign", data_dir: Path | str) -> None:
    """What ``save_surface_design`` cannot know: the design's pictures were uploaded for ``t``
    (no borrowing another type's by its hash) and its seal is one of ``t``'s department's."""
    allowed = allowed_refs(t, data_dir)
    errors = {}
    for ref in sorted(design_refs(design.to_json())):
        if ref not in allowed:
            errors["design.background" if ref == design.background else "design.elements"] = (
                f"the image {ref} was not uploaded for this type")
    slot = _chosen_seal(design)
    if slot is not None and slot.seal_id is not None and slot.seal_id not in dict(seal_choices(uow, t)):
        index = design.elements.index(slot)
        errors[f"design.elements.{index}.seal_id"] = "not a valid seal of the type's department"
    if errors:
        raise ValidationError(errors)


def render_sample(uow: UnitOfWork, t: CertificateType, design: "SurfaceDesign", data_dir: Path | str,
                  base_url: str, dpi: int = PREVIEW_DPI) -> bytes:
    """``design`` as the PNG rendition would draw it, with sample values, seal and QR code.

    The design must pass ``check_design``: it cannot pull in another type's pictures by naming
    their hash.
    """
    from ofd.design import Box, ImageElement, QRElement
    from ofd.pdf import render_png
    from ofd.qr import qr_png, verification_url

    check_design(uow, t, design, data_dir)
    dept = uow.session.get(Department, t.department_id)
    dept_name = dept.name if dept else ""
    seal_png = _seal_picture(uow, t, design, dept_name)
    seal_ref = f"file:{hashlib.sha256(seal_png).hexdigest()}"
    x, y, size = design.seal_slot()
    sealed = design.model_copy(update={"elements": [*design.elements,
                                                    ImageElement(ref=seal_ref, box=Box(x=x, y=y, width=size, height=size))]})

    def images(ref: str) -> tuple[bytes, str]:
        if ref == seal_ref:
            return seal_png, "png"
        return _read(data_dir, ref)

    qr = qr_png(verification_url(base_url, SAMPLE_IDENTIFIER)) if any(
        isinstance(e, QRElement) for e in design.elements) else None
    try:
        return render_png(sealed, sample_values(t, dept_name), images, qr, dpi=dpi)
    except (ValueError, OSError) as exc:
        raise ValidationError({"design": f"the design could not be rendered: {exc}"}) from None
