"""PDF and PNG renditions of an issued certificate, rendered on first request and kept.

The pipeline makes the sealed OFD at issuance; the PDF and the PNG are derived faces that most
holders never ask for, so they are made on the first request instead (the seed allows it), from
the certificate's stored data and its type's surface design, with the same display values and
anti-forgery QR URL the OFD got (``documents.document_job``), and cached next to the OFD as
DATA/files/certificates/<identifier>.pdf / .png.

The PDF is signed (PAdES) with the department's ECDSA identity under the platform's PDF CA, the
department's seal picture as the visible stamp, and carries the canonical data as an embedded
file named ``canonical.DOCUMENT_DATA_KEY``, added before signing so the signature covers it:
the PDF can then be verified on its own (``verification.verify_pdf_file``), like the OFD.

Two requests for one rendition at the same time (threads or processes) render it once: the
second waits on a file lock and finds the file in place. Files are renamed into place whole.
"""

from __future__ import annotations

import fcntl
import hashlib
import io
import os
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Mapping

from sqlalchemy import select

from . import canonical, certificates
from .context import Actor
from .errors import DomainError, IllegalTransition, NotFound, ValidationError
from .models import Certificate, CertificateStatus as S, CertificateType
from .pipeline import documents as docs
from .unit_of_work import UnitOfWork

if TYPE_CHECKING:
    from certledger.runtime import Platform

KINDS = ("pdf", "png")
PNG_DPI = 150
ISSUED = frozenset({S.EFFECTIVE, S.LOST, S.REVOKED, S.REVIEW_OVERDUE, S.SUPERSEDED})
EMBEDDED_NAME = canonical.DOCUMENT_DATA_KEY          # name-tree key of the carried data in the PDF
EMBEDDED_FILE_NAME = f"{canonical.DOCUMENT_DATA_KEY}.json"
LOCK_STRIPES = 64                                    # lock files per folder, shared by hash

# renders done by this process, per kind (how often the cache was missed; read by tests and ops)
render_counts: dict[str, int] = {k: 0 for k in KINDS}


class RenditionError(DomainError):
    """The rendition could not be made (design, seal or signing failed); the message says which."""

    code = "rendition_failed"


@dataclass(frozen=True)
class RenditionEnv:
    """What renditions use of a deployment; ``from_platform`` builds it without opening the ledger."""

    uow: Callable[[], UnitOfWork]
    data_dir: Path
    verify_base_url: str
    ca: Callable[[], Any]        # the SM2 platform CA (only if a department has no seal yet)
    pdf_ca: Callable[[], Any]    # the ECDSA PDF CA

    @classmethod
    def from_platform(cls, platform: "Platform") -> "RenditionEnv":
        st = platform.settings
        return cls(platform.uow, Path(st.data_dir), docs.verify_base_url(st.server), lambda: platform.ca,
                   lambda: platform.pdf_ca)

    @property
    def certificates_dir(self) -> Path:
        return docs.documents_dir(self.data_dir)


def rendition_path(out_dir: Path | str, identifier: str, kind: str) -> Path:
    """Where the ``kind`` rendition of ``identifier`` is kept: next to its OFD."""
    ofd = docs.file_path(out_dir, identifier)  # refuses identifiers unusable as file names
    return ofd.with_name(f"{identifier}.{kind}")


@dataclass(frozen=True)
class _Face:
    """Everything a render needs, read in one transaction and used after it."""

    job: docs.DocumentJob
    design: Mapping
    images: Mapping[str, tuple[bytes, str]]
    seal_png: bytes
    pdf: Any  # signing_identity.PdfSigningMaterial, for a PDF


def rendition(source: "Platform | RenditionEnv", identifier: str, kind: str, *, actor: Actor | None = None) -> Path:
    """The PDF or PNG of an issued certificate: rendered (and the PDF signed) on first request.

    ``source`` is a Platform or a RenditionEnv. With ``actor``, only a certificate of the actor's
    department (or any, for an admin) is found. Raises NotFound for an unknown identifier or a
    type without surface design, IllegalTransition for a certificate not issued yet,
    ValidationError for an unknown kind, RenditionError if rendering or signing fails.
    """
    if kind not in KINDS:
        raise ValidationError({"format": f"unknown rendition {kind!r}; one of {', '.join(KINDS)}"})
    env = source if isinstance(source, RenditionEnv) else RenditionEnv.from_platform(source)
    with env.uow() as uow:
        cert = _certificate(uow, identifier, actor)
        ctype = uow.session.get(CertificateType, cert.type_id)
        if ctype is None or not ctype.surface_design:
            raise NotFound(f"certificate {identifier} has no layout file: its type "
                           f"{ctype.name if ctype else cert.type_name} has no surface design")
        path = rendition_path(env.certificates_dir, cert.identifier, kind)
        if path.is_file():
            return path
        face = _gather(uow, env, cert, ctype, kind)
        uow.commit()  # a signing identity made on first need
    with _locked(path):
        if not path.is_file():  # another request may have made it while this one waited
            data = _render_pdf(face) if kind == "pdf" else _render_png(face)
            path.parent.mkdir(parents=True, exist_ok=True)
            docs.write_atomically(path, data)
            render_counts[kind] += 1
    return path


def _certificate(uow: UnitOfWork, identifier: str, actor: Actor | None) -> Certificate:
    if actor is not None:
        cert = certificates.get_by_identifier(uow, actor, identifier)
    else:
        cert = uow.session.execute(select(Certificate).where(Certificate.identifier == identifier)).scalar_one_or_none()
        if cert is None:
            raise NotFound(f"certificate {identifier} not found")
    if cert.status not in ISSUED:
        raise IllegalTransition("certificate", cert.identifier, cert.status.value, "rendered",
                                "layout files exist once a certificate is issued")
    return cert


def _gather(uow: UnitOfWork, env: RenditionEnv, cert: Certificate, ctype: CertificateType, kind: str) -> _Face:
    from .pipeline.runner import stored_images
    from .signing_identity import (SigningIdentityError, design_seal_id, pdf_signing_material, seal_picture,
                                   signing_material)

    values = certificates.values_of(uow, cert)
    holder_code = certificates.holder_code_of(uow, cert)
    data = canonical.canonical_bytes(canonical.basic_of(cert, holder_code), values)
    job = docs.document_job(cert, ctype.name, values, holder_code, data, env.verify_base_url)
    design = dict(ctype.surface_design)
    try:
        chosen = design_seal_id(design)  # the seal the design picked, if it is still there
        seal = seal_picture(uow, cert.department_id, chosen) if chosen is not None else None
        if seal is None:
            seal = seal_picture(uow, cert.department_id)
        if seal is None:  # issued before identities were kept: made now, as the pipeline would
            signing_material(uow, env.ca(), cert.department_id)
            seal = seal_picture(uow, cert.department_id)
        pdf = None
        if kind == "pdf":
            pdf = pdf_signing_material(uow, env.pdf_ca(), cert.department_id)
    except SigningIdentityError as exc:
        raise RenditionError(f"certificate {cert.identifier}: {exc}") from None
    return _Face(job, design, stored_images(design, env.data_dir / "files"), seal, pdf)


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive lock for ``path``'s rendition, across threads and processes (flock).

    A fixed set of lock files per folder, chosen by hash, so locks never pile up one per file.
    """
    folder = path.parent / ".locks"
    folder.mkdir(parents=True, exist_ok=True)
    stripe = int.from_bytes(hashlib.sha256(path.name.encode()).digest()[:4], "big") % LOCK_STRIPES
    fd = os.open(folder / f"{stripe:02d}.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


# --- rendering ---------------------------------------------------------------------------------

def _design(face: _Face):
    from ofd.design import DesignError, parse

    try:
        return parse(face.design)
    except DesignError as exc:
        raise RenditionError(f"the surface design cannot be used: {exc}") from None


def _resolver(face: _Face, extra: Mapping[str, tuple[bytes, str]] | None = None):
    def image(ref: str) -> tuple[bytes, str]:
        if extra and ref in extra:
            return extra[ref]
        if ref not in face.images:
            raise RenditionError(f"the design's image {ref} is not stored")
        return face.images[ref]

    return image


def _qr(design, face: _Face) -> bytes | None:
    from ofd.design import QRElement
    from ofd.qr import qr_png

    return qr_png(face.job.verify_url) if any(isinstance(e, QRElement) for e in design.elements) else None


def _render_png(face: _Face) -> bytes:
    """The face as a picture, with the seal picture where the OFD and PDF have their stamp."""
    from ofd.design import Box, ImageElement
    from ofd.pdf import render_png

    design = _design(face)
    x, y, size = design.seal_slot()
    ref = f"file:{hashlib.sha256(face.seal_png).hexdigest()}"  # the form a design's image takes
    sealed = design.model_copy(update={"elements": [*design.elements,
                                                    ImageElement(ref=ref, box=Box(x=x, y=y, width=size, height=size))]})
    try:
        return render_png(sealed, face.job.values, _resolver(face, {ref: (face.seal_png, "png")}),
                          _qr(design, face), dpi=PNG_DPI)
    except (ValueError, OSError) as exc:
        raise RenditionError(f"the PNG of {face.job.identifier} could not be rendered: {exc}") from None


def _render_pdf(face: _Face) -> bytes:
    """Face, carried data (embedded file), then the PAdES signature with the seal as its stamp."""
    from ofd.pdf import render_pdf
    from seals.pdf_sign import PDFSignError, PdfPlacement, sign_pdf

    design = _design(face)
    try:
        pdf = render_pdf(design, face.job.values, face.job.title, images=_resolver(face), qr_png=_qr(design, face))
    except (ValueError, OSError) as exc:
        raise RenditionError(f"the PDF of {face.job.identifier} could not be rendered: {exc}") from None
    pdf = _with_data(pdf, face.job.canonical.encode("utf-8"))
    x, y, size = design.seal_slot()
    m = face.pdf
    try:
        return sign_pdf(pdf, face.seal_png, m.key_der, m.certificate_der, list(m.chain),
                        PdfPlacement(page=0, x=x, y=y, size=size, page_height=design.height))
    except PDFSignError as exc:
        raise RenditionError(f"the PDF of {face.job.identifier} could not be signed: {exc}") from None


def _with_data(pdf: bytes, data: bytes) -> bytes:
    """``pdf`` with the canonical data as an embedded file (uncompressed: readable as it is)."""
    from pyhanko.pdf_utils import embed
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    stream = embed.EmbeddedFileObject.from_file_data(writer, data, compress=False, mime_type="application/json")
    spec = embed.FileSpec(file_spec_string=EMBEDDED_NAME, file_name=EMBEDDED_FILE_NAME, embedded_data=stream,
                          description="canonical certificate data (证照数据), covered by the signature")
    embed.embed_file(writer, spec)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()
