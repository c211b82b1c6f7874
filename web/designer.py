"""照面设计 (the surface designer of a certificate type).

The designer page (``edit``) draws the type's design on a canvas in ``static/designer.js``: data
items, text, the QR code and the seal are dragged from the palette onto the page, moved, resized
and styled in the inspector. The page talks JSON to three endpoints: ``save`` (the design, stored
by ``cert_types.save_surface_design``), ``background`` (an uploaded background picture, stored
content-addressed by ``issuance.surface_assets``) and ``preview`` (the design rendered with sample
values by the same function as the PNG rendition of an issued certificate). ``view`` (查看照面设计)
shows the saved design rendered, read-only; ``asset`` serves a design's stored pictures.

Editing is for the dept admin and clerks of the type's own department (and the platform admin);
viewing for the staff of that department. Other departments get 403, unknown types 404.
"""

from __future__ import annotations

import base64
import io

from flask import current_app, g, jsonify, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from werkzeug.routing import BuildError

from issuance import cert_types, surface_assets
from issuance.errors import ValidationError
from issuance.models import RoleCode
from issuance.pipeline.documents import verify_base_url

from . import kit
from .app import current_platform
from .auth import current_actor

bp = kit.blueprint("designer", __name__, url_prefix="/types")

EDITORS = (RoleCode.DEPT_ADMIN, RoleCode.CLERK)
FONTS = (("serif", _l("宋体")), ("sans", _l("黑体")), ("kai", _l("楷体")), ("fangsong", _l("仿宋")))
ALIGNS = (("left", _l("左对齐")), ("center", _l("居中")), ("right", _l("右对齐")))
UPLOAD_MESSAGES = {
    "empty": _l("请选择图片文件"),
    "too_large": _l("底图文件不能超过 5 MB"),
    "not_image": _l("底图只能是 PNG 或 JPEG 图片"),
    "too_many_pixels": _l("图片尺寸过大"),
}


def _data_dir():
    return current_platform().settings.data_dir


def _base_url() -> str:
    return verify_base_url(current_platform().settings.server)


def _type_url(type_id: int) -> str | None:
    """The type's own page (built by the types module) to go back to, if it exists."""
    for endpoint, values in (("types.view", {"type_id": type_id}), ("types.view", {"id": type_id}),
                             ("types.index", {})):
        if endpoint in current_app.view_functions:
            try:
                return url_for(endpoint, **values)
            except BuildError:
                continue
    return None


def _json_errors(errors: dict[str, str], status: int = 400):
    return jsonify({"ok": False, "errors": errors}), status


def _posted_design():
    """The JSON body of a save or preview; None when it is not a JSON object."""
    data = request.get_json(silent=True)
    if isinstance(data, dict) and isinstance(data.get("design"), dict):
        data = data["design"]  # {"design": {...}} is accepted as well as the bare design
    return data if isinstance(data, dict) else None


@bp.route("/<int:type_id>/design")
@kit.guard(*EDITORS, department=True)
def edit(type_id: int):
    """The designer page: the saved design, or a default one listing the type's fields."""
    from ofd.design import default_for

    g.nav = "types.index"
    actor = current_actor()
    with kit.uow() as uow:
        t = surface_assets.editable_type(uow, actor, type_id)
        design = cert_types.surface_design_of(t)
        saved = design is not None
        if design is None:
            design = default_for([(f.column_name, f.name) for f in sorted(t.fields, key=lambda f: f.display_order)])
        palette = surface_assets.palette(t)
        seals = surface_assets.seal_choices(uow, t)
        name, tid = t.name, t.id
    asset_prefix = url_for("designer.asset", type_id=tid, sha="0" * 64)[:-64]
    data = {
        "design": design.to_json(),
        "saved": saved,
        "palette": [{"source": s, "label": label} for s, label in palette],
        "seals": [{"id": i, "name": n} for i, n in seals],
        "urls": {"save": url_for("designer.save", type_id=tid), "preview": url_for("designer.preview", type_id=tid),
                 "background": url_for("designer.background", type_id=tid), "asset": asset_prefix},
        "text": {"saved": _("已保存"), "failed": _("保存失败"), "invalid": _("照面设计有误，请检查："),
                 "element": _("元素"), "text": _("文本"), "qr": _("二维码"), "seal": _("印章"),
                 "default_seal": _("部门默认印章"), "image": _("图片"), "new_text": _("文本内容"),
                 "uploading": _("正在上传底图…"), "uploaded": _("底图已上传"), "rendering": _("正在生成预览…"),
                 "preview_failed": _("预览失败"), "unsaved": _("有未保存的修改"), "one_qr": _("一个照面只能有一个二维码"),
                 "one_seal": _("一个照面只能有一个印章位置")},
    }
    return render_template("designer/edit.html", type_name=name, type_id=tid, data=data, saved=saved, fonts=FONTS,
                           aligns=ALIGNS, seals=seals, back_url=_type_url(tid))


@bp.route("/<int:type_id>/design/save", methods=["POST"])
@kit.guard(*EDITORS, department=True)
def save(type_id: int):
    """Store the posted design (JSON, CSRF token in the X-CSRFToken header); {ok} or 400 {errors}."""
    data = _posted_design()
    if data is None:
        return _json_errors({"design": _("请求内容不是照面设计 JSON")})
    actor = current_actor()
    try:
        with kit.uow() as uow:
            t = surface_assets.editable_type(uow, actor, type_id)
            surface_assets.check_design(uow, t, surface_assets.parse_design(t, data), _data_dir())
            design = cert_types.save_surface_design(uow, actor, type_id, data)
            uow.commit()
    except ValidationError as e:
        return _json_errors(kit.field_errors(e))
    return jsonify({"ok": True, "elements": len(design.elements), "message": _("照面设计已保存")})


@bp.route("/<int:type_id>/design/background", methods=["POST"])
@kit.guard(*EDITORS, department=True)
def background(type_id: int):
    """Keep an uploaded background (multipart field ``background``); answers {ref, url}."""
    upload = request.files.get("background")
    data = upload.read(surface_assets.MAX_BACKGROUND_BYTES + 1) if upload else b""
    try:
        with kit.uow() as uow:
            ref = surface_assets.store_background(uow, current_actor(), _data_dir(), type_id, data)
            uow.commit()
    except surface_assets.BackgroundError as e:
        return _json_errors({"background": str(UPLOAD_MESSAGES[e.reason])})
    sha = ref.removeprefix("file:")
    return jsonify({"ok": True, "ref": ref, "url": url_for("designer.asset", type_id=type_id, sha=sha)})


@bp.route("/<int:type_id>/design/assets/<sha>")
@kit.guard(department=True)
def asset(type_id: int, sha: str):
    """A stored picture of the type's design, for those who may see the type."""
    with kit.uow() as uow:
        data, mimetype = surface_assets.read_asset(uow, current_actor(), _data_dir(), type_id, sha)
    resp = send_file(io.BytesIO(data), mimetype=mimetype)
    resp.headers["Cache-Control"] = "private, max-age=3600"  # content-addressed: never changes
    return resp


@bp.route("/<int:type_id>/design/preview", methods=["POST"])
@kit.guard(*EDITORS, department=True)
def preview(type_id: int):
    """The posted design rendered with sample values, as the PNG rendition would draw it."""
    data = _posted_design()
    if data is None:
        return _json_errors({"design": _("请求内容不是照面设计 JSON")})
    try:
        with kit.uow() as uow:
            t = surface_assets.editable_type(uow, current_actor(), type_id)
            design = surface_assets.parse_design(t, data)
            png = surface_assets.render_sample(uow, t, design, _data_dir(), _base_url())
    except ValidationError as e:
        return _json_errors(kit.field_errors(e))
    return send_file(io.BytesIO(png), mimetype="image/png")


@bp.route("/<int:type_id>/design/view")
@kit.guard(department=True)
def view(type_id: int):
    """查看照面设计: the saved design rendered with sample values, read-only."""
    g.nav = "types.index"
    actor = current_actor()
    picture, problem = None, None
    with kit.uow() as uow:
        t = surface_assets.viewable_type(uow, actor, type_id)
        design = cert_types.surface_design_of(t)
        if design is not None:
            try:
                png = surface_assets.render_sample(uow, t, design, _data_dir(), _base_url())
                picture = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
            except ValidationError as e:
                problem = "; ".join(e.errors.values())
        editable = surface_assets.can_edit(actor, t)
        info = {"id": t.id, "name": t.name, "code": t.code}
    summary = None
    if design is not None:
        kinds = [e.kind for e in design.elements]
        summary = {"width": design.width, "height": design.height, "fields": kinds.count("field"),
                   "texts": kinds.count("text"), "seal": "seal" in kinds, "qr": "qr" in kinds,
                   "background": bool(design.background)}
    return render_template("designer/view.html", type=info, picture=picture, problem=problem, summary=summary,
                           editable=editable, back_url=_type_url(type_id))
