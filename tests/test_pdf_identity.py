"""A department's PDF (ECDSA) signing identity, kept in the database like the SM2 one.

Real parts: an initialised data directory (SQLite, and PostgreSQL when the set-up has one), the
platform's PDF CA, a second PDF CA made in the test for "issued by another CA".
"""

from __future__ import annotations

import base64
import os
import threading
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, insert, select

from certledger.crypto import x509 as X
from certledger.crypto.ca import CertificateAuthority
from certledger.crypto.signers import ECDSA_SHA256
from certledger.crypto.sm import DecryptionError
from issuance import signing_identity
from issuance.models import PdfSigningIdentity
from issuance.signing_identity import (RENEW_BEFORE, PdfSigningMaterial, SigningIdentityError,
                                       pdf_signing_material)
from tests.helpers import at_once


def _material(world, ca=None, now: datetime | None = None, department_id: int | None = None) -> PdfSigningMaterial:
    """The identity as one unit of work sees it, committed as a rendition would."""
    with world.uow() as uow:
        m = pdf_signing_material(uow, ca or world.platform.pdf_ca, department_id or world.dept.id, now=now)
        uow.commit()
    return m


def _rows(world) -> list[PdfSigningIdentity]:
    """The stored rows, detached with their values (leaving a unit of work rolls back, expiring them)."""
    with world.uow() as uow:
        rows = uow.session.execute(select(PdfSigningIdentity).order_by(PdfSigningIdentity.id)).scalars().all()
        uow.session.expunge_all()
        return rows


def _key_matches_certificate(m: PdfSigningMaterial) -> bool:
    from cryptography.hazmat.primitives import serialization

    key = serialization.load_der_private_key(m.key_der, None)
    public = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return public == X.public_key_der(X.load(m.certificate_der))


def _other_pdf_ca(tmp_path) -> CertificateAuthority:
    return CertificateAuthority.create(tmp_path / "other-pdf-ca", os.urandom(16), "另一个 PDF 根证书", "X",
                                       algorithm=ECDSA_SHA256)


def test_made_on_first_need_then_reused(world):
    pdf_ca = world.platform.pdf_ca
    assert _rows(world) == []
    first = _material(world)
    assert _key_matches_certificate(first) and first.chain == (pdf_ca.certificate_der,)
    cert = X.load(first.certificate_der)
    assert X.signed_by(cert, X.public_key_der(pdf_ca.certificate))
    assert "哈尔滨市市场监督管理局" in cert.subject.human_friendly
    assert repr(first) == f"PdfSigningMaterial(department_id={world.dept.id})"  # never the key

    second = _material(world)  # another unit of work: the stored identity, not a new key
    assert second.certificate_der == first.certificate_der and second.key_der == first.key_der
    (row,) = _rows(world)
    assert row.department_id == world.dept.id and row.not_after == cert.not_valid_after


def test_replaced_when_about_to_expire(world):
    first = _material(world)
    (row,) = _rows(world)
    still = _material(world, now=row.not_after - RENEW_BEFORE - timedelta(minutes=1))
    assert still.certificate_der == first.certificate_der

    renewed = _material(world, now=row.not_after - RENEW_BEFORE + timedelta(minutes=1))
    assert renewed.certificate_der != first.certificate_der and renewed.key_der != first.key_der
    assert _key_matches_certificate(renewed)
    (after,) = _rows(world)  # replaced in place: still one row for the department
    assert after.id == row.id and after.certificate_der == renewed.certificate_der
    assert _material(world).certificate_der == renewed.certificate_der  # and the new one is kept


def test_key_is_stored_encrypted_and_bound_to_its_department(world):
    m = _material(world)
    (row,) = _rows(world)
    stored = row.key_enc.encode()
    assert row.key_enc.startswith("sm4gcm1:")
    for form in (m.key_der, base64.b64encode(m.key_der), m.key_der.hex().encode(), b"BEGIN"):
        assert form not in stored
    with world.uow() as uow:
        assert uow.cipher.decrypt(row.key_enc, f"pdf-signing-key:{world.dept.id}") == m.key_der
        with pytest.raises(DecryptionError):  # the context binds it to this department's row
            uow.cipher.decrypt(row.key_enc, f"pdf-signing-key:{world.dept.id + 1}")
        with pytest.raises(DecryptionError):  # and keeps it apart from the SM2 key
            uow.cipher.decrypt(row.key_enc, f"signing-key:{world.dept.id}")


def test_identity_of_another_pdf_ca_is_replaced(world, tmp_path):
    other_ca = _other_pdf_ca(tmp_path)
    foreign = _material(world, ca=other_ca)
    assert X.signed_by(X.load(foreign.certificate_der), X.public_key_der(other_ca.certificate))

    m = _material(world)  # the platform's PDF CA: the other CA's identity is not used
    assert m.certificate_der != foreign.certificate_der
    assert X.signed_by(X.load(m.certificate_der), X.public_key_der(world.platform.pdf_ca.certificate))
    (row,) = _rows(world)
    assert row.certificate_der == m.certificate_der


def test_each_department_has_its_own(world):
    other, _ = world.add_department("大庆市市场监督管理局", "11230600MB0000002X", "230600")
    a, b = _material(world), _material(world, department_id=other.id)
    assert a.certificate_der != b.certificate_der and a.key_der != b.key_der
    assert "大庆市市场监督管理局" in X.load(b.certificate_der).subject.human_friendly
    assert sorted(r.department_id for r in _rows(world)) == sorted([world.dept.id, other.id])


def test_unknown_department_and_undecryptable_key_are_reported(world):
    with world.uow() as uow, pytest.raises(SigningIdentityError, match="department 999999 not found"):
        pdf_signing_material(uow, world.platform.pdf_ca, 999_999)
    _material(world)
    with world.uow() as uow:  # a key moved from another row does not decrypt here
        row = uow.session.execute(select(PdfSigningIdentity)).scalar_one()
        row.key_enc = uow.cipher.encrypt(b"not this row's", "pdf-signing-key:0")
        uow.commit()
    with world.uow() as uow, pytest.raises(SigningIdentityError, match="cannot be decrypted"):
        pdf_signing_material(uow, world.platform.pdf_ca, world.dept.id)


def test_losing_the_insert_race_reads_the_winners_row_back(world, monkeypatch):
    """Another process inserted its identity between our look-up and our insert: the unique
    constraint refuses ours, the savepoint keeps the rest of the transaction, theirs is used."""
    real_make = signing_identity._make_pdf
    winner: dict = {}

    def make_after_the_winner(uow, pdf_ca, dept):
        winner.update(real_make(uow, pdf_ca, dept))
        uow.session.execute(insert(PdfSigningIdentity).values(department_id=dept.id, **winner))
        return real_make(uow, pdf_ca, dept)

    monkeypatch.setattr(signing_identity, "_make_pdf", make_after_the_winner)
    with world.uow() as uow:
        m = pdf_signing_material(uow, world.platform.pdf_ca, world.dept.id)
        uow.commit()  # the transaction survived the refused insert
    assert m.certificate_der == winner["certificate_der"] and _key_matches_certificate(m)
    (row,) = _rows(world)
    assert row.certificate_der == winner["certificate_der"]


def test_two_processes_at_once_end_with_one_identity(world, monkeypatch):
    """Real concurrency needs a database that lets both look up before either inserts: on
    SQLite a unit of work holds the write lock from its start, so they never overlap."""
    if world.platform.engine.dialect.name == "sqlite":
        pytest.skip("SQLite serialises units of work; the race is covered by the test above")
    real_make = signing_identity._make_pdf
    both_looked = threading.Barrier(2, timeout=30)

    def make_together(uow, pdf_ca, dept):
        both_looked.wait()  # each found no row
        return real_make(uow, pdf_ca, dept)

    monkeypatch.setattr(signing_identity, "_make_pdf", make_together)
    results, errors = at_once(lambda: _material(world), 2, barrier=False)
    assert not errors, errors
    assert len(results) == 2 and results[0].certificate_der == results[1].certificate_der
    with world.uow() as uow:
        assert uow.session.scalar(select(func.count()).select_from(PdfSigningIdentity)) == 1

