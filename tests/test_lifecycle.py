"""Lifecycle of issued certificates end to end: database, outbox and the real local ledger store.

Certificates are issued here by the real review steps, then anchored directly through the
outbox (enqueue_anchor + Worker.drain) and moved to effective, as the issuance pipeline will do.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from certledger.cli import cli
from certledger.crypto.signers import SoftECDSASigner, SoftSM2Signer, verify as verify_signature
from certledger.crypto.sm2 import SM2PrivateKey
from certledger.db.base import utcnow
from issuance import audit, canonical, certificates, identifiers, lifecycle, states, verification
from issuance.anchoring import Worker, enqueue_anchor
from issuance.errors import Conflict, IllegalTransition, NotFound, PermissionDenied, ValidationError
from issuance.models import AuditEntry, Certificate, CertificateCopy, CertificateStatus as S, OutboxItem
from ledger import EventKind as K, LedgerError, LedgerStatus as LS, LifecycleEvent

from tests.helpers import approved_licence_type, basic, licence_values

TODAY = date.today()


# --- builders ---------------------------------------------------------------------------------

def make_type(world, code: str, **over):
    """An approved type of the world's department, registered with the ledger for its issuer."""
    t = approved_licence_type(world, code, **over)
    led = world.platform.ledger
    known = led.issuer_info(world.dept.code)
    led.register_issuer(world.dept.code, world.dept.name, sorted((known.type_codes if known else set()) | {t.code}))
    return t


def committed(world, action, *args):
    """``action(uow, *args)`` in a unit of work of its own, committed; what it returned."""
    with world.uow() as uow:
        result = action(uow, *args)
        uow.commit()
        return result


def drain(world):
    report = Worker(world.platform.session_factory, world.platform.ledger).drain()
    assert report.error == "" and report.waiting == 0, report
    return report


def issue(world, cert_id: int) -> Certificate:
    """Entry review, issuance review, anchor through the outbox, drain, effective."""
    with world.uow() as uow:
        certificates.submit(uow, world.clerk, cert_id)
        certificates.review_entry(uow, world.reviewer, cert_id, True)
        certificates.review_issuance(uow, world.reviewer, cert_id, True)
        cert = uow.session.get(Certificate, cert_id)
        digest = canonical.ledger_digest(lifecycle.canonical_data(uow, cert))
        cert.digest = digest.hex()
        enqueue_anchor(uow.session, cert.identifier, cert.issue_dept_code, cert.type_code, digest)
        uow.commit()
    assert drain(world).anchored == 1
    with world.uow() as uow:
        cert = uow.session.get(Certificate, cert_id)
        states.advance("certificate", cert, S.EFFECTIVE)
        cert.issued_at = utcnow()
        lifecycle.complete_change(uow, world.reviewer, cert)  # what the pipeline does on effective
        uow.commit()
        return cert


def effective(world, t, seed: int = 1, **over) -> Certificate:
    c = committed(world, certificates.enter, world.clerk, t.id, basic(seed, **over), licence_values())
    return issue(world, c.id)


def load(world, cert_id: int) -> Certificate:
    with world.uow() as uow:
        c = uow.session.get(Certificate, cert_id)
        uow.session.expunge(c)
        return c


def ledger_status(world, cert: Certificate):
    return world.platform.ledger.status(cert.identifier)


def assert_ledger_matches_db(world, *certs: Certificate) -> None:
    for c in certs:
        c = load(world, c.id)
        assert ledger_status(world, c).status is lifecycle.ledger_status_of(c), c.identifier


def events_waiting(world) -> list[OutboxItem]:
    with world.platform.session_factory() as s:
        items = s.scalars(select(OutboxItem).where(OutboxItem.kind != "anchor", OutboxItem.state == "pending")
                          .order_by(OutboxItem.id)).all()
        s.expunge_all()
        return items


def audit_actions(world, cert_id: int) -> list[str]:
    with world.uow() as uow:
        return list(uow.session.scalars(select(AuditEntry.action).where(
            AuditEntry.subject_kind == "certificate", AuditEntry.subject_id == cert_id).order_by(AuditEntry.id)))


def audit_chain_ok(world) -> None:
    with world.uow() as uow:
        assert audit.verify_chain(uow.session).ok


def data_of(world, cert: Certificate):
    with world.uow() as uow:
        return canonical.parse(lifecycle.canonical_data(uow, uow.session.get(Certificate, cert.id)))


@pytest.fixture
def licence(world):
    return make_type(world, "11100000000013338W032")


@pytest.fixture
def annual(world):
    return make_type(world, "ANNUAL01", annual_review=True)


# --- report loss, revoke ---------------------------------------------------------------------

def test_report_loss_goes_to_the_ledger_with_reason_and_actor(world, licence):
    c = effective(world, licence)
    assert_ledger_matches_db(world, c)
    committed(world, lifecycle.report_loss, world.clerk, c.id, "  营业执照正本遗失  ")
    waiting = events_waiting(world)
    assert [(i.kind, i.certificate_id, i.issuer) for i in waiting] == [("report_loss", c.identifier, world.dept.code)]
    c = load(world, c.id)
    assert c.status is S.LOST and c.status_change_reason == "营业执照正本遗失" and c.status_change_time is not None
    assert ledger_status(world, c).status is LS.EFFECTIVE  # not yet drained
    assert drain(world).events == 1
    assert_ledger_matches_db(world, c)
    last = world.platform.ledger.history(c.identifier)[-1]
    assert (last.kind, last.reason, last.actor) == (K.REPORT_LOSS, "营业执照正本遗失", "clerk1")
    assert "certificate.report_loss" in audit_actions(world, c.id)
    audit_chain_ok(world)


def test_lost_then_revoked_and_revoked_is_final(world, licence):
    c = effective(world, licence)
    committed(world, lifecycle.report_loss, world.clerk, c.id, "遗失")
    committed(world, lifecycle.revoke, world.dept_admin, c.id, "企业注销登记")
    drain(world)
    c = load(world, c.id)
    assert c.status is S.REVOKED and c.status_change_reason == "企业注销登记"
    assert_ledger_matches_db(world, c)
    assert [e.kind for e in world.platform.ledger.history(c.identifier)] == [K.ISSUE, K.REPORT_LOSS, K.REVOKE]
    with world.uow() as uow:
        for attempt in (lambda: lifecycle.revoke(uow, world.clerk, c.id, "again"),
                        lambda: lifecycle.report_loss(uow, world.clerk, c.id, "again"),
                        lambda: lifecycle.change(uow, world.clerk, c.id, "变更", {"holder": "x"})):
            with pytest.raises(IllegalTransition, match="a revoked certificate is final"):
                attempt()
    assert events_waiting(world) == []
    # the ledger refuses on its own too, whatever a database says
    with pytest.raises(LedgerError, match="no further events"):
        world.platform.ledger.record_event(LifecycleEvent(c.identifier, K.REPORT_LOSS, world.dept.code, reason="x"))
    assert audit_actions(world, c.id)[-2:] == ["certificate.report_loss", "certificate.revoke"]


def test_a_reason_is_required(world, licence):
    c = effective(world, licence)
    with world.uow() as uow:
        with pytest.raises(ValidationError) as e:
            lifecycle.report_loss(uow, world.clerk, c.id, "   ")
        assert "reason" in e.value.errors
        with pytest.raises(ValidationError, match="reason"):
            lifecycle.revoke(uow, world.clerk, c.id, "")
        with pytest.raises(ValidationError, match="reason"):
            lifecycle.change(uow, world.clerk, c.id, None, {"holder": "x"})
    assert load(world, c.id).status is S.EFFECTIVE and events_waiting(world) == []


@pytest.mark.parametrize("action", ["report_loss", "revoke"])
def test_only_issued_certificates_are_reported_lost_or_revoked(world, licence, action):
    draft = committed(world, certificates.enter, world.clerk, licence.id, basic(3), licence_values())
    with world.uow() as uow:
        with pytest.raises(IllegalTransition) as e:
            getattr(lifecycle, action)(uow, world.clerk, draft.id, "理由")
    assert "'draft'" in str(e.value)
    assert load(world, draft.id).status is S.DRAFT and events_waiting(world) == []


def test_a_lost_certificate_cannot_be_reported_lost_again_nor_reviewed(world, annual):
    c = effective(world, annual)
    committed(world, lifecycle.report_loss, world.clerk, c.id, "遗失")
    with world.uow() as uow:
        with pytest.raises(IllegalTransition, match="'lost' to 'lost'"):
            lifecycle.report_loss(uow, world.clerk, c.id, "遗失")
        with pytest.raises(IllegalTransition, match="'lost' to 'annual_review'"):
            lifecycle.pass_annual_review(uow, world.reviewer, c.id, TODAY + timedelta(days=365))


def test_department_isolation_and_roles(world, annual):
    c = effective(world, annual)
    other_dept, _ = world.add_department("大庆市市场监督管理局", "11230600MB0000002X", "230600")
    other_clerk = world.add_user("clerk2", "clerk", other_dept.id)
    auditor = world.add_user("auditor1", "auditor", world.dept.id)
    signer = SoftSM2Signer(SM2PrivateKey.generate())
    with world.uow() as uow:
        for call in (lambda a: lifecycle.report_loss(uow, a, c.id, "x"),
                     lambda a: lifecycle.revoke(uow, a, c.id, "x"),
                     lambda a: lifecycle.pass_annual_review(uow, a, c.id, TODAY + timedelta(days=30)),
                     lambda a: lifecycle.change(uow, a, c.id, "x", {"holder": "y"}),
                     lambda a: lifecycle.make_copy(uow, a, c.id, signer, "x", 3)):
            with pytest.raises(NotFound):
                call(other_clerk)
            with pytest.raises(PermissionDenied):
                call(auditor)
        with pytest.raises(PermissionDenied):  # reviewers review; they do not report losses
            lifecycle.report_loss(uow, world.reviewer, c.id, "x")
    assert load(world, c.id).status is S.EFFECTIVE and events_waiting(world) == []


# --- annual review ----------------------------------------------------------------------------

def test_annual_review_moves_the_next_due_date_on_the_ledger(world, annual):
    c = effective(world, annual, issue_date=TODAY.isoformat())
    assert c.next_review_due is not None
    next_due = TODAY + timedelta(days=400)
    committed(world, lifecycle.pass_annual_review, world.reviewer, c.id, next_due, "年审合格")
    c = load(world, c.id)
    assert c.status is S.EFFECTIVE and c.next_review_due == next_due
    drain(world)
    st = ledger_status(world, c)
    assert st.status is LS.EFFECTIVE and st.next_review_due == next_due
    last = world.platform.ledger.history(c.identifier)[-1]
    assert (last.kind, last.next_review_due, last.reason) == (K.ANNUAL_REVIEW, next_due, "年审合格")
    assert "certificate.annual_review" in audit_actions(world, c.id)


def test_annual_review_refusals(world, licence, annual):
    plain = effective(world, licence, 1)
    c = effective(world, annual, 2)
    with world.uow() as uow:
        with pytest.raises(ValidationError, match="has no annual review"):
            lifecycle.pass_annual_review(uow, world.reviewer, plain.id, TODAY + timedelta(days=365))
        for due in (TODAY, TODAY - timedelta(days=1)):
            with pytest.raises(ValidationError) as e:
                lifecycle.pass_annual_review(uow, world.reviewer, c.id, due)
            assert "after today" in e.value.errors["next_due"]
    assert events_waiting(world) == []


def test_overdue_job_is_idempotent_queues_nothing_and_a_review_reinstates(world, annual, licence):
    late = effective(world, annual, 1, next_review_due="2024-06-01")
    fine = effective(world, annual, 2, next_review_due="2099-01-01")
    plain = effective(world, licence, 3)
    with world.uow() as uow:  # a draft past its due date is not the job's business
        draft = certificates.enter(uow, world.clerk, annual.id, basic(4, next_review_due="2024-01-01"), licence_values())
        uow.commit()
    assert committed(world, lifecycle.mark_overdue, TODAY) == 1
    assert committed(world, lifecycle.mark_overdue, TODAY) == 0
    assert [load(world, x.id).status for x in (late, fine, plain, draft)] == [S.REVIEW_OVERDUE, S.EFFECTIVE, S.EFFECTIVE, S.DRAFT]
    assert "2024-06-01" in load(world, late.id).status_change_reason
    assert events_waiting(world) == []  # the ledger has no overdue event: it derives it from the due date
    assert_ledger_matches_db(world, late, fine, plain)
    with world.uow() as uow:
        entry = uow.session.scalars(select(AuditEntry).where(AuditEntry.action == "certificate.review_overdue")).one()
        assert entry.subject_id == late.id and entry.actor_name == "overdue-job" and entry.tenant_id == world.tenant_id
    # an overdue certificate cannot be copied, but may be reviewed back to effective
    with world.uow() as uow:
        next_due = TODAY + timedelta(days=365)
        lifecycle.pass_annual_review(uow, world.reviewer, late.id, next_due)
        uow.commit()
    drain(world)
    late = load(world, late.id)
    assert late.status is S.EFFECTIVE and late.next_review_due == next_due
    assert ledger_status(world, late).next_review_due == next_due
    assert_ledger_matches_db(world, late)
    # the verifier reads "overdue" from the ledger's due date, not from our database
    basic_items, values = data_of(world, late)
    assert verification.verify_data(world.platform.ledger, basic_items, values).valid
    later = next_due + timedelta(days=1)
    verdict = verification.verify_data(world.platform.ledger, basic_items, values, today=later)
    assert not verdict.valid and "overdue" in next(c.detail for c in verdict.checks if c.name == "status")
    audit_chain_ok(world)


# --- change -----------------------------------------------------------------------------------

def test_change_makes_version_2_which_supersedes_version_1_once_effective(world, licence):
    v1 = effective(world, licence)
    with world.uow() as uow:
        v2 = lifecycle.change(uow, world.clerk, v1.id, "名称变更登记", {"holder": "企业一（更名）"},
                              {"dom": "哈尔滨市道里区新路2号"})
        uow.commit()
    old_id, new_id = identifiers.parse(v1.identifier), identifiers.parse(v2.identifier)
    assert (new_id.type_code, new_id.issuer_code, new_id.serial) == (old_id.type_code, old_id.issuer_code, old_id.serial)
    assert (old_id.version, new_id.version) == ("001", "002") and identifiers.is_valid(v2.identifier)
    assert (v2.version, v2.supersedes_id, v2.status, v2.number, v2.holder) == (2, v1.id, S.DRAFT, v1.number, "企业一（更名）")
    assert v2.issue_date == TODAY
    with world.uow() as uow:
        assert certificates.values_of(uow, uow.session.get(Certificate, v2.id))["dom"] == "哈尔滨市道里区新路2号"
        assert certificates.values_of(uow, uow.session.get(Certificate, v2.id))["ENTNAME"] == licence_values()["ENTNAME"]
        with pytest.raises(Conflict, match="already has a change in progress"):
            lifecycle.change(uow, world.clerk, v1.id, "again", {"holder": "z"})
        with pytest.raises(Conflict, match="change in progress"):
            lifecycle.revoke(uow, world.clerk, v1.id, "注销")
    assert load(world, v1.id).status is S.EFFECTIVE  # still valid while the new version is reviewed
    assert events_waiting(world) == []
    issue(world, v2.id)
    v1, v2 = load(world, v1.id), load(world, v2.id)
    assert (v1.status, v2.status) == (S.SUPERSEDED, S.EFFECTIVE)
    assert v1.status_change_reason == "名称变更登记"
    [event] = events_waiting(world)
    assert (event.kind, event.certificate_id, event.payload["superseded_by"]) == ("change", v1.identifier, v2.identifier)
    drain(world)
    assert_ledger_matches_db(world, v1, v2)
    led = world.platform.ledger
    assert led.status(v1.identifier).superseded_by == v2.identifier
    last = led.history(v1.identifier)[-1]
    assert (last.kind, last.superseded_by, last.reason) == (K.CHANGE, v2.identifier, "名称变更登记")
    assert last.superseded_by_digest == led.status(v2.identifier).digest == bytes.fromhex(v2.digest)
    # both stay verifiable: each digest is anchored, each with its own status
    with world.platform.session_factory() as s:
        proofs = {i.certificate_id: ([bytes.fromhex(p) for p in i.proof], bytes.fromhex(i.batch_root))
                  for i in s.scalars(select(OutboxItem).where(OutboxItem.kind == "anchor"))}
    for c in (v1, v2):
        proof, root = proofs[c.identifier]
        assert led.verify_inclusion(bytes.fromhex(c.digest), proof, root)
    old_verdict = verification.verify_data(led, *data_of(world, v1))
    new_verdict = verification.verify_data(led, *data_of(world, v2))
    assert {c.name: c.ok for c in old_verdict.checks}["digest"] and not old_verdict.valid
    assert v2.identifier in next(c.detail for c in old_verdict.checks if c.name == "status")
    assert new_verdict.valid
    with world.uow() as uow:
        assert [c.version for c in lifecycle.versions(uow, world.clerk, v1.id)] == [1, 2]
        with pytest.raises(IllegalTransition, match="change the newest version"):
            lifecycle.change(uow, world.clerk, v1.id, "again", {"holder": "z"})
    assert "certificate.change" in audit_actions(world, v2.id)
    assert "certificate.superseded" in audit_actions(world, v1.id)
    audit_chain_ok(world)


def test_reissue_after_loss_supersedes_the_lost_version(world, licence):
    v1 = effective(world, licence)
    with world.uow() as uow:
        lifecycle.report_loss(uow, world.clerk, v1.id, "遗失")
        v2 = lifecycle.change(uow, world.clerk, v1.id, "遗失补办")
        uow.commit()
    issue(world, v2.id)
    drain(world)
    v1, v2 = load(world, v1.id), load(world, v2.id)
    assert (v1.status, v2.status) == (S.SUPERSEDED, S.EFFECTIVE)
    assert_ledger_matches_db(world, v1, v2)
    assert [e.kind for e in world.platform.ledger.history(v1.identifier)] == [K.ISSUE, K.REPORT_LOSS, K.CHANGE]


def test_change_refusals(world, licence):
    v1 = effective(world, licence, 1)
    with world.uow() as uow:
        with pytest.raises(ValidationError) as e:
            lifecycle.change(uow, world.clerk, v1.id, "x", {"number": "91230100000000000X", "holder": "y"})
        assert set(e.value.errors) == {"number"}
        with pytest.raises(ValidationError) as e:
            lifecycle.change(uow, world.clerk, v1.id, "x", {"valid_to": "2000-01-01"})
        assert "valid_to" in e.value.errors
        with pytest.raises(ValidationError) as e:
            lifecycle.change(uow, world.clerk, v1.id, "x", values={"opscope": ""})
        assert "opscope" in e.value.errors
        draft = certificates.enter(uow, world.clerk, licence.id, basic(2), licence_values())
        with pytest.raises(IllegalTransition, match="'draft' to 'superseded'"):
            lifecycle.change(uow, world.clerk, draft.id, "x", {"holder": "y"})
        assert uow.session.scalar(select(func.count()).select_from(Certificate).where(Certificate.version == 2)) == 0


def test_a_withdrawn_change_leaves_the_old_version_alone(world, licence):
    v1 = effective(world, licence)
    v2 = committed(world, lifecycle.change, world.clerk, v1.id, "变更", {"holder": "新名称"})
    with world.uow() as uow:  # the pending version is an ordinary draft: editable, deletable
        certificates.update(uow, world.clerk, v2.id, basic={"holder": "另一个名称"})
        certificates.delete(uow, world.clerk, v2.id)
        uow.commit()
    committed(world, lifecycle.revoke, world.clerk, v1.id, "注销")
    drain(world)
    assert_ledger_matches_db(world, v1)
    assert load(world, v1.id).status is S.REVOKED


# --- annotated copies (加注件) ---------------------------------------------------------------

@pytest.fixture
def copyable(world):
    return make_type(world, "COPY01", copy_enabled=True, copy_default_purpose="办理银行开户", copy_validity_days=30)


def test_annotated_copy_is_signed_by_its_maker_and_verifiable(world, copyable):
    c = effective(world, copyable)
    key = SM2PrivateKey.generate()
    signer = SoftSM2Signer(key)
    copy = committed(world, lifecycle.make_copy, world.clerk, c.id, signer)
    assert copy.purpose == "办理银行开户" and copy.creation_org == world.dept.name and copy.maker_id == world.clerk.user_id
    expected_end = datetime.combine(TODAY + timedelta(days=30), datetime.max.time(), timezone.utc).replace(microsecond=0)
    assert abs((copy.expiring_time - expected_end).total_seconds()) <= 86400  # date boundary at midnight UTC
    with world.uow() as uow:
        stored = uow.session.get(CertificateCopy, copy.id)
        check = lifecycle.verify_copy(uow, stored, signer.public_key_der())
        assert check.valid and check.signature and check.trusted_key
        # the signature is an ordinary SM2 signature over the canonical copy data
        sig = json.loads(stored.signature)
        data = lifecycle.copy_data(stored, c.identifier, bytes.fromhex(c.digest), "clerk1", sig["keyId"])
        assert json.loads(data)["purpose"] == "办理银行开户" and json.loads(data)["certificateId"] == c.identifier
        import base64
        assert verify_signature("sm2-sm3", signer.public_key_der(), data, base64.b64decode(sig["value"]))
        # someone else's key is not the maker's
        assert lifecycle.verify_copy(uow, stored, SoftSM2Signer(SM2PrivateKey.generate()).public_key_der()).trusted_key is False
        # past its expiry the copy is no longer valid
        assert not lifecycle.verify_copy(uow, stored, now=stored.expiring_time + timedelta(seconds=1)).valid
        # a changed purpose breaks the signature
        stored.purpose = "办理贷款"
        uow.session.flush()
        assert not lifecycle.verify_copy(uow, stored).signature
    assert "certificate.copy" in audit_actions(world, c.id)


def test_copy_validity_purpose_and_status_rules(world, copyable):
    end = TODAY + timedelta(days=10)
    c = effective(world, copyable, 1, valid_to=end.isoformat())
    signer = SoftSM2Signer(SM2PrivateKey.generate())
    with world.uow() as uow:
        copy = lifecycle.make_copy(uow, world.clerk, c.id, signer, "  投标资格审查 ", 90)
        assert copy.purpose == "投标资格审查"
        assert copy.expiring_time.date() == end  # never outlives the certificate
        short = lifecycle.make_copy(uow, world.clerk, c.id, signer, "招投标", 2)
        assert short.expiring_time.date() == (utcnow() + timedelta(days=2)).date()
        for days in (0, 3651, "7"):
            with pytest.raises(ValidationError, match="1 to 3650"):
                lifecycle.make_copy(uow, world.clerk, c.id, signer, "x", days)
        with pytest.raises(ValidationError, match="purpose"):
            lifecycle.make_copy(uow, world.clerk, c.id, signer, "   ", 5)
        with pytest.raises(ValidationError, match="SM2"):
            lifecycle.make_copy(uow, world.clerk, c.id, SoftECDSASigner(), "x", 5)
        uow.commit()
    committed(world, lifecycle.report_loss, world.clerk, c.id, "遗失")
    with world.uow() as uow:
        with pytest.raises(IllegalTransition, match="only an effective certificate can be copied"):
            lifecycle.make_copy(uow, world.clerk, c.id, signer, "x", 5)
        # copies made before the loss now fail the certificate-status check
        check = lifecycle.verify_copy(uow, uow.session.get(CertificateCopy, copy.id))
        assert check.signature and not check.certificate_effective and not check.valid
        assert len(lifecycle.copies(uow, world.clerk, c.id)) == 2


def test_copies_are_refused_when_the_type_does_not_allow_them(world, licence):
    c = effective(world, licence)
    with world.uow() as uow:
        with pytest.raises(ValidationError, match="does not allow annotated copies"):
            lifecycle.make_copy(uow, world.clerk, c.id, SoftSM2Signer(SM2PrivateKey.generate()), "x", 5)
        assert uow.session.scalar(select(func.count()).select_from(CertificateCopy)) == 0


# --- no edits, no deletes once issued --------------------------------------------------------

def test_issued_certificates_cannot_be_edited_or_deleted_in_any_later_status(world, licence):
    eff = effective(world, licence, 1)
    lost = effective(world, licence, 2)
    revoked = effective(world, licence, 3)
    old = effective(world, licence, 4)
    with world.uow() as uow:
        lifecycle.report_loss(uow, world.clerk, lost.id, "遗失")
        lifecycle.revoke(uow, world.clerk, revoked.id, "注销")
        new = lifecycle.change(uow, world.clerk, old.id, "变更", {"holder": "新"})
        uow.commit()
    issue(world, new.id)
    for c in (eff, lost, revoked, old):
        with world.uow() as uow:
            before = load(world, c.id)
            with pytest.raises(IllegalTransition, match="issued certificates cannot be edited or deleted"):
                certificates.update(uow, world.clerk, c.id, basic={"holder": "篡改"})
            with pytest.raises(IllegalTransition, match="issued certificates cannot be edited or deleted"):
                certificates.delete(uow, world.dept_admin, c.id)
        after = load(world, c.id)
        assert (after.holder, after.status) == (before.holder, before.status)


# --- command line -----------------------------------------------------------------------------

def test_cli_lost_revoke_review_and_overdue_job(world, licence, annual):
    a = effective(world, licence, 1)
    b = effective(world, annual, 2, next_review_due="2024-06-01")
    data_dir = str(world.platform.settings.data_dir)
    runner = CliRunner()

    def run(*args):
        return runner.invoke(cli, ["--data-dir", data_dir, "lifecycle", *args])

    r = run("lost", a.identifier, "--reason", "遗失")
    assert r.exit_code == 0 and f"{a.identifier}: lost" in r.output, r.output
    r = run("revoke", str(a.id), "--reason", "注销")
    assert r.exit_code == 0 and "revoked" in r.output, r.output
    r = run("revoke", a.identifier, "--reason", "again")
    assert r.exit_code == 1 and "a revoked certificate is final" in r.output
    r = run("lost", "1.2.156.3005.2.NOPE", "--reason", "x")
    assert r.exit_code == 1 and "not found" in r.output
    r = run("mark-overdue")
    assert r.exit_code == 0 and "marked 1 certificate(s)" in r.output
    assert load(world, b.id).status is S.REVIEW_OVERDUE
    r = run("mark-overdue")
    assert r.exit_code == 0 and "marked 0" in r.output
    r = run("review", b.identifier, "--next-due", "2000-01-01")
    assert r.exit_code == 1 and "after today" in r.output
    r = run("review", b.identifier, "--next-due", "not-a-date")
    assert r.exit_code == 2
    due = (TODAY + timedelta(days=365)).isoformat()
    r = run("review", b.identifier, "--next-due", due)
    assert r.exit_code == 0 and f"effective, next review due {due}" in r.output, r.output
    drain(world)
    assert_ledger_matches_db(world, a, b)
    assert ledger_status(world, load(world, b.id)).next_review_due.isoformat() == due
    assert [e.actor for e in world.platform.ledger.history(a.identifier)[1:]] == ["cli", "cli"]


def test_copy_signed_with_the_department_identity_is_checked_against_its_ca_certificate(world, copyable):
    from certledger.crypto import x509 as X

    c = effective(world, copyable)
    with world.uow() as uow:
        signer, cert_der = lifecycle.department_signer(uow, world.platform.ca, world.dept.id)
        copy = lifecycle.make_copy(uow, world.clerk, c.id, signer, "办理许可延续", 15)
        uow.commit()
    ca = world.platform.ca
    assert X.signed_by(X.load(cert_der), X.public_key_der(ca.certificate))  # the maker key is vouched for by the CA
    with world.uow() as uow:
        stored = uow.session.get(CertificateCopy, copy.id)
        assert lifecycle.verify_copy(uow, stored, lifecycle.trusted_key_of(cert_der)).valid
        again, _ = lifecycle.department_signer(uow, ca, world.dept.id)  # the same identity is reused
        assert again.public_key_der() == signer.public_key_der()
