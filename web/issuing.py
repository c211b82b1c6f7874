"""审核 (issuance review list and the live issuance progress view).

The review list holds the department's certificates waiting for entry review (submitted), for
issuance review (approved) and in issuance (issuing). A reviewer approves or rejects (驳回, with a
reason) an entry, and starts issuance (发起签发: the issuance review's approval), which leads to
the issuance page; there 开始签发 runs the pipeline in a thread of this process (the request
returns at once) and ``static/issuing.js`` polls ``progress_json`` every 500 ms, colouring each
step as its record changes.
"""

from __future__ import annotations


from flask import current_app, g, jsonify, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _

from issuance import cert_types, certificates, progress
from issuance.codes import HOLDER_TYPES
from issuance.errors import IllegalTransition, ValidationError
from issuance.models import CertificateStatus, CertificateType, RoleCode

from . import kit
from .app import current_platform
from .kit import blueprint



bp = blueprint("issuing", __name__, url_prefix="/issuing")

REVIEWERS = (RoleCode.REVIEWER, RoleCode.DEPT_ADMIN)
S = CertificateStatus
POLL_MS = 500


def background() -> progress.Background:
    """This app's registry of pipeline runs (one per app, created on first use)."""
    return current_app.extensions.setdefault("issuing_background", progress.Background())


def _ids(raw: list[str]) -> list[int]:
    """Certificate ids of a form or query (``ids=1,2`` or repeated ``ids``); nonsense is a 400."""
    out: list[int] = []
    for part in raw:
        for piece in part.split(","):
            piece = piece.strip()
            if not piece:
                continue
            if not piece.isdigit() or len(piece) > 12:
                raise ValidationError({"ids": _("证照编号有误")})
            out.append(int(piece))
    out = list(dict.fromkeys(out))
    if not out:
        raise ValidationError({"ids": _("请选择证照")})
    if len(out) > progress.MAX_BATCH:
        raise ValidationError({"ids": _("一次最多 %(n)d 条", n=progress.MAX_BATCH)})
    return out


def _language() -> str:
    return str(get_locale() or "zh_CN")


# --- the review list ---------------------------------------------------------------------------

@bp.route("")
@kit.guard(*REVIEWERS, department=True)
def review_list():
    actor = kit.current_actor()
    args = kit.list_args("text", "stage", "type_id", sort="-created_at")
    with kit.uow() as uow:
        page = progress.review_queue(uow, actor, text=args.filters["text"], stage=args.filters["stage"],
                                     type_id=args.int_filter("type_id"), page=args.page, size=args.size,
                                     sort=args.sort)
        types = cert_types.search(uow, actor, status="approved", own_only=True, page=1, size=200, sort="name")
        stages = [("entry", _("待录入审核")), ("issuance", _("待签发")), ("issuing", _("签发中"))]
        running = background().running([c.id for c in page.items])
        ctx = kit.later(uow, render_template, "issuing/review_list.html", page=page, args=args, stages=stages,
                               type_options=[(str(t.id), t.name) for t in types.items], running=running)
    return ctx()


@bp.route("/<int:cert_id>")
@kit.guard(*REVIEWERS, department=True)
def view(cert_id: int):
    """签发审核详情: the certificate's data and its review history, with the actions of its stage."""
    g.nav = "issuing.review_list"
    actor = kit.current_actor()
    with kit.uow() as uow:
        cert = certificates.get(uow, actor, cert_id)
        ctype = uow.session.get(CertificateType, cert.type_id)
        fields = sorted(ctype.fields, key=lambda f: (f.display_order, f.id or 0))
        ctx = kit.later(uow, render_template, "issuing/view.html", cert=cert, fields=fields,
                               values=certificates.values_of(uow, cert),
                               holder_code=certificates.holder_code_of(uow, cert), holder_types=HOLDER_TYPES)
    return ctx()


@bp.route("/<int:cert_id>/approve", methods=["POST"])
@kit.guard(*REVIEWERS, department=True)
def approve(cert_id: int):
    """Entry review: approve (submitted -> approved, waiting for 发起签发)."""
    return kit.act(certificates.review_entry, cert_id, True, message=_("审核通过"), endpoint="issuing.review_list")


def _stage_of(cert) -> str:
    if cert.status is S.SUBMITTED:
        return certificates.ENTRY_REVIEW
    if cert.status is S.APPROVED:
        return certificates.ISSUANCE_REVIEW
    raise IllegalTransition("certificate", cert.identifier, cert.status.value, "rejected",
                            _("该证照不在待审核状态"))


@bp.route("/<int:cert_id>/reject", methods=["GET", "POST"])
@kit.guard(*REVIEWERS, department=True)
def reject(cert_id: int):
    """驳回: asks "是否确认驳回证照签发请求？" and needs a reason."""
    g.nav = "issuing.review_list"
    actor = kit.current_actor()
    errors: dict[str, str] = {}
    reason = ""
    with kit.uow() as uow:
        cert = certificates.get(uow, actor, cert_id)
        stage = _stage_of(cert)
        if request.method == "POST":
            reason = (request.form.get("reason") or "").strip()
            if not reason:
                errors = {"reason": _("请填写驳回理由")}
            elif len(reason) > 500:
                errors = {"reason": _("驳回理由不超过 500 个字符")}
            else:
                try:
                    certificates.review_many(uow, actor, [cert.id], stage, False, reason)
                    uow.commit()
                    return kit.done(_("已驳回"), "issuing.review_list")
                except ValidationError as e:
                    errors = kit.field_errors(e)
        ctx = kit.later(uow, kit.form_page, "issuing/reject.html", errors, cert=cert, reason=reason)
    return ctx()


@bp.route("/<int:cert_id>/start-issuance", methods=["POST"])
@kit.guard(*REVIEWERS, department=True)
def start_issuance(cert_id: int):
    """发起签发 (asks "是否确认发起签发流程？"): the issuance review's approval, then the issuance page."""
    return kit.act(certificates.review_issuance, cert_id, True, message=_("已发起签发，点击【开始签发】进入签发流程"),
                   endpoint="issuing.progress_page", ids=str(cert_id))


@bp.route("/batch", methods=["POST"])
@kit.guard(*REVIEWERS, department=True)
def batch():
    """Batch review from the list: approve the selected entries, or start issuance of them."""
    action = request.form.get("action", "")
    if action not in ("approve", "start"):
        raise ValidationError({"action": _("请求参数有误")})
    ids = _ids(request.form.getlist("ids"))
    stage = certificates.ENTRY_REVIEW if action == "approve" else certificates.ISSUANCE_REVIEW
    with kit.uow() as uow:
        certificates.review_many(uow, kit.current_actor(), ids, stage, True)
        uow.commit()
    if action == "approve":
        return kit.done(_("审核通过 %(n)d 条", n=len(ids)), "issuing.review_list")
    return kit.done(_("已发起签发，点击【开始签发】进入签发流程"), "issuing.progress_page",
                    ids=",".join(map(str, ids)))


# --- issuance and its progress --------------------------------------------------------------------

def _progress(ids: list[int]) -> tuple[list[progress.CertificateProgress], bool]:
    platform = current_platform()
    with kit.uow() as uow:
        rows = progress.of(uow, kit.current_actor(), ids, platform.settings.blockchain.enabled, _language())
    return rows, background().running(ids)


@bp.route("/progress")
@kit.guard(*REVIEWERS, department=True)
def progress_page():
    """签发流程页面: the steps of the chosen certificates and 开始签发."""
    g.nav = "issuing.review_list"
    ids = _ids(request.args.getlist("ids"))
    rows, running = _progress(ids)
    startable = any(r.status == S.ISSUING.value for r in rows)
    return render_template("issuing/progress.html", rows=rows, running=running, startable=startable,
                           ids=",".join(map(str, ids)), poll_ms=POLL_MS,
                           json_url=url_for("issuing.progress_json", ids=",".join(map(str, ids))))


@bp.route("/progress.json")
@kit.guard(*REVIEWERS, department=True)
def progress_json():
    ids = _ids(request.args.getlist("ids"))
    rows, running = _progress(ids)
    errors = {str(i): e for i, e in background().errors.items() if i in ids}
    certs = []
    for r in rows:
        d = r.as_dict()
        d["status_label"] = str(kit.STATE_LABELS.get(d["status"], d["status"]))  # the badge's text
        certs.append(d)
    return jsonify({"running": running, "errors": errors, "certificates": certs})


@bp.route("/run", methods=["POST"])
@kit.guard(*REVIEWERS, department=True)
def run():
    """开始签发: the pipeline over the chosen certificates, in the background."""
    from issuance.pipeline.runner import issue

    actor = kit.current_actor()
    ids = _ids(request.form.getlist("ids"))
    with kit.uow() as uow:
        progress.check_startable(uow, actor, ids)
    platform = current_platform()
    started = background().start(ids, lambda todo: issue(platform, todo, actor=actor, workers=0))
    if request.accept_mimetypes.best == "application/json":
        return jsonify({"started": started, "running": True}), 202
    return kit.done(_("签发已开始") if started else _("签发正在进行中"), "issuing.progress_page",
                    ids=",".join(map(str, ids)))
