"""首页: the counts everyone sees, the catalog search and the quick actions of the user's role."""

from __future__ import annotations

from flask import current_app, render_template
from flask_babel import lazy_gettext as _l

from issuance import statistics

from . import kit
from .auth import current_actor
from .shell import ADMINS, MAKERS, REVIEWERS, sees

# 快捷操作: a certificate admin (platform admin) reviews and maintains; a department's staff define,
# enter, apply for use and review their own department's work. Shown only where the role may go.
QUICK = [
    ("departments.onboarding", _l("部门进驻"), ADMINS),
    ("types.review_list", _l("证照类型审核"), ADMINS),
    ("catalogs.review_list", _l("目录审核"), ADMINS),
    ("certs.maintenance", _l("证照维护"), ADMINS),
    ("types.new", _l("新增证照类型"), MAKERS),
    ("entry.index", _l("录入证照"), MAKERS),
    ("catalogs.home", _l("用证申请"), MAKERS),
    ("departments.systems", _l("系统清单"), MAKERS),
    ("issuing.review_list", _l("签发审核"), REVIEWERS),
    ("departments.usage_review", _l("用证申请审批"), REVIEWERS),
    ("stats.index", _l("统计"), None),
]

bp = kit.blueprint("home", __name__, url_prefix="")


@bp.route("/")
@kit.guard()
def index():
    actor = current_actor()
    with kit.uow() as uow:
        counts = statistics.home_counts(uow.session, actor)
    views = current_app.view_functions
    admin_only = {e for e, _label, roles in QUICK if roles is ADMINS}
    quick = [(e, label) for e, label, roles in QUICK
             if e in views and sees(actor, roles) and (actor.is_admin or e not in admin_only)
             and not (actor.is_admin and roles is not ADMINS and roles is not None)]
    return render_template("home.html", counts=counts, quick=quick, view_endpoints=views)
