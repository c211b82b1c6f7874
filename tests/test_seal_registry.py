"""Seals (印章): made from an upload or generated, scoped to the department, used by the pipeline."""

from __future__ import annotations

import io
import zipfile
from datetime import date, timedelta

import pytest
from PIL import Image
from sqlalchemy import select

from issuance import cert_types, digital_certificates as dcerts, seal_registry
from issuance.errors import IllegalTransition, NotFound, PermissionDenied, ValidationError
from issuance.models import AuditEntry
from issuance.models.signing import Seal
from issuance.pipeline import issue as run_pipeline
from ofd.design import default_for
from seals.seal import describe, load_seal
from tests.helpers import approved_licence_type
from tests.test_pipeline import COLUMNS, issuing, ofd_file


def make_cert(world, actor=None, name="印章证书", subject_cn=""):
    with world.uow() as uow:
        row = dcerts.issue(uow, actor or world.dept_admin, world.platform.ca, name, subject_cn=subject_cn)
        uow.commit()
        return row.id


def make_seal(world, cert_id, actor=None, name="电子证照专用章", **kw):
    kw.setdefault("text", "哈尔滨市市场监督管理局")
    with world.uow() as uow:
        row = seal_registry.create(uow, actor or world.dept_admin, world.platform.ca, name, cert_id,
                                   kw.pop("style", "official"), **kw)
        uow.commit()
        return row.id


def png_on_white() -> bytes:
    img = Image.new("RGB", (200, 200), (255, 255, 255))
    for x in range(50, 150):
        for y in range(50, 150):
            img.putpixel((x, y), (220, 0, 0))
    out = io.BytesIO()
    img.save(out, "JPEG")
    return out.getvalue()


def test_a_generated_seal_allows_its_certificate_and_is_made_by_the_platform_ca(world):
    cid = make_cert(world)
    sid = make_seal(world, cid, bottom_text="电子证照专用章", size_mm=40)
    ca = world.platform.ca
    with world.uow() as uow:
        seal = seal_registry.get(uow, world.dept_admin, sid)
        cert = dcerts.get(uow, world.dept_admin, cid)
        info = describe(load_seal(seal.seal_der))
        assert info.name == "电子证照专用章" and info.signer_certs == (cert.certificate_der,)
        assert info.maker_cert == ca.certificate_der and info.width_mm == 40 and info.picture == seal.picture
        assert seal.source == "generated" and seal.status == "valid" and seal.valid_to == cert.not_after
        with Image.open(io.BytesIO(seal.picture)) as im:
            assert im.format == "PNG"
        assert seal_registry.seals_for_design(uow, world.dept_admin) == [(sid, "电子证照专用章")]
        assert uow.session.execute(select(AuditEntry.action).where(AuditEntry.subject_kind == "seal")
                                   ).scalars().all() == ["seal.create"]


def test_an_uploaded_picture_gets_a_transparent_background(world):
    cid = make_cert(world)
    sid = make_seal(world, cid, picture=png_on_white(), style="party")
    with world.uow() as uow:
        seal = seal_registry.get(uow, world.dept_admin, sid)
        assert seal.source == "uploaded" and seal.style == "party"
        with Image.open(io.BytesIO(seal.picture)) as im:
            rgba = im.convert("RGBA")
            assert rgba.size[0] <= 110  # cropped to the red square
            assert rgba.getpixel((0, 0))[3] > 0
        with Image.open(io.BytesIO(seal.picture)) as im:
            assert im.format == "PNG"


def test_bad_input_is_refused_field_by_field_and_nothing_is_written(world):
    cid = make_cert(world)
    _other, head = world.add_department("哈尔滨市公安局", "11230100MB0000002X")
    foreign = make_cert(world, head, name="他部门证书")
    with world.uow() as uow:
        with pytest.raises(ValidationError) as e:
            seal_registry.create(uow, world.dept_admin, world.platform.ca, "", None, "square", size_mm=5)
        assert set(e.value.errors) == {"name", "style", "size_mm", "certificate_id"}
        with pytest.raises(ValidationError) as e:
            seal_registry.create(uow, world.dept_admin, world.platform.ca, "章", foreign, "official", text="x")
        assert set(e.value.errors) == {"certificate_id"}
        with pytest.raises(ValidationError) as e:
            seal_registry.create(uow, world.dept_admin, world.platform.ca, "章", cid, "official", text="x",
                                 valid_to=date.today() + timedelta(days=365 * 10))
        assert set(e.value.errors) == {"valid_to"}
        with pytest.raises(ValidationError) as e:
            seal_registry.create(uow, world.dept_admin, world.platform.ca, "章", cid, "official",
                                 picture=b"GIF89a not really")
        assert set(e.value.errors) == {"picture"}
    with world.uow() as uow:
        assert uow.session.execute(select(Seal)).scalars().all() == []


def test_roles_and_departments_are_kept_apart(world):
    cid = make_cert(world)
    sid = make_seal(world, cid)
    _other, head = world.add_department("哈尔滨市公安局", "11230100MB0000002X")
    ca = world.platform.ca
    with world.uow() as uow:
        for actor in (world.clerk, world.reviewer):
            with pytest.raises(PermissionDenied):
                seal_registry.search(uow, actor)
            with pytest.raises(PermissionDenied):
                seal_registry.create(uow, actor, ca, "章", cid, "official", text="x")
        assert seal_registry.search(uow, head).total == 0 and seal_registry.seals_for_design(uow, head) == []
        for call in (lambda: seal_registry.get(uow, head, sid), lambda: seal_registry.delete(uow, head, sid),
                     lambda: seal_registry.update(uow, head, ca, sid, "改", "frozen")):
            with pytest.raises(NotFound):
                call()
        with pytest.raises(ValidationError):  # a certificate of another department is not a choice
            seal_registry.create(uow, head, ca, "章", cid, "official", text="x")
        assert seal_registry.search(uow, world.admin).total == 1
    with world.uow() as uow:
        s = uow.session.get(Seal, sid)
        assert (s.name, s.status) == ("电子证照专用章", "valid")


def test_edit_renames_in_the_seseal_and_status_follows_its_rules(world):
    cid = make_cert(world)
    sid = make_seal(world, cid)
    ca = world.platform.ca
    with world.uow() as uow:
        es_id = seal_registry.get(uow, world.dept_admin, sid).es_id
        seal_registry.update(uow, world.dept_admin, ca, sid, "新章名", "frozen")
        uow.commit()
    with world.uow() as uow:
        seal = seal_registry.get(uow, world.dept_admin, sid)
        info = describe(load_seal(seal.seal_der))
        assert (info.name, info.es_id, seal.status) == ("新章名", es_id, "frozen")
        assert seal_registry.seals_for_design(uow, world.dept_admin) == []
        seal_registry.update(uow, world.dept_admin, ca, sid, "新章名", "cancelled")
        uow.commit()
    with world.uow() as uow, pytest.raises(IllegalTransition):
        seal_registry.update(uow, world.dept_admin, ca, sid, "新章名", "valid")


def test_list_filters_sorts_and_pages_on_the_server(world):
    cid = make_cert(world)
    make_seal(world, cid, name="乙章")
    make_seal(world, cid, name="甲章", style="union")
    make_seal(world, cid, name="丙章")
    with world.uow() as uow:
        a = world.dept_admin
        assert [s.name for s in seal_registry.search(uow, a, style="union").items] == ["甲章"]
        assert [s.name for s in seal_registry.search(uow, a, text="丙").items] == ["丙章"]
        page = seal_registry.search(uow, a, sort="-name", size=2)
        assert page.total == 3 and len(page.items) == 2
        rest = seal_registry.search(uow, a, sort="-name", size=2, page=2).items
        names = [s.name for s in page.items] + [s.name for s in rest]
        assert names == sorted(names, reverse=True)


# --- the pipeline uses the seal a design picked ----------------------------------------------------

def _design_with_seal(seal_id: int | None) -> dict:
    design = default_for(COLUMNS).to_json()
    for el in design["elements"]:
        if el["kind"] == "seal":
            el["seal_id"] = seal_id
    return design


def _signed_seal_der(ofd: bytes) -> bytes:
    from seals.asn1 import SESSignature

    with zipfile.ZipFile(io.BytesIO(ofd)) as z:
        name = next(n for n in z.namelist() if n.endswith("SignedValue.dat"))
        return SESSignature.load(z.read(name))["toSign"]["eseal"].dump()


def test_a_type_whose_design_names_a_seal_is_sealed_with_it_and_signed_with_its_certificate(world):
    from issuance.verification import verify_ofd_file
    from seals.ofd_sign import verify_ofd

    cid = make_cert(world, subject_cn="营业执照签发专用证书")
    sid = make_seal(world, cid, name="营业执照专用章")
    t = approved_licence_type(world)
    with world.uow() as uow:
        cert_types.save_surface_design(uow, world.dept_admin, t.id, _design_with_seal(sid))
        uow.commit()
    certs = issuing(world, t, [1, 2])
    report = run_pipeline(world.platform, [c.id for c in certs], workers=0)
    assert report.ok, report
    root = world.platform.ca.certificate
    with world.uow() as uow:
        seal = uow.session.get(Seal, sid)
        seal_der = seal.seal_der
    for c in certs:
        data = ofd_file(world, c.identifier).read_bytes()
        reports = verify_ofd(data, [root])
        assert len(reports) == 1 and reports[0].ok
        signature = next(ch for ch in reports[0].checks if ch.name == "signature")
        assert "营业执照签发专用证书" in signature.detail
        assert _signed_seal_der(data) == seal_der
        assert describe(load_seal(_signed_seal_der(data))).name == "营业执照专用章"
        assert verify_ofd_file(world.platform.ledger, data, [root]).valid


def test_a_frozen_seal_fails_the_signature_instead_of_sealing_with_another(world):
    from issuance.models import SigningIdentity

    cid = make_cert(world)
    sid = make_seal(world, cid)
    with world.uow() as uow:
        seal_registry.update(uow, world.dept_admin, world.platform.ca, sid, "电子证照专用章", "frozen")
        uow.commit()
    t = approved_licence_type(world)
    with world.uow() as uow:
        cert_types.save_surface_design(uow, world.dept_admin, t.id, _design_with_seal(sid))
        uow.commit()
    certs = issuing(world, t, [1])
    report = run_pipeline(world.platform, [c.id for c in certs], workers=0)
    assert not report.ok
    assert not ofd_file(world, certs[0].identifier).exists()
    with world.uow() as uow:  # the automatic identity was not used instead
        assert uow.session.execute(select(SigningIdentity)).scalars().all() == []
