"""The deployment's state: what an admin checks first after starting the platform."""

from __future__ import annotations

from flask import Blueprint, abort, jsonify, render_template
from sqlalchemy import func, select

from certledger import __version__
from certledger.db.migrate import current_revision, head_revision
from issuance.models import Certificate, CertificateType, Department, Tenant, User

from .app import current_platform
from .auth import current_actor, login_required
from .errors import on_pages

bp = Blueprint("status", __name__)
on_pages(bp)


def deployment_state() -> dict:
    platform = current_platform()
    settings = platform.settings
    with platform.uow() as uow:
        s = uow.session
        counts = {name: s.execute(select(func.count()).select_from(model)).scalar_one()
                  for name, model in (("tenants", Tenant), ("departments", Department), ("users", User),
                                      ("types", CertificateType), ("certificates", Certificate))}
    ledger = platform.ledger
    return {
        "version": __version__,
        "database": platform.engine.dialect.name,
        "schema": current_revision(platform.engine),
        "schema_head": head_revision(),
        "ledger_mode": "chain" if settings.blockchain.enabled else "local",
        "ledger_head": ledger.head(),
        "counts": counts,
    }


@bp.route("/status")
@login_required
def index():
    if not current_actor().is_admin:
        abort(403)
    return render_template("status.html", state=deployment_state())


@bp.route("/healthz")
def healthz():
    """Liveness for scripts and load balancers: no secrets, no login."""
    state = deployment_state()
    ok = state["schema"] == state["schema_head"]
    return jsonify(status="ok" if ok else "schema_outdated", ledger=state["ledger_mode"]), (200 if ok else 503)
