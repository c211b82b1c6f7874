"""The statistics page (统计): totals as cards, four breakdowns as ECharts charts with a table under each.

The figures come from ``issuance.statistics.overview`` (an admin sees the tenant, anyone else the
current department). The charts are drawn by ``static/stats.js`` from a JSON data block (the CSP
allows no inline script) with ECharts served by the app itself (``static/vendor/echarts.min.js``,
copied there by ``ensure_web_assets`` in scripts/lib/setup.sh); without that file the tables stay
and the page says why there are no charts.
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, current_app, render_template
from flask_babel import gettext as _

from issuance import statistics
from issuance.errors import PermissionDenied

from .app import current_platform
from .auth import current_actor, login_required

bp = Blueprint("stats", __name__, url_prefix="/stats")

ECHARTS = "vendor/echarts.min.js"

def charts_of(ov: statistics.Overview) -> dict:
    """What stats.js draws, with labels already in the reader's language."""
    return {
        "by_department": {"kind": "bar", "labels": [c.label for c in ov.certificates_by_department],
                          "series": [{"name": _("证照数"), "values": [c.value for c in ov.certificates_by_department]}]},
        "top_catalogs": {"kind": "bar", "horizontal": True, "labels": [c.label for c in ov.top_catalogs],
                         "series": [{"name": _("证照数"), "values": [c.value for c in ov.top_catalogs]}]},
        "usage": {"kind": "bar", "labels": [r.department for r in ov.usage_by_department],
                  "series": [{"name": _("用证申请"), "values": [r.applications for r in ov.usage_by_department]},
                             {"name": _("接口调用"), "values": [r.calls for r in ov.usage_by_department]}]},
        "used_share": {"kind": "doughnut", "labels": [_("已使用"), _("未使用")],
                       "series": [{"name": _("已使用证照占比"),
                                   "values": [ov.used_certificates, ov.unused_certificates]}]},
    }


@bp.route("")
@login_required
def index():
    platform = current_platform()
    try:
        with platform.uow() as uow:
            ov = statistics.overview(uow.session, current_actor())
    except PermissionDenied:
        return render_template("error.html", code=403, message=_("请先切换到一个部门")), 403
    has_echarts = (Path(current_app.static_folder) / ECHARTS).is_file()
    return render_template("stats/index.html", ov=ov, charts=charts_of(ov), has_echarts=has_echarts,
                           echarts=ECHARTS)
