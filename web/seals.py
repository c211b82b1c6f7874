"""印章 (a department's electronic seals): list, add (upload or generate), view, picture, edit, delete.

Thin views over ``issuance.seal_registry``. The add form takes either a picture upload (PNG or
JPEG, at most 5 MB, checked by Pillow before decoding and normalised to a transparent PNG by
``seals.picture.normalise_upload``) or the text of a generated seal; the digital certificate to
allow is one of the department's valid ones (without any, the page links to 新增证书). The view
page shows the picture in ``#seal-viewer``, zoomed, reset and rotated by static/seals.js.
"""

from __future__ import annotations

import io
from datetime import date

from flask import g, render_template, request, send_file
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from issuance import digital_certificates as dcerts
from issuance import seal_registry
from issuance.errors import ValidationError
from issuance.models import RoleCode

from . import kit
from .app import current_platform
from .auth import current_actor
from .kit import blueprint

bp = blueprint("seals", __name__, url_prefix="/seals")

GUARD = dict(department=True)
UPLOAD_MAX = 5 * 1024 * 1024
UPLOAD_TYPES = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff")  # PNG, JPEG: the only uploads the form takes
STATUS_OPTIONS = [("valid", _l("有效")), ("frozen", _l("已冻结")), ("cancelled", _l("已注销"))]
STYLE_LABELS = {"party": _l("党政机关、纪委公章"), "official": _l("普通公章"), "union": _l("工会章"),
                "league": _l("团委章")}
MESSAGES = {
    "name": _l("印章名称为 1 到 64 个字符，且本部门内不能重复"),
    "style": _l("请选择印章类型"),
    "size_mm": _l("印章尺寸为 20 到 60 毫米"),
    "certificate_id": _l("请选择本部门有效的数字证书"),
    "valid_to": _l("有效期须晚于开始日期、在今天之后，且不能超过证书的有效期"),
    "valid_from": _l("日期格式不正确"),
    "text": _l("印章文字为 1 到 40 个字符"),
    "bottom_text": _l("下方文字不能超过 20 个字符"),
    "status": _l("请选择状态"),
}
PICTURE_MESSAGES = (  # seals.picture's reasons -> the reader's language
    ("5 MB", _l("图片不能超过 5 MB")),
    ("pixels", _l("图片尺寸过大")),
    ("empty", _l("图片是空白的（全白或全透明）")),
)


def style_options() -> list[tuple[str, str]]:
    return [(k, str(STYLE_LABELS.get(k, v))) for k, v in seal_registry.styles().items()]


def errors_of(e: ValidationError) -> dict[str, str]:
    """The domain's field errors in the reader's language, next to the fields."""
    out = kit.field_errors(e)
    for k, text in list(out.items()):
        if k in MESSAGES:
            out[k] = str(MESSAGES[k])
        elif k == "picture":
            out[k] = next((str(m) for key, m in PICTURE_MESSAGES if key in text), _("请上传 PNG 或 JPEG 图片"))
        elif k == "form":
            out[k] = _("印章无法生成：%(detail)s", detail=text)
    return out


def _date(values: dict, name: str, errors: dict) -> date | None:
    raw = values.get(name, "")
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        errors[name] = _("日期格式不正确")
        return None


def _upload(errors: dict) -> bytes | None:
    """The uploaded picture's bytes if one was sent; refused early when too big or not PNG/JPEG."""
    f = request.files.get("picture")
    if f is None or not f.filename:
        return None
    data = f.read(UPLOAD_MAX + 1)
    if not data:
        errors["picture"] = _("请选择印章图片")
    elif len(data) > UPLOAD_MAX:
        errors["picture"] = _("图片不能超过 5 MB")
    elif not data.startswith(UPLOAD_TYPES):
        errors["picture"] = _("请上传 PNG 或 JPEG 图片")
    return data


@bp.route("")
@kit.guard(RoleCode.DEPT_ADMIN, **GUARD)
def index():
    args = kit.list_args("text", "status", "style", sort="-created_at")
    with kit.uow() as uow:
        page = seal_registry.search(uow, current_actor(), args.filters["text"], args.filters["status"],
                                    args.filters["style"], page=args.page, size=args.size, sort=args.sort)
        certs = seal_registry.certificate_names(uow, list(page.items))
        kit.detach(uow)
    return render_template("seals/index.html", page=page, args=args, statuses=STATUS_OPTIONS,
                           styles=style_options(), style_labels=dict(style_options()), certs=certs)


@bp.route("/new", methods=["GET", "POST"])
@kit.guard(RoleCode.DEPT_ADMIN, **GUARD)
def new():
    g.nav = "seals.index"
    actor = current_actor()
    values = kit.form_values("name", "style", "source", "text", "bottom_text", "code", "size_mm",
                             "certificate_id", "valid_from", "valid_to")
    values["source"] = values["source"] or "generate"
    values["style"] = values["style"] or "official"
    values["size_mm"] = values["size_mm"] or "42"
    errors: dict[str, str] = {}
    if request.method == "POST":
        picture = _upload(errors) if values["source"] == "upload" else None
        if values["source"] == "upload" and picture is None and "picture" not in errors:
            errors["picture"] = _("请选择印章图片")
        start, end = _date(values, "valid_from", errors), _date(values, "valid_to", errors)
        try:
            size_mm = int(values["size_mm"])
        except ValueError:
            size_mm = 0
        try:
            cert_id = int(values["certificate_id"]) if values["certificate_id"] else None
        except ValueError:
            cert_id = -1
        if not errors:  # the form's own refusals first: then nothing is drawn or written
            try:
                with kit.uow() as uow:
                    row = seal_registry.create(uow, actor, current_platform().ca, values["name"], cert_id,
                                               values["style"], picture=picture, text=values["text"],
                                               bottom_text=values["bottom_text"], code=values["code"],
                                               size_mm=size_mm, valid_from=start, valid_to=end)
                    uow.commit()
                    seal_id = row.id
            except ValidationError as e:
                errors = errors_of(e)
        if not errors:
            return kit.done(_("已新增印章"), "seals.view", seal_id=seal_id)
    with kit.uow() as uow:
        certificates = dcerts.valid_choices(uow, actor)
        if request.method == "GET" and not values["text"]:
            values["text"] = seal_registry.default_text(uow, actor)
    return kit.form_page("seals/form.html", errors, values=values, seal=None, certificates=certificates,
                         styles=style_options(), statuses=STATUS_OPTIONS)


@bp.route("/<int:seal_id>")
@kit.guard(RoleCode.DEPT_ADMIN, **GUARD)
def view(seal_id: int):
    g.nav = "seals.index"
    with kit.uow() as uow:
        row = seal_registry.get(uow, current_actor(), seal_id)
        certs = seal_registry.certificate_names(uow, [row])
        kit.detach(uow)
    return render_template("seals/view.html", seal=row, cert_name=certs.get(row.certificate_id, ""),
                           style_labels=dict(style_options()))


@bp.route("/<int:seal_id>/picture.png")
@kit.guard(RoleCode.DEPT_ADMIN, **GUARD)
def picture(seal_id: int):
    with kit.uow() as uow:
        png = seal_registry.get(uow, current_actor(), seal_id).picture
    resp = send_file(io.BytesIO(png), mimetype="image/png")
    resp.headers["Cache-Control"] = "private, no-cache"
    return resp


@bp.route("/<int:seal_id>/edit", methods=["GET", "POST"])
@kit.guard(RoleCode.DEPT_ADMIN, **GUARD)
def edit(seal_id: int):
    g.nav = "seals.index"
    actor = current_actor()
    errors: dict[str, str] = {}
    values = kit.form_values("name", "status")
    if request.method == "POST":
        try:
            with kit.uow() as uow:
                seal_registry.update(uow, actor, current_platform().ca, seal_id, values["name"], values["status"])
                uow.commit()
        except ValidationError as e:
            errors = errors_of(e)
        else:
            return kit.done(_("已保存"), "seals.view", seal_id=seal_id)
    with kit.uow() as uow:
        row = seal_registry.get(uow, actor, seal_id)
        if request.method == "GET":
            values = {"name": row.name, "status": row.status}
        kit.detach(uow)
    return kit.form_page("seals/form.html", errors, values=values, seal=row, certificates=[],
                         styles=style_options(), statuses=STATUS_OPTIONS)


@bp.route("/<int:seal_id>/delete", methods=["POST"])
@kit.guard(RoleCode.DEPT_ADMIN, **GUARD)
def delete(seal_id: int):
    return kit.act(seal_registry.delete, seal_id, message=_("已删除"), endpoint="seals.index")
