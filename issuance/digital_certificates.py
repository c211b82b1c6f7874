"""Digital certificates (证书): a department's named SM2 keys with certificates from the platform CA.

The seed's 签发管理系统 lets a department admin add, filter, edit, view and delete them; "新增证书自动
归属于创建证书的用户部门下". A seal (issuance/seal_registry.py) allows exactly one of them, and a type
whose design picks that seal is signed with this key. The key is made here, kept SM4-encrypted
with the data directory's cipher (as the automatic identity of issuance/signing_identity.py) and
decrypted only to hand it to the document workers.

Rules: the department admin of the certificate's department, or a platform admin, acts on it;
every query is limited to what the actor may see (another department's certificate is NotFound).
A certificate that a seal allows is never deleted (documents and seals refer to it): deleting it
revokes it instead, at the platform CA too, so verifiers holding the CRL see it.

Public functions:

- ``issue(uow, actor, ca, name, remark="", subject_cn="", years=3, department_id=None)``
- ``update(uow, actor, cert_id, name, remark)``
- ``get(uow, actor, cert_id)``, ``search(uow, actor, text, status, page, size, sort) -> Page``
- ``revoke(uow, actor, ca, cert_id)``, ``delete(uow, actor, ca, cert_id) -> "deleted" | "revoked"``
- ``valid_choices(uow, actor, department_id=None) -> list[(id, name)]``
- ``describe(row) -> CertificateFacts`` (subject, issuer, serial, validity, SM3 fingerprint)
- ``name_parts(name) -> [(attribute, value)]`` (a distinguished name, attribute by attribute)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from asn1crypto import x509 as asn1_x509
from sqlalchemy import or_, select

from certledger.crypto import x509 as X
from certledger.crypto.ca import CAError, CertificateAuthority
from certledger.crypto.sm import sm3
from certledger.crypto.sm2 import SM2PrivateKey

from . import audit
from .context import Actor
from .errors import IllegalTransition, NotFound, PermissionDenied, ValidationError
from .listing import Page, like, paginate
from .models import Department, RoleCode
from .models.signing import DigitalCertificate, Seal
from .unit_of_work import UnitOfWork

VALID, REVOKED = "valid", "revoked"
STATUSES = (VALID, REVOKED)
MAX_YEARS = 5
NAME_MAX = 64
REMARK_MAX = 500
SORTABLE = {"name": DigitalCertificate.name, "created_at": DigitalCertificate.created_at,
            "not_after": DigitalCertificate.not_after, "status": DigitalCertificate.status}


def key_context(row: DigitalCertificate) -> str:
    """Associated data of the encrypted key: a key moved to another row does not decrypt."""
    return f"digital-cert-key:{row.department_id}:{row.serial}"


# --- checks ---------------------------------------------------------------------------------------

def _require(actor: Actor) -> None:
    actor.require(RoleCode.DEPT_ADMIN)


def target_department(uow: UnitOfWork, actor: Actor, department_id: int | None) -> Department:
    """The department a new certificate or seal belongs to: the actor's own (a platform admin
    acting for no department names one of the tenant's)."""
    _require(actor)
    dept_id = department_id if (department_id is not None and actor.is_admin) else actor.department_id
    if dept_id is None:
        raise PermissionDenied(f"{actor.username} has no current department")
    if not actor.can_see_department(dept_id):
        raise PermissionDenied(f"{actor.username} cannot act for department {dept_id}")
    dept = uow.session.get(Department, dept_id)
    if dept is None or dept.tenant_id != actor.tenant_id:
        raise NotFound(f"department {dept_id} not found")
    return dept


def scoped(stmt, model, actor: Actor):
    """Only the rows of ``model`` (a department's certificates or seals) ``actor`` may see: its
    tenant, and unless admin its current department."""
    stmt = stmt.where(model.tenant_id == actor.tenant_id)
    if not actor.is_admin:
        stmt = stmt.where(model.department_id == actor.department_id)
    return stmt


def checked_name(value: str) -> str:
    name = str(value or "").strip()
    if not 1 <= len(name) <= NAME_MAX:
        raise ValidationError({"name": f"1-{NAME_MAX} characters"})
    return name


def _remark(value: str) -> str:
    text = str(value or "").strip()
    if len(text) > REMARK_MAX:
        raise ValidationError({"remark": f"at most {REMARK_MAX} characters"})
    return text


def _unique(uow: UnitOfWork, department_id: int, name: str, own_id: int | None = None) -> None:
    stmt = select(DigitalCertificate.id).where(DigitalCertificate.department_id == department_id,
                                               DigitalCertificate.name == name)
    found = uow.session.execute(stmt).scalar_one_or_none()
    if found is not None and found != own_id:
        raise ValidationError({"name": "a certificate of this name exists in the department"})


# --- services -------------------------------------------------------------------------------------

def issue(uow: UnitOfWork, actor: Actor, ca: CertificateAuthority, name: str, remark: str = "",
          subject_cn: str = "", years: int = 3, department_id: int | None = None) -> DigitalCertificate:
    """A new key and its certificate from the platform CA, for the actor's department."""
    dept = target_department(uow, actor, department_id)
    errors: dict[str, str] = {}
    try:
        name = checked_name(name)
    except ValidationError as e:
        errors.update(e.errors)
    try:
        remark = _remark(remark)
    except ValidationError as e:
        errors.update(e.errors)
    cn = str(subject_cn or "").strip() or dept.name
    if len(cn) > 128:
        errors["subject_cn"] = "at most 128 characters"
    if not isinstance(years, int) or not 1 <= years <= MAX_YEARS:
        errors["years"] = f"1-{MAX_YEARS} years"
    if errors:
        raise ValidationError(errors)
    _unique(uow, dept.id, name)
    key = SM2PrivateKey.generate()
    from certledger.crypto.signers import SoftSM2Signer

    try:
        der = ca.issue("department", X.name(cn, organization=dept.name, unit=dept.code),
                       SoftSM2Signer(key).public_key_der(), days=365 * years)
    except (CAError, ValueError) as exc:
        raise ValidationError({"form": f"the platform CA could not issue the certificate: {exc}"}) from None
    cert = X.load(der)
    row = DigitalCertificate(tenant_id=dept.tenant_id, department_id=dept.id, name=name, remark=remark,
                             subject_cn=cn, subject_o=dept.name, key_enc="", certificate_der=der,
                             serial=str(cert.serial_number), not_before=cert.not_valid_before,
                             not_after=cert.not_valid_after, status=VALID, created_by_id=actor.user_id)
    row.key_enc = uow.cipher.encrypt(key.der(), key_context(row))
    uow.session.add(row)
    uow.session.flush()
    audit.record(uow.session, actor, "digital_certificate.issue", "digital_certificate", row.id, name=name,
                 department_id=dept.id, serial=row.serial)
    return row


def get(uow: UnitOfWork, actor: Actor, cert_id: int) -> DigitalCertificate:
    """A certificate the actor may manage; another department's is NotFound (no hint it exists)."""
    _require(actor)
    row = uow.session.execute(scoped(select(DigitalCertificate), DigitalCertificate, actor)
                              .where(DigitalCertificate.id == cert_id)).scalar_one_or_none()
    if row is None:
        raise NotFound(f"digital certificate {cert_id} not found")
    return row


def update(uow: UnitOfWork, actor: Actor, cert_id: int, name: str, remark: str = "") -> DigitalCertificate:
    """Rename or re-describe; the key and the certificate never change."""
    row = get(uow, actor, cert_id)
    errors: dict[str, str] = {}
    for field, check, value in (("name", checked_name, name), ("remark", _remark, remark)):
        try:
            check(value)
        except ValidationError as e:
            errors.update(e.errors)
    if errors:
        raise ValidationError(errors)
    name, remark = checked_name(name), _remark(remark)
    _unique(uow, row.department_id, name, row.id)
    before = {"name": row.name, "remark": row.remark}
    row.name, row.remark = name, remark
    uow.session.flush()
    audit.record(uow.session, actor, "digital_certificate.update", "digital_certificate", row.id,
                 before=before, after={"name": name, "remark": remark})
    return row


def revoke(uow: UnitOfWork, actor: Actor, ca: CertificateAuthority, cert_id: int) -> DigitalCertificate:
    """Revoked here and at the platform CA (its CRL); seals allowing it can no longer seal."""
    row = get(uow, actor, cert_id)
    if row.status == REVOKED:
        raise IllegalTransition("digital certificate", row.id, row.status, REVOKED)
    try:
        ca.revoke(row.certificate_der, "cessation_of_operation")
    except CAError as exc:  # issued by an earlier CA: nothing to list in this CA's CRL
        if "did not issue" not in str(exc):
            raise
    row.status = REVOKED
    uow.session.flush()
    audit.record(uow.session, actor, "digital_certificate.revoke", "digital_certificate", row.id, serial=row.serial)
    return row


def in_use(uow: UnitOfWork, cert_id: int) -> bool:
    return uow.session.execute(select(Seal.id).where(Seal.certificate_id == cert_id).limit(1)).first() is not None


def delete(uow: UnitOfWork, actor: Actor, ca: CertificateAuthority, cert_id: int) -> str:
    """Delete a certificate no seal allows; one a seal allows is revoked instead ("revoked")."""
    row = get(uow, actor, cert_id)
    if in_use(uow, row.id):
        if row.status != REVOKED:
            revoke(uow, actor, ca, row.id)
        return "revoked"
    audit.record(uow.session, actor, "digital_certificate.delete", "digital_certificate", row.id, name=row.name,
                 serial=row.serial)
    uow.session.delete(row)
    uow.session.flush()
    return "deleted"


def search(uow: UnitOfWork, actor: Actor, text: str = "", status: str = "", page: int = 1, size: int = 20,
           sort: str = "-created_at") -> Page:
    """Certificates the actor may see, filtered by name/subject/serial text and status."""
    _require(actor)
    stmt = scoped(select(DigitalCertificate), DigitalCertificate, actor)
    if text:
        pattern = like(text)
        stmt = stmt.where(or_(DigitalCertificate.name.like(pattern, escape="\\"),
                              DigitalCertificate.subject_cn.like(pattern, escape="\\"),
                              DigitalCertificate.serial.like(pattern, escape="\\")))
    if status:
        if status not in STATUSES:
            raise ValidationError({"status": f"one of {', '.join(STATUSES)}"})
        stmt = stmt.where(DigitalCertificate.status == status)
    stmt = stmt.order_by(DigitalCertificate.created_at.desc(), DigitalCertificate.id.desc())
    return paginate(uow.session, stmt, page, size, sort, SORTABLE)


def usable(row: DigitalCertificate, now: datetime | None = None) -> bool:
    """Valid and within its validity: a seal may allow it, a document may be signed with it."""
    now = now or datetime.now(timezone.utc)
    return row.status == VALID and row.not_before <= now < row.not_after


def valid_choices(uow: UnitOfWork, actor: Actor, department_id: int | None = None) -> list[tuple[int, str]]:
    """The department's usable certificates, for the seal form's select."""
    _require(actor)
    dept_id = department_id if (department_id is not None and actor.is_admin) else actor.department_id
    now = datetime.now(timezone.utc)
    stmt = (scoped(select(DigitalCertificate), DigitalCertificate, actor)
            .where(DigitalCertificate.department_id == dept_id, DigitalCertificate.status == VALID,
                   DigitalCertificate.not_after > now + timedelta(days=1))
            .order_by(DigitalCertificate.name))
    return [(r.id, r.name) for r in uow.session.execute(stmt).scalars()]


@dataclass(frozen=True)
class CertificateFacts:
    """What the view page shows of a certificate, read from its DER."""

    subject: str
    issuer: str
    serial_hex: str
    not_before: datetime
    not_after: datetime
    sm3_fingerprint: str
    algorithm: str
    subject_parts: tuple[tuple[str, str], ...] = ()
    issuer_parts: tuple[tuple[str, str], ...] = ()


def name_parts(name: asn1_x509.Name) -> tuple[tuple[str, str], ...]:
    """A distinguished name as (attribute, value) pairs, most specific first (as ``human_friendly``).

    The attribute is asn1crypto's name for it (``common_name``, ``organization_name``,
    ``country_name``...) or the dotted OID of one it does not know, so a page can label each in
    the reader's language instead of showing "Common Name: ..., Country: CN".
    """
    out: list[tuple[str, str]] = []
    for rdn in reversed(list(name.chosen)):
        for atv in rdn:
            value = atv["value"].native
            out.append((str(atv["type"].native), ", ".join(map(str, value)) if isinstance(value, list) else str(value)))
    return tuple(out)


def describe(row: DigitalCertificate) -> CertificateFacts:
    cert = X.load(row.certificate_der)
    fp = sm3(row.certificate_der).hex().upper()
    return CertificateFacts(
        subject=cert.subject.human_friendly, issuer=cert.issuer.human_friendly,
        serial_hex=format(cert.serial_number, "X"), not_before=cert.not_valid_before,
        not_after=cert.not_valid_after, sm3_fingerprint=":".join(fp[i:i + 2] for i in range(0, len(fp), 2)),
        algorithm=X.algorithm_of(cert), subject_parts=name_parts(cert.subject), issuer_parts=name_parts(cert.issuer))


def key_of(uow: UnitOfWork, row: DigitalCertificate) -> bytes:
    """The decrypted PKCS#8 key, for the document workers only; never stored or shown."""
    return uow.cipher.decrypt(row.key_enc, key_context(row))
