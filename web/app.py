"""Application factory: one Flask app per Platform, with CSRF, i18n and security headers."""

from __future__ import annotations

from datetime import timedelta

from flask import Flask, current_app, request, session
from flask_babel import Babel, get_locale
from flask_wtf.csrf import CSRFProtect

from certledger.runtime import Platform

LANGUAGES = ("zh_CN", "en")


def _locale() -> str:
    chosen = session.get("lang")
    if chosen in LANGUAGES:
        return chosen
    return current_platform().settings.server.language


def current_platform() -> Platform:
    """The platform of the running app (set before any request hook, CSRF's included, runs)."""
    return current_app.extensions["platform"]


def create_app(platform: Platform) -> Flask:
    settings = platform.settings
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=settings.server.secret_key or None,
        MAX_CONTENT_LENGTH=settings.server.max_upload_mb * 1024 * 1024,
        PERMANENT_SESSION_LIFETIME=timedelta(minutes=settings.server.session_minutes),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_NAME="certledger_session",
        BABEL_DEFAULT_LOCALE=settings.server.language,
        WTF_CSRF_TIME_LIMIT=None,  # bound to the session instead
    )
    if not app.config["SECRET_KEY"]:
        raise RuntimeError("server.secret_key is empty; `certledger init` writes one")
    app.extensions["platform"] = platform
    CSRFProtect(app)
    Babel(app, locale_selector=_locale)
    app.jinja_env.globals["get_locale"] = get_locale

    @app.after_request
    def _security_headers(resp):
        resp.headers.setdefault("Content-Security-Policy",
                                "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
                                "frame-ancestors 'none'; form-action 'self'")
        resp.headers.setdefault("X-Content-Type-Options", "nosniff")
        resp.headers.setdefault("X-Frame-Options", "DENY")
        resp.headers.setdefault("Referrer-Policy", "same-origin")
        if request.endpoint not in ("static",):
            resp.headers.setdefault("Cache-Control", "no-store")
        return resp

    from sharing.api import bp as sharing_bp  # the DB23/T 2836 interface, /sharing

    from . import auth, errors, pki, stats, status, verify
    from . import captcha, kit, shell  # login captcha; shared view parts; the user's own pages and the shell
    from .api import bp as api_bp  # the JSON API, /api/v1 (web/api/)

    kit.install(app)
    app.register_blueprint(auth.bp)
    app.register_blueprint(captcha.bp)
    app.register_blueprint(shell.bp)
    app.register_blueprint(pki.bp)
    app.register_blueprint(status.bp)
    app.register_blueprint(verify.bp)  # public verification, /verify, no login
    app.register_blueprint(stats.bp)  # 统计, /stats (issuance/statistics.py)
    # the modules of the two systems of the seed, in the order of its navigation (web/shell.py NAV)
    from . import (catalogs, certs, departments, designer, digital_certs, entry, home, issuing, matters, seals,
                   types, users)
    for module in (home, departments, users, types, designer, certs, catalogs, matters, issuing, entry,
                   digital_certs, seals):
        app.register_blueprint(module.bp)
    app.register_blueprint(api_bp)
    app.register_blueprint(sharing_bp)
    errors.register(app)
    return app
