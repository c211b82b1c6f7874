"""目录 (catalog home, maintenance, management, review).

目录首页 is the tenant's published directory (approved catalogs) everyone may search; 目录维护 is
the admin's view of the same; 目录管理 is a department's own catalogs in every state; 目录审核 is
the admin's review of registrations. Registering (and re-registering) a type is the form of
``types.register``. Isolation is the domain's: ``catalogs.get_visible`` hides another department's
unpublished catalog, ``catalogs._own`` refuses changes to another department's.
"""

from __future__ import annotations

from flask import current_app, g, render_template, request
from flask_babel import gettext as _

from issuance import approval, catalogs, cert_types
from issuance.codes import HOLDER_TYPES
from issuance.departments import choices as department_choices, names as department_names
from issuance.errors import ValidationError
from issuance.models import RoleCode

from . import kit
from .auth import current_actor
from .kit import blueprint
from .types import SHARE_TYPES, VALUE_TYPES, type_errors

bp = blueprint("catalogs", __name__, url_prefix="/catalogs")

MAKER_ROLES = (RoleCode.DEPT_ADMIN, RoleCode.CLERK)
CATALOG_STATES = ("draft", "submitted", "approved", "rejected", "disabled")
USAGE_APPLY = "departments.usage_apply"  # the usage application form of the departments module


@bp.context_processor
def _views() -> dict:
    return {"view_functions": current_app.view_functions}


def _share_options() -> list[tuple[str, str]]:
    return [(v, label) for v, label, _explain in SHARE_TYPES]


def _state_options() -> list[tuple[str, str]]:
    return [(s, kit.STATE_LABELS[s]) for s in CATALOG_STATES]


def _status(value: str) -> str:
    if value and value not in CATALOG_STATES:
        raise ValidationError({"status": _("未知的状态")})
    return value


def _may_apply(actor) -> bool:
    """用证申请 is for a department's makers, never for the admins (seed: 管理员登录则不显示)."""
    return (USAGE_APPLY in current_app.view_functions and not actor.is_admin
            and bool(actor.roles & {r.value for r in MAKER_ROLES}))


# --- 目录首页 ---------------------------------------------------------------------------------------

@bp.route("")
@kit.guard()
def home():
    return _approved_catalogs(maintenance=False)


def _approved_catalogs(maintenance: bool):
    """目录首页 (view, 用证申请) or, for the admin, 目录维护 (delete): the approved catalogs, filtered."""
    args = kit.list_args("text", "share_type", "department", sort="-created_at")
    actor = current_actor()
    with kit.uow() as uow:
        page = catalogs.search_rows(uow, actor, status="approved", text=args.filters["text"],
                                    share_type=args.filters["share_type"],
                                    department_id=args.int_filter("department"),
                                    page=args.page, size=args.size, sort=args.sort)
        ctx = kit.later(uow, render_template, "catalogs/home.html", maintenance=maintenance, page=page, args=args,
                        share_types=_share_options(), departments=department_choices(uow, actor, approved_only=False),
                        may_apply=not maintenance and _may_apply(actor), can_apply=catalogs.can_apply_for_use)
    return ctx()


@bp.route("/<int:catalog_id>")
@kit.guard()
def view(catalog_id: int):
    g.nav = "catalogs.home"
    actor = current_actor()
    with kit.uow() as uow:
        cat = catalogs.get_visible(uow, actor, catalog_id)
        t = cert_types.get(uow, actor, cat.type_id)
        list(t.fields)  # loaded now: the page is rendered after the unit of work is closed
        history = approval.history(uow.session, approval.CATALOG_REVIEW.kind, cat.id) \
            if actor.can_see_department(cat.department_id) else []
        ctx = kit.later(uow, render_template, "catalogs/view.html", cat=cat, t=t, history=history,
                               department=department_names(uow, actor, [cat.department_id]).get(cat.department_id, ""),
                               value_types=dict(VALUE_TYPES), holder_types=HOLDER_TYPES,
                               may_apply=_may_apply(actor) and catalogs.can_apply_for_use(cat),
                               own=actor.can_see_department(cat.department_id), reviewing=False)
    return ctx()


# --- 目录维护 (admin) ---------------------------------------------------------------------------------

@bp.route("/maintenance")
@kit.guard(admin_only=True)
def maintenance():
    return _approved_catalogs(maintenance=True)


# --- 目录管理 (the department's own) ------------------------------------------------------------------

@bp.route("/manage")
@kit.guard(*MAKER_ROLES, department=True)
def manage():
    args = kit.list_args("text", "share_type", "status", sort="-created_at")
    actor = current_actor()
    with kit.uow() as uow:
        page = catalogs.search_rows(uow, actor, own_only=True, text=args.filters["text"],
                                    share_type=args.filters["share_type"], status=_status(args.filters["status"]),
                                    page=args.page, size=args.size, sort=args.sort)
        ctx = kit.later(uow, render_template, "catalogs/manage.html", page=page, args=args, share_types=_share_options(),
                               states=_state_options())
    return ctx()


@bp.route("/<int:catalog_id>/disable", methods=["POST"])
@kit.guard(*MAKER_ROLES, department=True)
def disable(catalog_id: int):
    return kit.act(catalogs.disable, catalog_id, message=_("目录已禁用"), endpoint="catalogs.manage")


@bp.route("/<int:catalog_id>/delete", methods=["POST"])
@kit.guard(*MAKER_ROLES, department=True)
def delete(catalog_id: int):
    actor = current_actor()
    with kit.uow() as uow:
        catalogs.delete(uow, actor, catalog_id)
        uow.commit()
    back = "catalogs.maintenance" if actor.is_admin and request.form.get("back") != "manage" else "catalogs.manage"
    return kit.done(_("已删除"), back)


# --- 目录审核 (admin) ---------------------------------------------------------------------------------

@bp.route("/review")
@kit.guard(admin_only=True)
def review_list():
    """Waiting registrations first: without a status filter in the query the list shows 待审核."""
    args = kit.list_args("text", "status", "department", sort="-created_at")
    if "status" not in request.args:
        args.filters["status"] = "submitted"
    actor = current_actor()
    with kit.uow() as uow:
        page = catalogs.search_rows(uow, actor, text=args.filters["text"], status=_status(args.filters["status"]),
                                    department_id=args.int_filter("department"),
                                    page=args.page, size=args.size, sort=args.sort)
        ctx = kit.later(uow, render_template, "catalogs/review_list.html", page=page, args=args, states=_state_options(),
                               departments=department_choices(uow, actor, approved_only=False))
    return ctx()


@bp.route("/<int:catalog_id>/review", methods=["GET", "POST"])
@kit.guard(admin_only=True)
def review(catalog_id: int):
    g.nav = "catalogs.review_list"
    actor = current_actor()
    errors: dict[str, str] = {}
    reason = ""
    if request.method == "POST":
        done, errors, reason = kit.review_post(
            lambda uow, ok, why: catalogs.review(uow, actor, catalog_id, ok, why), "catalogs.review_list", errors_of=type_errors)
        if done:
            return done
    with kit.uow() as uow:
        cat = catalogs.get_visible(uow, actor, catalog_id)
        t = cert_types.get(uow, actor, cat.type_id)
        list(t.fields)  # loaded now: the page is rendered after the unit of work is closed
        ctx = kit.later(uow, render_template, "catalogs/view.html", cat=cat, t=t,
                               history=approval.history(uow.session, approval.CATALOG_REVIEW.kind, cat.id),
                               department=department_names(uow, actor, [cat.department_id]).get(cat.department_id, ""),
                               value_types=dict(VALUE_TYPES), holder_types=HOLDER_TYPES, may_apply=False,
                               own=True, reviewing=True, errors=errors, reason=reason)
    page = ctx()
    return page, (400 if errors else 200)
