"""Error pages: a plain message, never a traceback."""

from __future__ import annotations

from flask import Flask, render_template
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError

from issuance.errors import Conflict, IllegalTransition, NotFound, PermissionDenied, ValidationError

# refusals of the domain a page view did not handle itself -> (status, headline); the detail is
# the domain's message. Registered per page blueprint (``on_pages``), never app-wide: the JSON
# APIs (/api/v1, /sharing) answer the same exceptions with their own envelopes.
DOMAIN_PAGES = (
    (NotFound, 404, _l("记录不存在或您无权查看")),
    (PermissionDenied, 403, _l("您没有执行此操作的权限")),
    (IllegalTransition, 409, _l("当前状态下不能执行此操作")),
    (Conflict, 409, _l("操作与已有记录冲突")),
    (ValidationError, 400, _l("输入有误")),
)


def on_pages(bp) -> None:
    """Answer the domain's refusals raised in ``bp``'s views with the error page."""
    for exc, code, headline in DOMAIN_PAGES:
        def handler(e, code=code, headline=headline):
            return render_template("error.html", code=code, message=str(headline), detail=e.message), code
        bp.register_error_handler(exc, handler)
    bp.register_error_handler(400, lambda e: (render_template("error.html", code=400, message=_("请求参数有误")), 400))
    bp.register_error_handler(403, lambda e: (render_template("error.html", code=403,
                                                              message=_("您没有执行此操作的权限")), 403))


def register(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def _csrf(e):
        return render_template("error.html", code=400, message=_("页面已过期，请刷新后重试")), 400

    @app.errorhandler(404)
    def _404(e):
        return render_template("error.html", code=404, message=_("页面不存在")), 404

    @app.errorhandler(413)
    def _413(e):
        return render_template("error.html", code=413, message=_("上传的文件过大")), 413

    @app.errorhandler(500)
    def _500(e):
        return render_template("error.html", code=500, message=_("服务器内部错误")), 500
