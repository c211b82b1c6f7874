"""证照管理, 证照年审, 证照维护 (certificates after entry: management, annual review, maintenance).

Seed (user manual, 证照): 证照管理 lists the department's entered certificates (筛选、查看、编辑、
删除、挂失、注销); 证照年审 lists those whose type needs an annual review (筛选、年审、查看);
证照维护 lets the platform admin see every department's certificates (筛选、查看、删除、查看业务过程).

The views only read the request, call ``issuance.certificates`` / ``lifecycle`` / ``process`` /
``renditions`` and render; the domain checks roles and department isolation again (another
department's certificate is NotFound there, so a 404 here).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date
from functools import partial


from flask import g, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from issuance import cert_types, certificates, departments, lifecycle, process, renditions
from issuance.context import Actor
from issuance.errors import ValidationError
from issuance.field_values import parse_date
from issuance.models import CertificateStatus as S, RoleCode, ValueType

from . import kit
from .app import current_platform
from .auth import current_actor

bp = kit.blueprint("certs", __name__, url_prefix="/certificates")
log = logging.getLogger(__name__)

MAKERS = (RoleCode.CLERK, RoleCode.DEPT_ADMIN)                      # edit, delete, loss, revoke (lifecycle.MANAGERS)
ANNUAL = (RoleCode.CLERK, RoleCode.REVIEWER, RoleCode.DEPT_ADMIN)   # 证照年审 (lifecycle.REVIEWERS)
STAFF = kit.DEPT_STAFF

EVENT_LABELS = {"issue": _l("签发上链"), "report_loss": _l("挂失"), "revoke": _l("注销"),
                "annual_review": _l("年审"), "change": _l("变更")}
# the steps of the business process, by ``ProcessStep.code``
PROCESS_LABELS = {
    "entry": _l("证照录入"),
    "entry_review.submit": _l("提交审核"), "entry_review.approve": _l("录入审核通过"),
    "entry_review.reject": _l("录入审核驳回"), "entry_review.withdraw": _l("撤回"),
    "issuance_review.approve": _l("签发审核通过（发起签发）"), "issuance_review.reject": _l("签发审核驳回"),
    "pipeline.encrypt": _l("证照加密"), "pipeline.layout": _l("生成版式文件"), "pipeline.sign": _l("电子签名"),
    "pipeline.seal": _l("电子印章"), "pipeline.anchor": _l("上链"), "pipeline.effective": _l("生效"),
    "ledger.issue": _l("账本：签发存证"), "ledger.report_loss": _l("账本：挂失"), "ledger.revoke": _l("账本：注销"),
    "ledger.annual_review": _l("账本：年审"), "ledger.change": _l("账本：变更"),
    "certificate.update": _l("编辑证照"), "certificate.report_loss": _l("挂失"), "certificate.revoke": _l("注销"),
    "certificate.annual_review": _l("年审"), "certificate.annual_review_reinstate": _l("年审后恢复有效"),
    "certificate.change": _l("证照变更"), "certificate.superseded": _l("被新版本替代"),
    "certificate.copy": _l("生成加注件"), "certificate.overdue": _l("年审逾期"),
}
CERT_STATES = [S.DRAFT, S.SUBMITTED, S.APPROVED, S.ISSUING, S.EFFECTIVE, S.LOST, S.REVOKED, S.REVIEW_OVERDUE,
               S.SUPERSEDED]
ANNUAL_STATES = list(lifecycle.ANNUAL_LISTED)




def _state_options(states) -> list[tuple[str, str]]:
    return [(s.value, str(kit.STATE_LABELS.get(s.value, s.value))) for s in states]


def _cert_id_filter(args: kit.ListArgs, name: str) -> int | None:
    """An id filter of the query string; nonsense is the 400 page, not a silent 'all'."""
    return args.int_filter(name)


# --- 证照管理: the department's list --------------------------------------------------------------

@bp.route("")
@kit.guard(*STAFF, department=True)
def index():
    args = kit.list_args("text", "status", "type_id", "holder_code", sort="-created_at")
    actor = current_actor()
    with kit.uow() as uow:
        page = certificates.search(uow, actor, text=args.filters["text"], status=args.filters["status"],
                                   type_id=_cert_id_filter(args, "type_id"), holder_code=args.filters["holder_code"],
                                   page=args.page, size=args.size, sort=args.sort)
        types = cert_types.search(uow, actor, own_only=True, size=200, sort="name").items
        page_view = partial(render_template, "certs/index.html", page=page, args=args, maintenance=False,
                               status_options=_state_options(CERT_STATES),
                               type_options=[(t.id, t.name) for t in types],
                               can_change=kit.allowed(actor, MAKERS),
                               deletable={s.value for s in certificates.DELETABLE_STATES},
                               editable={s.value for s in certificates.EDITABLE_STATES})
        kit.detach(uow)
    return page_view()


# --- view: basic data, values, surface, ledger history -------------------------------------------

@dataclass(frozen=True)
class LedgerView:
    """What the view shows of the ledger: its status, the history, events still queued, or why not."""

    status: object = None
    history: tuple = ()
    waiting: tuple = ()
    error: str = ""


def _ledger_view(uow, cert) -> LedgerView:
    waiting = tuple(lifecycle.waiting_for_ledger(uow, cert))
    try:
        ledger = current_platform().ledger
        return LedgerView(ledger.status(cert.identifier), tuple(lifecycle.ledger_history(ledger, cert)), waiting)
    except Exception as exc:  # noqa: BLE001 - any ledger failure (chain down, store locked) is shown, not a 500
        log.warning("ledger history of %s unavailable: %s", cert.identifier, exc)
        return LedgerView(waiting=waiting, error=str(exc))


def _display_values(uow, cert, ctype) -> list[tuple[str, str, bool]]:
    """(label, value, is_image) of the type's fields in display order; images are not inlined."""
    values = certificates.values_of(uow, cert)
    out = []
    for f in ctype.fields:
        v = values.get(f.column_name, "")
        out.append((f.name, v, f.value_type is ValueType.IMAGE and bool(v)))
    return out


def _back(actor: Actor) -> str:
    """The list a certificate page belongs under (highlighted in the navigation)."""
    origin = request.args.get("from", "")
    if origin == "annual" and kit.allowed(actor, ANNUAL, department=True):
        return "certs.annual"
    if actor.is_admin and origin != "index":
        return "certs.maintenance"
    return "certs.index"


@bp.route("/<int:cert_id>")
@kit.guard(*STAFF, department=True)
def view(cert_id: int):
    actor = current_actor()
    g.nav = _back(actor)
    with kit.uow() as uow:
        cert = certificates.get(uow, actor, cert_id)
        ctype = cert_types.get(uow, actor, cert.type_id)
        issued = cert.status in renditions.ISSUED
        makers = kit.allowed(actor, MAKERS)
        expected = lifecycle.ledger_status_of(cert)
        page_view = partial(
            render_template,
            "certs/view.html", cert=cert, ctype=ctype, holder_code=certificates.holder_code_of(uow, cert),
            values=_display_values(uow, cert, ctype), issued=issued, has_design=bool(ctype.surface_design),
            ledger=_ledger_view(uow, cert), expected_ledger_status=expected.value if expected else "",
            event_labels=EVENT_LABELS, back=g.nav,
            can_edit=makers and cert.status in certificates.EDITABLE_STATES,
            can_delete=makers and cert.status in certificates.DELETABLE_STATES,
            can_lose=makers and cert.status in (S.EFFECTIVE, S.REVIEW_OVERDUE),
            can_revoke=makers and cert.status in (S.EFFECTIVE, S.REVIEW_OVERDUE, S.LOST),
            can_review=(kit.allowed(actor, ANNUAL) and cert.annual_review
                        and cert.status in (S.EFFECTIVE, S.REVIEW_OVERDUE)),
            can_process=actor.is_admin)
        kit.detach(uow)
    return page_view()


@bp.route("/<int:cert_id>/surface.png")
@kit.guard(*STAFF, department=True)
def surface(cert_id: int):
    """The rendered face (PNG) of an issued certificate; the domain checks who may see it."""
    actor = current_actor()
    with kit.uow() as uow:
        identifier = certificates.get(uow, actor, cert_id).identifier
    try:
        path = renditions.rendition(current_platform(), identifier, "png", actor=actor)
    except renditions.RenditionError as exc:
        log.error("surface of %s: %s", identifier, exc)
        return render_template("error.html", code=500, message=_("照面生成失败"), detail=exc.message), 500
    resp = send_file(path, mimetype="image/png", max_age=0)
    resp.headers["Cache-Control"] = "private, no-cache"
    return resp


# --- edit and delete before issuance ---------------------------------------------------------------

@bp.route("/<int:cert_id>/edit", methods=["GET", "POST"])
@kit.guard(*MAKERS, department=True)
def edit(cert_id: int):
    """编辑 before issuance: the entry module's form, back to this certificate's page when saved."""
    from .entry import edit_form

    return edit_form(cert_id, "certs.view", "certs.index")


@bp.route("/<int:cert_id>/delete", methods=["POST"])
@kit.guard(*MAKERS, department=True)
def delete(cert_id: int):
    actor = current_actor()
    with kit.uow() as uow:
        certificates.delete(uow, actor, cert_id)
        uow.commit()
    back = "certs.maintenance" if actor.is_admin and request.form.get("from") != "index" else "certs.index"
    return kit.done(_("已删除"), back)


# --- 挂失 and 注销: a reason each, kept --------------------------------------------------------

def _reason_errors(e: ValidationError) -> dict[str, str]:
    out = {}
    for key, text in e.errors.items():
        if key == "reason":
            out["reason"] = (_("原因不能超过 %(n)d 个字符", n=lifecycle.MAX_REASON) if "at most" in text
                             else _("请填写原因"))
        else:
            out["form"] = text
    return out


REASON_ACTIONS = {
    "loss": (lifecycle.report_loss, _l("挂失"), _l("挂失原因"), _l("已挂失"),
             _l("挂失后该电子证照将停止使用，确定挂失吗？")),
    "revoke": (lifecycle.revoke, _l("注销"), _l("注销原因"), _l("已注销"),
               _l("注销后该电子证照将正式停止使用且不能恢复，确定注销吗？")),
}


def _reason_page(cert_id: int, action: str):
    do, title, label, done_text, question = REASON_ACTIONS[action]
    actor = current_actor()
    g.nav = _back(actor)
    errors: dict[str, str] = {}
    reason = ""
    with kit.uow() as uow:
        cert = certificates.get(uow, actor, cert_id)
        if request.method == "POST":
            reason = (request.form.get("reason") or "").strip()
            try:
                do(uow, actor, cert.id, reason)
                uow.commit()
            except ValidationError as e:
                uow.rollback()
                errors = _reason_errors(e)
            else:
                return kit.done(str(done_text), "certs.view", cert_id=cert_id)
        page_view = partial(kit.form_page, "certs/reason.html", errors, cert=cert, action=action, title=title, label=label,
                             question=question, reason=reason)
        kit.detach(uow)
    return page_view()


@bp.route("/<int:cert_id>/loss", methods=["GET", "POST"])
@kit.guard(*MAKERS, department=True)
def loss(cert_id: int):
    return _reason_page(cert_id, "loss")


@bp.route("/<int:cert_id>/revoke", methods=["GET", "POST"])
@kit.guard(*MAKERS, department=True)
def revoke(cert_id: int):
    return _reason_page(cert_id, "revoke")


# --- 证照年审 ---------------------------------------------------------------------------------------

@bp.route("/annual")
@kit.guard(*ANNUAL, department=True)
def annual():
    args = kit.list_args("text", "status", "due_before", "overdue", sort="next_review_due")
    actor = current_actor()
    try:
        due_before = parse_date(args.filters["due_before"]) if args.filters["due_before"] else None
    except ValueError:
        raise ValidationError({"due_before": _("请输入正确的日期，例如 2024-03-01")}) from None
    with kit.uow() as uow:
        page = lifecycle.annual_review_search(uow, actor, text=args.filters["text"], status=args.filters["status"],
                                              due_before=due_before, overdue=args.filters["overdue"] == "1",
                                              page=args.page, size=args.size, sort=args.sort)
        page_view = partial(render_template, "certs/annual.html", page=page, args=args, today=date.today(),
                               status_options=_state_options(ANNUAL_STATES),
                               overdue_options=[("1", _("仅逾期"))])
        kit.detach(uow)
    return page_view()


@bp.route("/<int:cert_id>/annual-review", methods=["GET", "POST"])
@kit.guard(*ANNUAL, department=True)
def annual_review(cert_id: int):
    actor = current_actor()
    g.nav = "certs.annual"
    errors: dict[str, str] = {}
    with kit.uow() as uow:
        cert = certificates.get(uow, actor, cert_id)
        form = {"next_due": "", "remark": ""}
        if request.method == "POST":
            form = kit.form_values("next_due", "remark")
            try:
                next_due = parse_date(form["next_due"]) if form["next_due"] else None
            except ValueError:
                next_due = None
            if next_due is None:
                errors = {"next_due": _("请输入正确的日期，例如 2024-03-01")}
            else:
                try:
                    lifecycle.pass_annual_review(uow, actor, cert.id, next_due, form["remark"])
                    uow.commit()
                except ValidationError as e:
                    uow.rollback()
                    errors = {("next_due" if k == "next_due" else "form"):
                              (_("下次年审日期须晚于今天") if k == "next_due" else _("该证照类型无需年审"))
                              for k in e.errors}
                else:
                    return kit.done(_("年审已完成"), "certs.view", cert_id=cert_id, **{"from": "annual"})
        elif cert.annual_review and cert.next_review_due:
            form["next_due"] = _next_year(max(cert.next_review_due, date.today())).isoformat()
        page_view = partial(kit.form_page, "certs/annual_review.html", errors, cert=cert, form=form)
        kit.detach(uow)
    return page_view()


def _next_year(d: date) -> date:
    """The same day a year later (28 February for 29 February): the usual next due date."""
    try:
        return d.replace(year=d.year + 1)
    except ValueError:
        return d.replace(year=d.year + 1, day=28)


# --- 证照维护 (platform admin) ----------------------------------------------------------------------

@bp.route("/maintenance")
@kit.guard(admin_only=True)
def maintenance():
    args = kit.list_args("text", "status", "department_id", "holder_code", sort="-created_at")
    actor = current_actor()
    with kit.uow() as uow:
        page = certificates.search_all_departments(
            uow, actor, text=args.filters["text"], status=args.filters["status"],
            department_id=_cert_id_filter(args, "department_id"), holder_code=args.filters["holder_code"],
            page=args.page, size=args.size, sort=args.sort)
        depts = departments.search(uow, actor, size=200, sort="name").items
        page_view = partial(render_template, "certs/index.html", page=page, args=args, maintenance=True,
                               status_options=_state_options(CERT_STATES),
                               department_options=[(d.id, d.name) for d in depts],
                               deletable={s.value for s in certificates.DELETABLE_STATES})
        kit.detach(uow)
    return page_view()


# a step's technical note (``ProcessStep.detail_kind``) as (label, value, monospace) parts, in the reader's language
PROCESS_DETAILS = {
    "digest": lambda p: [(_("摘要"), p["digest"], True)],
    "serial": lambda p: [(_("签名证书序列号"), p["serial"], True)],
    "anchored": lambda p: [(_("区块"), p["block"], False), (_("批次根"), p["root"] + "…", True),
                           (_("存证凭据"), p["ref"], True)],
    "already_anchored": lambda p: [(_("账本上已有该证照，区块"), p["block"], False)],
    "next_due": lambda p: [(_("下次年审日期"), p["date"], False)],
    "supersedes": lambda p: [(_("替代旧版本"), p["identifier"], True)],
}


def process_detail(step: process.ProcessStep) -> list[tuple[str, str, bool]]:
    """The parts the timeline shows of a step's note; [] when its kind is unknown (the raw note is shown)."""
    say = PROCESS_DETAILS.get(step.detail_kind)
    if say is None:
        return []
    try:
        return [(str(label), str(value), mono) for label, value, mono in say(step.detail_params)]
    except KeyError:
        return []


@bp.route("/<int:cert_id>/process")
@kit.guard(admin_only=True)
def process_view(cert_id: int):
    """查看业务过程: the certificate's steps as a vertical timeline."""
    actor = current_actor()
    g.nav = "certs.maintenance"
    with kit.uow() as uow:
        cert = certificates.get(uow, actor, cert_id)
        steps = process.process_of(uow, actor, cert_id)
        blockchain = bool(current_platform().settings.blockchain.enabled)
        page_view = partial(render_template, "certs/process.html", cert=cert, steps=steps, labels=PROCESS_LABELS,
                               details=process_detail, anchor_label=_("上链") if blockchain else _("本地存储"))
        kit.detach(uow)
    return page_view()


def surface_url(cert_id: int) -> str:
    """Where the face of a certificate is served (for other pages that show it)."""
    return url_for("certs.surface", cert_id=cert_id)
