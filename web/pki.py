"""Public PKI files: the platform's root certificates and the current CRL, for any verifier."""

from __future__ import annotations

from flask import Blueprint, Response

from .app import current_platform

bp = Blueprint("pki", __name__, url_prefix="/pki")


def _der(data: bytes, name: str, mimetype: str) -> Response:
    resp = Response(data, mimetype=mimetype)
    resp.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    resp.headers["Cache-Control"] = "public, max-age=300"
    return resp


@bp.route("/root.crt")
def root() -> Response:
    return _der(current_platform().ca.certificate_der, "certledger-root.crt", "application/pkix-cert")


@bp.route("/root-pdf.crt")
def root_pdf() -> Response:
    return _der(current_platform().pdf_ca.certificate_der, "certledger-root-pdf.crt", "application/pkix-cert")


@bp.route("/crl")
def crl() -> Response:
    """A fresh CRL of the platform root, signed now (valid for a week)."""
    return _der(current_platform().ca.crl(), "certledger.crl", "application/pkix-crl")
