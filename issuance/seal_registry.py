"""Seals (印章): a department's named GB/T 38540 electronic seals.

The seed's 签发管理系统: "新增、筛选、编辑、删除 … 新增印章自动归属于创建印章的用户部门下，印章图片可
选择透明背景图"; the designer picks one of them for a type's design ("添加印章前需要先添加证书").
A seal has a picture (an upload normalised to a transparent PNG, or one drawn by
``seals.picture.generate`` in one of its styles), the digital certificate allowed to use it
(issuance/digital_certificates.py) and the SESeal made with the platform CA as seal maker (制章者),
as the automatic identity of issuance/signing_identity.py is made.

Rules: department admin of the seal's department, or platform admin; every query limited to what
the actor may see. Status: valid, frozen (temporarily unusable), cancelled (final). Renaming
remakes the SESeal (the name is inside it); documents already sealed keep the seal they embed.

Public functions:

- ``create(uow, actor, ca, name, certificate_id, style, picture=None, text="", bottom_text="", code="",
  size_mm=42, valid_from=None, valid_to=None, department_id=None)``
- ``update(uow, actor, ca, seal_id, name, status)``, ``delete(uow, actor, seal_id)``
- ``get``, ``search(uow, actor, text, status, style, page, size, sort) -> Page``
- ``seals_for_design(uow, actor) -> list[(id, name)]`` (the department's valid seals)
"""

from __future__ import annotations

import io
from datetime import date, datetime, time, timedelta, timezone

from sqlalchemy import or_, select

from certledger.crypto.ca import CertificateAuthority

from . import audit
from . import digital_certificates as dcerts
from .context import Actor
from .errors import IllegalTransition, NotFound, ValidationError
from .listing import Page, like, paginate
from .models.signing import DigitalCertificate, Seal
from .unit_of_work import UnitOfWork

VALID, FROZEN, CANCELLED = "valid", "frozen", "cancelled"
STATUSES = (VALID, FROZEN, CANCELLED)
GENERATED, UPLOADED = "generated", "uploaded"
MIN_MM, MAX_MM = 20, 60
SORTABLE = {"name": Seal.name, "created_at": Seal.created_at, "valid_to": Seal.valid_to, "status": Seal.status,
            "style": Seal.style}
# which status may follow which; cancelled is final
TRANSITIONS = {VALID: {FROZEN, CANCELLED}, FROZEN: {VALID, CANCELLED}, CANCELLED: set()}


def styles() -> dict[str, str]:
    """Style key -> its label (seals.picture.STYLES), for forms and lists."""
    from seals.picture import STYLES

    return {k: s.label for k, s in STYLES.items()}


def _day_start(d: date | datetime) -> datetime:
    if isinstance(d, datetime):
        return d if d.tzinfo else d.replace(tzinfo=timezone.utc)
    return datetime.combine(d, time.min, tzinfo=timezone.utc)


def _compact_png(png: bytes) -> bytes:
    """A 16-colour palette PNG with alpha: every sealed document embeds the picture."""
    from PIL import Image

    with Image.open(io.BytesIO(png)) as im:
        small = im.convert("RGBA").quantize(colors=16, method=Image.Quantize.FASTOCTREE)
    out = io.BytesIO()
    small.save(out, format="PNG", optimize=True)
    return out.getvalue()


def _picture(picture: bytes | None, style: str, text: str, bottom_text: str, code: str, size_mm: int
             ) -> tuple[bytes, str, dict[str, str]]:
    """(PNG, source, errors): the upload normalised, else a picture generated from ``text``."""
    from seals.picture import PictureError, generate, normalise_upload

    if picture:
        try:
            return _compact_png(normalise_upload(picture)), UPLOADED, {}
        except PictureError as exc:
            return b"", UPLOADED, {"picture": str(exc)}
    text = str(text or "").strip()
    if not 1 <= len(text) <= 40:
        return b"", GENERATED, {"text": "1-40 characters"}
    if len(bottom_text or "") > 20:
        return b"", GENERATED, {"bottom_text": "at most 20 characters"}
    try:
        return _compact_png(generate(style, text, (bottom_text or "").strip(), code=(code or "").strip(),
                                     size_mm=size_mm)), GENERATED, {}
    except PictureError as exc:
        return b"", GENERATED, {"text": str(exc)}


def _make_der(ca: CertificateAuthority, name: str, picture: bytes, size_mm: int, cert: DigitalCertificate,
              valid_from: datetime, valid_to: datetime, es_id: str | None = None) -> tuple[bytes, str]:
    from seals.seal import SealError, describe, load_seal, make_seal

    try:
        der = make_seal(name=name, picture=picture, picture_type="PNG", width_mm=size_mm, height_mm=size_mm,
                        signer_certs=[cert.certificate_der], maker=ca.signer, maker_cert=ca.certificate_der,
                        valid_start=valid_from, valid_end=valid_to, es_id=es_id)
    except SealError as exc:
        raise ValidationError({"form": f"the seal could not be made: {exc}"}) from None
    return der, describe(load_seal(der)).es_id


# --- services -------------------------------------------------------------------------------------

def create(uow: UnitOfWork, actor: Actor, ca: CertificateAuthority, name: str, certificate_id: int | None,
           style: str, picture: bytes | None = None, text: str = "", bottom_text: str = "", code: str = "",
           size_mm: int = 42, valid_from: date | datetime | None = None, valid_to: date | datetime | None = None,
           department_id: int | None = None) -> Seal:
    """A new seal of the actor's department, allowing one of its valid digital certificates.

    Every field is checked before anything is written, and all problems are reported together.
    """
    dept = dcerts.target_department(uow, actor, department_id)
    errors: dict[str, str] = {}
    try:
        name = dcerts.checked_name(name)
        if uow.session.execute(select(Seal.id).where(Seal.department_id == dept.id, Seal.name == name)).first():
            errors["name"] = "a seal of this name exists in the department"
    except ValidationError as e:
        errors.update(e.errors)
    if style not in styles():
        errors["style"] = f"one of {', '.join(styles())}"
    if not isinstance(size_mm, int) or not MIN_MM <= size_mm <= MAX_MM:
        errors["size_mm"] = f"{MIN_MM}-{MAX_MM} mm"
    cert = None
    if certificate_id is None:
        errors["certificate_id"] = "choose the digital certificate allowed to use the seal"
    else:
        cert = uow.session.get(DigitalCertificate, certificate_id)
        if cert is None or cert.department_id != dept.id:
            errors["certificate_id"] = "not a digital certificate of this department"
            cert = None
        elif not dcerts.usable(cert):
            errors["certificate_id"] = "the digital certificate is revoked or expired"
    now = datetime.now(timezone.utc)
    start = _day_start(valid_from) if valid_from else now - timedelta(minutes=5)
    end = _day_start(valid_to) if valid_to else (cert.not_after if cert else now)
    if cert is not None:
        if end > cert.not_after:
            errors["valid_to"] = "the seal cannot outlive its digital certificate"
        elif end <= start or end <= now:
            errors["valid_to"] = "the seal must end after it begins and in the future"
    if errors:  # cheap checks first: no picture is drawn for a form that fails anyway
        raise ValidationError(errors)
    png, source, perr = _picture(picture, style if style in styles() else "official", text, bottom_text, code,
                                 size_mm if isinstance(size_mm, int) else 42)
    if perr:
        raise ValidationError(perr)
    start = max(start, cert.not_before)
    der, es_id = _make_der(ca, name, png, size_mm, cert, start, end)
    row = Seal(tenant_id=dept.tenant_id, department_id=dept.id, certificate_id=cert.id, name=name, style=style,
               source=source, picture=png, width_mm=size_mm, height_mm=size_mm, es_id=es_id, seal_der=der,
               valid_from=start, valid_to=end, status=VALID, created_by_id=actor.user_id)
    uow.session.add(row)
    uow.session.flush()
    audit.record(uow.session, actor, "seal.create", "seal", row.id, name=name, department_id=dept.id,
                 certificate_id=cert.id, source=source, es_id=es_id)
    return row


def get(uow: UnitOfWork, actor: Actor, seal_id: int) -> Seal:
    """A seal the actor may manage; another department's is NotFound."""
    dcerts._require(actor)
    row = uow.session.execute(dcerts.scoped(select(Seal), Seal, actor).where(Seal.id == seal_id)).scalar_one_or_none()
    if row is None:
        raise NotFound(f"seal {seal_id} not found")
    return row


def update(uow: UnitOfWork, actor: Actor, ca: CertificateAuthority, seal_id: int, name: str,
           status: str) -> Seal:
    """Rename (the SESeal is made again, same esID) and/or change the status."""
    row = get(uow, actor, seal_id)
    errors: dict[str, str] = {}
    try:
        name = dcerts.checked_name(name)
        other = uow.session.execute(select(Seal.id).where(Seal.department_id == row.department_id,
                                                          Seal.name == name)).scalar_one_or_none()
        if other is not None and other != row.id:
            errors["name"] = "a seal of this name exists in the department"
    except ValidationError as e:
        errors.update(e.errors)
    if status not in STATUSES:
        errors["status"] = f"one of {', '.join(STATUSES)}"
    if errors:
        raise ValidationError(errors)
    if status != row.status and status not in TRANSITIONS[row.status]:
        raise IllegalTransition("seal", row.id, row.status, status, "a cancelled seal stays cancelled")
    if row.status == CANCELLED and name != row.name:
        raise IllegalTransition("seal", row.id, row.status, "renamed", "a cancelled seal stays as it was")
    before = {"name": row.name, "status": row.status}
    if name != row.name:
        cert = uow.session.get(DigitalCertificate, row.certificate_id)
        row.seal_der, _ = _make_der(ca, name, row.picture, row.width_mm, cert, row.valid_from, row.valid_to,
                                    es_id=row.es_id)
        row.name = name
    row.status = status
    uow.session.flush()
    audit.record(uow.session, actor, "seal.update", "seal", row.id, before=before,
                 after={"name": row.name, "status": row.status})
    return row


def delete(uow: UnitOfWork, actor: Actor, seal_id: int) -> None:
    """Remove the seal; documents already sealed embed their own copy and still verify."""
    row = get(uow, actor, seal_id)
    audit.record(uow.session, actor, "seal.delete", "seal", row.id, name=row.name, es_id=row.es_id)
    uow.session.delete(row)
    uow.session.flush()


def search(uow: UnitOfWork, actor: Actor, text: str = "", status: str = "", style: str = "", page: int = 1,
           size: int = 20, sort: str = "-created_at") -> Page:
    """Seals the actor may see, filtered by name text, status and style."""
    dcerts._require(actor)
    stmt = dcerts.scoped(select(Seal), Seal, actor)
    if text:
        pattern = like(text)
        stmt = stmt.where(or_(Seal.name.like(pattern, escape="\\"), Seal.es_id.like(pattern, escape="\\")))
    if status:
        if status not in STATUSES:
            raise ValidationError({"status": f"one of {', '.join(STATUSES)}"})
        stmt = stmt.where(Seal.status == status)
    if style:
        if style not in styles():
            raise ValidationError({"style": f"one of {', '.join(styles())}"})
        stmt = stmt.where(Seal.style == style)
    stmt = stmt.order_by(Seal.created_at.desc(), Seal.id.desc())
    return paginate(uow.session, stmt, page, size, sort, SORTABLE)


def certificate_names(uow: UnitOfWork, seals: list[Seal]) -> dict[int, str]:
    """certificate id -> name for the seals of a list page (one query)."""
    ids = {s.certificate_id for s in seals}
    if not ids:
        return {}
    rows = uow.session.execute(select(DigitalCertificate.id, DigitalCertificate.name)
                               .where(DigitalCertificate.id.in_(ids))).all()
    return dict(rows)


def seals_for_design(uow: UnitOfWork, actor: Actor) -> list[tuple[int, str]]:
    """The valid, current seals of the actor's department, for the designer's seal select."""
    if actor.department_id is None:
        return []
    now = datetime.now(timezone.utc)
    stmt = (select(Seal.id, Seal.name).where(Seal.tenant_id == actor.tenant_id,
                                             Seal.department_id == actor.department_id,
                                             Seal.status == VALID, Seal.valid_to > now)
            .order_by(Seal.name))
    return [(i, n) for i, n in uow.session.execute(stmt).all()]


def default_text(uow: UnitOfWork, actor: Actor) -> str:
    """What a generated seal of the actor's department says along its arc: the department's name."""
    from .models import Department

    dept = uow.session.get(Department, actor.department_id) if actor.department_id else None
    return dept.name if dept else ""


def usable(seal: Seal, now: datetime | None = None) -> bool:
    now = now or datetime.now(timezone.utc)
    return seal.status == VALID and seal.valid_from <= now < seal.valid_to
