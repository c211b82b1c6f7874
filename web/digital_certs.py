"""证书 (a department's digital certificates): list, add, view, download, edit, delete.

Thin views over ``issuance.digital_certificates``; the department admin of the own department
(and the platform admin) manage them, as the navigation shows. Deleting a certificate that a seal
allows revokes it instead (the domain decides; the flash says which happened).
"""

from __future__ import annotations

from flask import Response, g, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from issuance import digital_certificates as dcerts
from issuance.errors import ValidationError
from issuance.models import RoleCode

from . import kit
from .app import current_platform
from .auth import current_actor
from .kit import blueprint

bp = blueprint("digital_certs", __name__, url_prefix="/digital-certificates")

GUARD = dict(department=True)
STATUS_OPTIONS = [("valid", _l("有效")), ("revoked", _l("已注销"))]
YEAR_OPTIONS = [(str(n), _l("%(n)d 年", n=n)) for n in range(1, dcerts.MAX_YEARS + 1)]
MESSAGES = {
    "name": _l("证书名称为 1 到 64 个字符，且本部门内不能重复"),
    "remark": _l("备注不能超过 500 个字符"),
    "subject_cn": _l("证书主体名称不能超过 128 个字符"),
    "years": _l("有效期为 1 到 5 年"),
}

# the attributes of a distinguished name (``dcerts.name_parts``), in the reader's language with the usual abbreviation
NAME_LABELS = {
    "common_name": _l("通用名称 CN"), "organization_name": _l("组织 O"), "organizational_unit_name": _l("组织单位 OU"),
    "country_name": _l("国家 C"), "state_or_province_name": _l("省 ST"), "locality_name": _l("城市 L"),
    "street_address": _l("街道地址 STREET"), "serial_number": _l("序列号 SERIALNUMBER"),
    "email_address": _l("电子邮件 E"), "title": _l("职务 T"), "given_name": _l("名 GN"), "surname": _l("姓 SN"),
    "domain_component": _l("域名组件 DC"), "organization_identifier": _l("组织标识符"),
}


def labelled(parts) -> list[tuple[str, str]]:
    """(label, value) of each attribute of a name; an attribute without a label keeps its own name."""
    return [(str(NAME_LABELS.get(key, key)), value) for key, value in parts]


def errors_of(e: ValidationError) -> dict[str, str]:
    """The domain's field errors in the reader's language, next to the fields."""
    out = kit.field_errors(e)
    for k in list(out):
        if k in MESSAGES:
            out[k] = str(MESSAGES[k])
        elif k == "form":
            out[k] = _("平台 CA 无法签发证书：%(detail)s", detail=out[k])
    return out


@bp.route("")
@kit.guard(RoleCode.DEPT_ADMIN, **GUARD)
def index():
    args = kit.list_args("text", "status", sort="-created_at")
    with kit.uow() as uow:
        page = dcerts.search(uow, current_actor(), args.filters["text"], args.filters["status"],
                             page=args.page, size=args.size, sort=args.sort)
        kit.detach(uow)
    return render_template("digital_certs/index.html", page=page, args=args, statuses=STATUS_OPTIONS)


@bp.route("/new", methods=["GET", "POST"])
@kit.guard(RoleCode.DEPT_ADMIN, **GUARD)
def new():
    g.nav = "digital_certs.index"
    values = kit.form_values("name", "remark", "subject_cn", "years")
    values["years"] = values["years"] or "3"
    errors: dict[str, str] = {}
    if request.method == "POST":
        try:
            years = int(values["years"])
        except ValueError:
            years = 0
        try:
            with kit.uow() as uow:
                row = dcerts.issue(uow, current_actor(), current_platform().ca, values["name"], values["remark"],
                                   values["subject_cn"], years)
                uow.commit()
                cert_id = row.id
        except ValidationError as e:
            errors = errors_of(e)
        else:
            return kit.done(_("已新增证书"), "digital_certs.view", cert_id=cert_id)
    return kit.form_page("digital_certs/form.html", errors, values=values, cert=None, years=YEAR_OPTIONS)


@bp.route("/<int:cert_id>")
@kit.guard(RoleCode.DEPT_ADMIN, **GUARD)
def view(cert_id: int):
    g.nav = "digital_certs.index"
    with kit.uow() as uow:
        row = dcerts.get(uow, current_actor(), cert_id)
        facts = dcerts.describe(row)
        used = dcerts.in_use(uow, row.id)
        kit.detach(uow)
    return render_template("digital_certs/view.html", cert=row, facts=facts, used=used,
                           subject=labelled(facts.subject_parts), issuer=labelled(facts.issuer_parts))


@bp.route("/<int:cert_id>/certificate.cer")
@kit.guard(RoleCode.DEPT_ADMIN, **GUARD)
def download(cert_id: int):
    with kit.uow() as uow:
        row = dcerts.get(uow, current_actor(), cert_id)
        der, serial = row.certificate_der, row.serial
    resp = Response(der, mimetype="application/pkix-cert")
    resp.headers["Content-Disposition"] = f'attachment; filename="certificate-{serial}.cer"'
    return resp


@bp.route("/<int:cert_id>/edit", methods=["GET", "POST"])
@kit.guard(RoleCode.DEPT_ADMIN, **GUARD)
def edit(cert_id: int):
    g.nav = "digital_certs.index"
    errors: dict[str, str] = {}
    actor = current_actor()
    if request.method == "POST":
        values = kit.form_values("name", "remark")
        try:
            with kit.uow() as uow:
                dcerts.update(uow, actor, cert_id, values["name"], values["remark"])
                uow.commit()
        except ValidationError as e:
            errors = errors_of(e)
        else:
            return kit.done(_("已保存"), "digital_certs.view", cert_id=cert_id)
    with kit.uow() as uow:
        row = dcerts.get(uow, actor, cert_id)
        if request.method == "GET":
            values = {"name": row.name, "remark": row.remark}
        kit.detach(uow)
    return kit.form_page("digital_certs/form.html", errors, values=values, cert=row, years=YEAR_OPTIONS)


@bp.route("/<int:cert_id>/delete", methods=["POST"])
@kit.guard(RoleCode.DEPT_ADMIN, **GUARD)
def delete(cert_id: int):
    with kit.uow() as uow:
        outcome = dcerts.delete(uow, current_actor(), current_platform().ca, cert_id)
        uow.commit()
    if outcome == "revoked":
        return kit.done(_("该证书已被印章使用，不能删除，已将其注销"), "digital_certs.index")
    return kit.done(_("已删除"), "digital_certs.index")
