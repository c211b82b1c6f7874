"""录入 (certificate entry): the department's approved types, the entry form built from a type,
the list of entered certificates (edit, view, delete, 提交审核, batch submit) and Excel import.

The form posts the basic data items under the keys ``certificates.validate_basic`` expects
(holder, holder_code, number, ...) and the type's own fields as ``f_<column_name>``; the domain
validates everything before writing, so a refused form stores nothing and comes back with the
messages next to the fields.
"""

from __future__ import annotations

import base64
import io
from typing import Any, Mapping

from flask import g, render_template, request, send_file, url_for
from flask_babel import gettext as _
from PIL import Image, UnidentifiedImageError

from issuance import approval, cert_types, certificate_import, certificates
from issuance.codes import HOLDER_TYPES
from issuance.errors import Conflict, IllegalTransition, ValidationError
from issuance.models import CertificateStatus, CertificateType, RoleCode, ValueType

from . import kit
from .kit import blueprint



bp = blueprint("entry", __name__, url_prefix="/entry")

MAKERS = (RoleCode.CLERK, RoleCode.DEPT_ADMIN)
S = CertificateStatus
IMAGE_MAX_BYTES = 2 * 1024 * 1024   # field_values.MAX_INLINE_IMAGE: what a value may carry
IMAGE_MAX_PIXELS = 25_000_000        # refuse decompression bombs before decoding
FIELD_PREFIX = "f_"
LIST_STATES = ("draft", "submitted", "approved", "issuing", "effective", "lost", "revoked", "review_overdue",
               "superseded")


# --- the form ------------------------------------------------------------------------------------

def _fields(ctype: CertificateType) -> list:
    return sorted(ctype.fields, key=lambda f: (f.display_order, f.id or 0))


def _basic_columns(ctype: CertificateType) -> list:
    return certificate_import.basic_columns(ctype)


def _image_value(upload) -> str:
    """An uploaded PNG/JPEG as the data URI a field value carries; ValueError with the reason."""
    data = upload.read(IMAGE_MAX_BYTES + 1)
    if len(data) > IMAGE_MAX_BYTES:
        raise ValueError(_("图片不能超过 2 MB"))
    try:
        with Image.open(io.BytesIO(data)) as img:
            if img.format not in ("PNG", "JPEG"):
                raise ValueError(_("只能上传 PNG 或 JPEG 图片"))
            if img.width * img.height > IMAGE_MAX_PIXELS:
                raise ValueError(_("图片尺寸过大"))
            img.load()
            kind = img.format.lower()
    except (UnidentifiedImageError, OSError, SyntaxError, Image.DecompressionBombError):
        raise ValueError(_("只能上传 PNG 或 JPEG 图片")) from None
    return f"data:image/{kind};base64,{base64.b64encode(data).decode()}"


def _read_form(ctype: CertificateType, keep: Mapping[str, str] | None = None) -> tuple[dict, dict, dict]:
    """(basic, values, upload errors) from the posted form; ``keep``: stored images not replaced."""
    basic = {c.key: (request.form.get(c.key) or "").strip() for c in _basic_columns(ctype)}
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for f in _fields(ctype):
        name = FIELD_PREFIX + f.column_name
        if f.value_type is ValueType.IMAGE:
            upload = request.files.get(name)
            if upload and upload.filename:
                try:
                    values[f.column_name] = _image_value(upload)
                except ValueError as e:
                    errors[name] = str(e)
            elif keep and keep.get(f.column_name):
                values[f.column_name] = keep[f.column_name]
        else:
            raw = (request.form.get(name) or "").strip()
            if raw:
                values[f.column_name] = raw
    return basic, values, errors


def _messages(ctype: CertificateType, e: ValidationError) -> dict[str, str]:
    """The domain's messages in the reader's language, keyed by the form's input names."""
    labels = {c.key: c.label for c in _basic_columns(ctype)}
    by_column = {f.column_name: f for f in ctype.fields}
    out: dict[str, str] = {}
    for key, text in e.errors.items():
        text = str(text)
        if key in by_column:
            f = by_column[key]
            out[FIELD_PREFIX + key] = (_("请填写%(name)s", name=f.name) if "is required" in text
                                       else _("%(name)s格式不正确：%(detail)s", name=f.name, detail=text))
        elif key in labels:
            label = labels[key]
            if "required" in text:
                out[key] = _("请填写%(name)s", name=label)
            elif "already exists" in text or "same certificate number" in text:
                out[key] = _("该证照编号已存在")
            elif "before its start" in text:
                out[key] = _("有效期截止日期不能早于起始日期")
            elif "expected a date" in text:
                out[key] = _("请输入日期，如 2024-03-01")
            else:
                out[key] = _("%(name)s不正确：%(detail)s", name=label, detail=text)
        else:
            out["form"] = text
    return out


def _form_context(uow, actor, ctype: CertificateType, basic: Mapping[str, Any], values: Mapping[str, Any],
                  cert=None) -> dict:
    """What entry/form.html needs: a new certificate's (``cert`` None) or an edited one's."""
    matters = certificates.matters_of(uow, cert) if cert is not None else certificates.issuing_matters(
        uow, actor, ctype.id)
    return {
        "ctype": ctype, "basic_columns": _basic_columns(ctype), "fields": _fields(ctype), "basic": basic,
        "values": values, "holder_types": sorted(HOLDER_TYPES.items()),
        "matters": [(m.code, f"{m.code} {m.name}") for m in matters], "prefix": FIELD_PREFIX,
    }


def _defaults(ctype: CertificateType) -> dict:
    """A new form: the type's name and holder type; the region defaults to the department's."""
    return {"holder_type": ctype.holder_type, "name": ctype.name}


def _enterable_type(uow, actor, type_id: int) -> CertificateType:
    """A type the actor may enter now (its department's, approved); refusals are the domain's."""
    certificates.issuing_matters(uow, actor, type_id)  # the domain's entry check (role, department, review)
    return cert_types.get(uow, actor, type_id)


# --- pages ---------------------------------------------------------------------------------------

@bp.route("")
@kit.guard(*MAKERS, department=True)
def index():
    actor = kit.current_actor()
    args = kit.list_args("text", "status", "type_id", sort="-created_at")
    with kit.uow() as uow:
        types = cert_types.search(uow, actor, status="approved", own_only=True, page=1, size=200, sort="name")
        page = certificates.search(uow, actor, text=args.filters["text"], status=args.filters["status"],
                                   type_id=args.int_filter("type_id"), page=args.page, size=args.size,
                                   sort=args.sort)
        ctx = kit.later(uow, render_template, "entry/index.html", types=types, page=page, args=args,
                               status_options=[(s, kit.STATE_LABELS[s]) for s in LIST_STATES],
                               type_options=[(str(t.id), t.name) for t in types.items],
                               editable=certificates.EDITABLE_STATES, deletable=certificates.DELETABLE_STATES,
                               returned=approval.returned(uow.session, approval.CERTIFICATE.kind,
                                                          (c.id for c in page.items)))
    return ctx()


@bp.route("/new/<int:type_id>", methods=["GET", "POST"])
@kit.guard(*MAKERS, department=True)
def new(type_id: int):
    g.nav = "entry.index"
    actor = kit.current_actor()
    errors: dict[str, str] = {}
    with kit.uow() as uow:
        ctype = _enterable_type(uow, actor, type_id)
        if request.method == "POST":
            basic, values, errors = _read_form(ctype)
            if not errors:
                try:
                    cert = certificates.enter(uow, actor, ctype.id, basic, values)
                    uow.commit()
                    return kit.done(_("已保存"), "entry.view", cert_id=cert.id)
                except ValidationError as e:
                    errors = _messages(ctype, e)
        else:
            basic, values = _defaults(ctype), {}
        ctx = kit.later(uow, kit.form_page, "entry/form.html", errors, action=url_for("entry.new", type_id=ctype.id),
                             title=_("新增证照"), cert=None, **_form_context(uow, actor, ctype, basic, values))
    return ctx()


@bp.route("/<int:cert_id>/edit", methods=["GET", "POST"])
@kit.guard(*MAKERS, department=True)
def edit(cert_id: int):
    return edit_form(cert_id, "entry.view", "entry.index")


def edit_form(cert_id: int, saved: str, nav: str):
    """The form of a certificate not yet submitted (录入 and 证照管理 both edit with it): GET shows
    it filled in, POST saves and goes to ``saved`` (an endpoint taking ``cert_id``)."""
    g.nav = nav
    actor = kit.current_actor()
    errors: dict[str, str] = {}
    with kit.uow() as uow:
        cert = certificates.get(uow, actor, cert_id)
        if cert.status not in certificates.EDITABLE_STATES:  # the domain refuses the save as well
            raise IllegalTransition("certificate", cert.identifier, cert.status.value, "edited",
                                    _("已提交审核或已签发的证照不能编辑"))
        ctype = uow.session.get(CertificateType, cert.type_id)
        stored = certificates.values_of(uow, cert)
        if request.method == "POST":
            basic, values, errors = _read_form(ctype, keep=stored)
            if not errors:
                try:
                    certificates.update(uow, actor, cert.id, basic, values)
                    uow.commit()
                    return kit.done(_("已保存"), saved, cert_id=cert.id)
                except ValidationError as e:
                    errors = _messages(ctype, e)
                except Conflict:
                    errors = {"number": _("该证照编号已存在")}
        else:
            basic = {c.key: getattr(cert, c.key, "") for c in _basic_columns(ctype)}
            basic["holder_code"] = certificates.holder_code_of(uow, cert)
            values = stored
        ctx = kit.later(uow, kit.form_page, "entry/form.html", errors, action=url_for(request.endpoint, cert_id=cert.id),
                             title=_("编辑证照"), cert=cert, **_form_context(uow, actor, ctype, basic, values, cert))
    return ctx()


@bp.route("/<int:cert_id>")
@kit.guard(*MAKERS, department=True)
def view(cert_id: int):
    g.nav = "entry.index"
    actor = kit.current_actor()
    with kit.uow() as uow:
        cert = certificates.get(uow, actor, cert_id)
        ctype = uow.session.get(CertificateType, cert.type_id)
        ctx = kit.later(uow, render_template, "entry/view.html", cert=cert, fields=_fields(ctype),
                               values=certificates.values_of(uow, cert),
                               holder_code=certificates.holder_code_of(uow, cert),
                               holder_types=HOLDER_TYPES, editable=cert.status in certificates.EDITABLE_STATES,
                               deletable=cert.status in certificates.DELETABLE_STATES)
    return ctx()


@bp.route("/<int:cert_id>/delete", methods=["POST"])
@kit.guard(*MAKERS, department=True)
def delete(cert_id: int):
    return kit.act(certificates.delete, cert_id, message=_("已删除"), endpoint="entry.index")


@bp.route("/<int:cert_id>/submit", methods=["POST"])
@kit.guard(*MAKERS, department=True)
def submit(cert_id: int):
    return kit.act(certificates.submit, cert_id, message=_("已提交审核"), endpoint="entry.index")


@bp.route("/submit", methods=["POST"])
@kit.guard(*MAKERS, department=True)
def submit_selected():
    try:
        ids = [int(i) for i in request.form.getlist("ids")]
    except ValueError:
        raise ValidationError({"ids": _("请选择证照")}) from None
    if not ids:
        return kit.done(_("请先选择要提交审核的证照"), "entry.index")
    return kit.act(certificates.submit_many, ids, message=_("已提交审核 %(n)d 条", n=len(ids)), endpoint="entry.index")


# --- Excel import ----------------------------------------------------------------------------------

@bp.route("/import/<int:type_id>/template.xlsx")
@kit.guard(*MAKERS, department=True)
def template(type_id: int):
    with kit.uow() as uow:
        ctype = _enterable_type(uow, kit.current_actor(), type_id)
        data = certificate_import.template_for(uow, kit.current_actor(), ctype.id)
        name = f"{ctype.code}.xlsx"
    return send_file(io.BytesIO(data), as_attachment=True, download_name=name,
                     mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")


@bp.route("/import/<int:type_id>", methods=["GET", "POST"])
@kit.guard(*MAKERS, department=True)
def import_file(type_id: int):
    g.nav = "entry.index"
    actor = kit.current_actor()
    errors: dict[str, str] = {}
    problems: dict[int, dict[str, str]] = {}
    with kit.uow() as uow:
        ctype = _enterable_type(uow, actor, type_id)
        if request.method == "POST":
            upload = request.files.get("file")
            data = upload.read(certificate_import.MAX_BYTES + 1) if upload else b""
            if not data:
                errors = {"file": _("请选择 Excel 文件")}
            else:
                try:
                    report = certificate_import.import_certificates(uow, actor, ctype.id, data)
                    uow.commit()
                    return kit.done(_("已导入 %(n)d 条证照", n=report.created), "entry.index",
                                    type_id=ctype.id)
                except certificate_import.CertificateImportError as e:
                    problems = e.rows
                    errors = {"file": _("%(n)d 行有问题，未导入任何证照", n=len(e.rows))}
                except ValidationError as e:
                    errors = {"file": "; ".join(str(v) for v in e.errors.values()) or e.message}
                except Conflict as e:
                    errors = {"file": e.message}
        ctx = kit.later(uow, kit.form_page, "entry/import.html", errors, ctype=ctype, problems=problems)
    return ctx()
