"""Digital certificates (证书): issued by the platform CA, key encrypted, scoped to the department."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from certledger.crypto import x509 as X
from certledger.crypto.sm2 import SM2PrivateKey
from issuance import digital_certificates as dcerts
from issuance import seal_registry
from issuance.errors import IllegalTransition, NotFound, PermissionDenied, ValidationError
from issuance.models import AuditEntry
from issuance.models.signing import DigitalCertificate


def issue(world, actor=None, name="签发证书", **kw):
    with world.uow() as uow:
        row = dcerts.issue(uow, actor or world.dept_admin, world.platform.ca, name, **kw)
        uow.commit()
        return row.id


def test_issue_makes_a_key_and_a_ca_certificate_for_the_own_department(world):
    cid = issue(world, remark="用于营业执照")
    ca = world.platform.ca
    with world.uow() as uow:
        row = dcerts.get(uow, world.dept_admin, cid)
        assert row.department_id == world.dept.id and row.status == "valid" and row.remark == "用于营业执照"
        cert = X.load(row.certificate_der)
        assert X.signed_by(cert, X.public_key_der(ca.certificate))
        assert row.subject_cn == world.dept.name and world.dept.name in cert.subject.human_friendly
        assert row.serial == str(cert.serial_number)
        # the key is stored encrypted and matches the certificate
        assert row.key_enc.startswith("sm4gcm1:") and b"PRIVATE" not in row.key_enc.encode()
        key = SM2PrivateKey.from_der(dcerts.key_of(uow, row))
        from certledger.crypto.signers import SoftSM2Signer

        assert SoftSM2Signer(key).public_key_der() == X.public_key_der(cert)
        facts = dcerts.describe(row)
        assert len(facts.sm3_fingerprint.split(":")) == 32 and facts.issuer == ca.certificate.subject.human_friendly
        actions = uow.session.execute(select(AuditEntry.action).where(AuditEntry.subject_id == cid,
                                                                      AuditEntry.subject_kind == "digital_certificate")
                                      ).scalars().all()
        assert actions == ["digital_certificate.issue"]


def test_only_department_admins_and_platform_admins_manage_certificates(world):
    for actor in (world.clerk, world.reviewer):
        with world.uow() as uow, pytest.raises(PermissionDenied):
            dcerts.issue(uow, actor, world.platform.ca, "x")
        with world.uow() as uow, pytest.raises(PermissionDenied):
            dcerts.search(uow, actor)
    with world.uow() as uow, pytest.raises(PermissionDenied):  # admin acting for no department names none
        dcerts.issue(uow, world.admin, world.platform.ca, "x")
    cid = issue(world, world.admin, department_id=world.dept.id)
    with world.uow() as uow:
        assert dcerts.get(uow, world.dept_admin, cid).department_id == world.dept.id


def test_another_department_neither_sees_nor_changes_the_certificate(world):
    cid = issue(world)
    _other, head = world.add_department("哈尔滨市公安局", "11230100MB0000002X")
    with world.uow() as uow:
        assert dcerts.search(uow, head).total == 0
        assert dcerts.search(uow, world.admin).total == 1
        with pytest.raises(NotFound):
            dcerts.get(uow, head, cid)
        with pytest.raises(NotFound):
            dcerts.update(uow, head, cid, "改名", "")
        with pytest.raises(NotFound):
            dcerts.delete(uow, head, world.platform.ca, cid)
        assert dcerts.valid_choices(uow, head) == []
    with world.uow() as uow:
        assert uow.session.get(DigitalCertificate, cid).name == "签发证书"


def test_bad_input_names_the_fields_and_writes_nothing(world):
    issue(world, name="重复")
    with world.uow() as uow:
        with pytest.raises(ValidationError) as e:
            dcerts.issue(uow, world.dept_admin, world.platform.ca, "", remark="x" * 501, years=9)
        assert set(e.value.errors) == {"name", "remark", "years"}
        with pytest.raises(ValidationError) as e:
            dcerts.issue(uow, world.dept_admin, world.platform.ca, "重复")
        assert set(e.value.errors) == {"name"}
    with world.uow() as uow:
        assert uow.session.execute(select(DigitalCertificate)).scalars().all()[0].name == "重复"
        assert len(uow.session.execute(select(DigitalCertificate)).scalars().all()) == 1


def test_edit_changes_name_and_remark_only(world):
    cid = issue(world)
    with world.uow() as uow:
        der = dcerts.get(uow, world.dept_admin, cid).certificate_der
        dcerts.update(uow, world.dept_admin, cid, "新名称", "新备注")
        uow.commit()
    with world.uow() as uow:
        row = dcerts.get(uow, world.dept_admin, cid)
        assert (row.name, row.remark, row.certificate_der) == ("新名称", "新备注", der)


def test_list_filters_sorts_and_pages_on_the_server(world):
    for n in ("甲证书", "乙证书", "丙证书"):
        issue(world, name=n)
    with world.uow() as uow:
        a = world.dept_admin
        assert [r.name for r in dcerts.search(uow, a, text="乙").items] == ["乙证书"]
        page = dcerts.search(uow, a, sort="name", size=2)
        assert page.total == 3 and len(page.items) == 2 and page.pages == 2
        names = [r.name for r in page.items] + [r.name for r in dcerts.search(uow, a, sort="name", size=2,
                                                                               page=2).items]
        assert names == sorted(names)
        assert dcerts.search(uow, a, status="revoked").total == 0
        with pytest.raises(ValidationError):
            dcerts.search(uow, a, sort="key_enc")


def test_delete_removes_an_unused_certificate_and_revokes_one_a_seal_allows(world):
    ca = world.platform.ca
    unused, used = issue(world, name="未用"), issue(world, name="已用")
    with world.uow() as uow:
        seal_registry.create(uow, world.dept_admin, ca, "专用章", used, "official", text=world.dept.name)
        uow.commit()
    with world.uow() as uow:
        assert dcerts.delete(uow, world.dept_admin, ca, unused) == "deleted"
        assert dcerts.delete(uow, world.dept_admin, ca, used) == "revoked"
        uow.commit()
    with world.uow() as uow:
        assert uow.session.get(DigitalCertificate, unused) is None
        row = uow.session.get(DigitalCertificate, used)
        assert row.status == "revoked" and ca.is_revoked(int(row.serial))
        assert dcerts.valid_choices(uow, world.dept_admin) == []
        with pytest.raises(IllegalTransition):
            dcerts.revoke(uow, world.dept_admin, ca, used)
