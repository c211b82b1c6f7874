"""Error pages: a plain message, never a traceback."""

from __future__ import annotations

from flask import Flask, render_template
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError


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
