import pytest
from sqlalchemy import func, select, text

from issuance import approval, certificates
from issuance.certificates import Entry
from issuance.errors import Conflict, IllegalTransition, NotFound, PermissionDenied, ValidationError
from issuance.models import Certificate, CertificateStatus as S
from issuance import identifiers

from tests.helpers import approved_licence_type, basic, licence_values


def enter(world, t, seed=1, **over):
    with world.uow() as uow:
        c = certificates.enter(uow, world.clerk, t.id, basic(seed, **over), licence_values())
        uow.commit()
        return c


def test_entry_assigns_a_valid_identifier_and_encrypts_at_rest(world):
    t = approved_licence_type(world)
    c = enter(world, t)
    assert c.status is S.DRAFT
    ident = identifiers.parse(c.identifier)
    assert ident.type_code == t.code and ident.issuer_code == world.dept.code and ident.version == "001"
    with world.uow() as uow:
        raw = uow.session.execute(text("select data_enc, holder_code_enc from certificates")).one()
        assert "张三" not in raw[0] and basic(1)["holder_code"] not in raw[1]
        stored = uow.session.get(Certificate, c.id)
        assert certificates.values_of(uow, stored)["name"] == "张三"
        assert certificates.holder_code_of(uow, stored) == basic(1)["holder_code"]
        found = certificates.search(uow, world.clerk, holder_code=basic(1)["holder_code"].lower())
        assert [x.id for x in found.items] == [c.id]


def test_serials_increase(world):
    t = approved_licence_type(world)
    a, b = enter(world, t, 1), enter(world, t, 2)
    assert identifiers.parse(b.identifier).serial == "0000002"
    assert a.identifier != b.identifier


@pytest.mark.parametrize("over, values, key", [
    ({"holder": ""}, None, "holder"),
    ({"holder_code": "91230199MA1BXXXX0Z"}, None, "holder_code"),
    ({"issue_date": "2024-13-01"}, None, "issue_date"),
    ({"valid_to": "2020-01-01"}, None, "valid_to"),
    ({"area_code": "12"}, None, "area_code"),
    ({"matter_code": "NOPE"}, None, "matter_code"),
    ({"colour": "red"}, None, "colour"),
    ({}, {"opscope": ""}, "opscope"),
    ({}, {"ENTNAME": "第一行\n第二行"}, "ENTNAME"),
    ({}, {"unknown_col": "x"}, "unknown_col"),
])
def test_wrong_values_are_refused_by_field(world, over, values, key):
    t = approved_licence_type(world)
    vals = {**licence_values(), **(values or {})}
    with world.uow() as uow:
        with pytest.raises(ValidationError) as e:
            certificates.enter(uow, world.clerk, t.id, basic(1, **over), vals)
    assert key in e.value.errors
    with world.uow() as uow:
        assert uow.session.execute(select(func.count()).select_from(Certificate)).scalar() == 0


def test_chinese_dates_of_the_standard_are_accepted(world):
    t = approved_licence_type(world)
    c = enter(world, t, issue_date="1995年3月1日", valid_to="2045年3月1日")
    assert c.issue_date.isoformat() == "1995-03-01" and c.valid_to.isoformat() == "2045-03-01"


def test_batch_is_all_or_nothing_with_every_row_reported(world):
    t = approved_licence_type(world)
    entries = [Entry(basic(i), licence_values()) for i in range(1, 6)]
    entries[1] = Entry(basic(2, holder=""), licence_values())
    entries[3] = Entry(basic(4, number=basic(1)["number"]), licence_values())
    with world.uow() as uow:
        with pytest.raises(ValidationError) as e:
            certificates.enter_many(uow, world.clerk, t.id, entries)
    assert set(e.value.errors) == {"row 2: holder", "row 4: number"}
    with world.uow() as uow:
        assert uow.session.execute(select(func.count()).select_from(Certificate)).scalar() == 0
    good = [Entry(basic(i), licence_values()) for i in range(1, 6)]
    with world.uow() as uow:
        certs = certificates.enter_many(uow, world.clerk, t.id, good)
        uow.commit()
    assert len({c.identifier for c in certs}) == 5


def test_duplicate_certificate_number_is_a_conflict_per_type(world):
    t = approved_licence_type(world)
    enter(world, t, 1)
    with world.uow() as uow:
        with pytest.raises(ValidationError, match="already exists"):
            certificates.enter(uow, world.clerk, t.id, basic(1), licence_values())


def test_duplicate_identifier_is_refused_by_the_database(world):
    t = approved_licence_type(world)
    c = enter(world, t, 1)
    from sqlalchemy.exc import IntegrityError

    with world.uow() as uow:
        other = enter(world, t, 2)
        row = uow.session.get(Certificate, other.id)
        row.identifier = c.identifier
        with pytest.raises(IntegrityError):
            uow.session.flush()


def test_review_flow_with_reject_back_to_previous_step_and_history(world):
    t = approved_licence_type(world)
    c = enter(world, t)
    with world.uow() as uow:
        certificates.submit(uow, world.clerk, c.id)
        uow.commit()
    with world.uow() as uow:
        with pytest.raises(ValidationError, match="reason"):
            certificates.review_entry(uow, world.reviewer, c.id, False, "  ")
        certificates.review_entry(uow, world.reviewer, c.id, False, "持证主体名称有误")
        uow.commit()
    with world.uow() as uow:
        assert uow.session.get(Certificate, c.id).status is S.DRAFT
        certificates.update(uow, world.clerk, c.id, basic={"holder": "企业一"})
        certificates.submit(uow, world.clerk, c.id)
        certificates.review_entry(uow, world.reviewer, c.id, True)
        certificates.review_issuance(uow, world.reviewer, c.id, False, "照面信息待核实")
        uow.commit()
    with world.uow() as uow:
        assert uow.session.get(Certificate, c.id).status is S.SUBMITTED
        certificates.review_entry(uow, world.reviewer, c.id, True)
        certificates.review_issuance(uow, world.reviewer, c.id, True)
        uow.commit()
    with world.uow() as uow:
        cert = uow.session.get(Certificate, c.id)
        assert cert.status is S.ISSUING and cert.holder == "企业一"
        steps = [(r.step, r.action, r.from_state, r.to_state) for r in approval.history(uow.session, "certificate", c.id)]
    assert steps == [
        ("entry_review", "submit", "draft", "submitted"),
        ("entry_review", "reject", "submitted", "draft"),
        ("entry_review", "submit", "draft", "submitted"),
        ("entry_review", "approve", "submitted", "approved"),
        ("issuance_review", "reject", "approved", "submitted"),
        ("entry_review", "approve", "submitted", "approved"),
        ("issuance_review", "approve", "approved", "issuing"),
    ]


def test_clerk_cannot_review_and_reviewer_of_other_department_cannot_either(world):
    t = approved_licence_type(world)
    c = enter(world, t)
    other_dept, other_admin = world.add_department("大庆市市场监督管理局", "11230600MB0000002X", "230600")
    other_reviewer = world.add_user("reviewer2", "reviewer", other_dept.id)
    with world.uow() as uow:
        certificates.submit(uow, world.clerk, c.id)
        uow.commit()
    with world.uow() as uow:
        with pytest.raises(PermissionDenied):
            certificates.review_entry(uow, world.clerk, c.id, True)
        with pytest.raises(NotFound):
            certificates.review_entry(uow, other_reviewer, c.id, True)


def test_batch_review_decides_all_or_none_with_one_record_each(world):
    from issuance import audit
    from issuance.models import AuditEntry

    t = approved_licence_type(world)
    ids = [enter(world, t, seed).id for seed in range(1, 6)]
    with world.uow() as uow:
        certificates.submit_many(uow, world.clerk, ids)
        certificates.review_many(uow, world.reviewer, ids[:2], certificates.ENTRY_REVIEW, True)
        uow.commit()
    # a batch with one certificate in another step is refused whole: nothing moves
    with world.uow() as uow:
        with pytest.raises(IllegalTransition, match="not waiting for entry review"):
            certificates.review_many(uow, world.reviewer, ids, certificates.ENTRY_REVIEW, True)
    with world.uow() as uow:
        assert [uow.session.get(Certificate, i).status for i in ids] == [S.APPROVED] * 2 + [S.SUBMITTED] * 3
        with pytest.raises(ValidationError, match="reason"):
            certificates.review_many(uow, world.reviewer, ids[2:], certificates.ENTRY_REVIEW, False, " ")
        with pytest.raises(ValidationError, match="stage"):
            certificates.review_many(uow, world.reviewer, ids[2:], "final_review", True)
        certificates.review_many(uow, world.reviewer, ids[2:], certificates.ENTRY_REVIEW, False, "材料不全")
        certificates.review_many(uow, world.reviewer, ids[:2], certificates.ISSUANCE_REVIEW, True)
        uow.commit()
    with world.uow() as uow:
        assert [uow.session.get(Certificate, i).status for i in ids] == [S.ISSUING] * 2 + [S.DRAFT] * 3
        for i in ids[2:]:
            last = approval.history(uow.session, "certificate", i)[-1]
            assert (last.action, last.reason, last.from_state, last.to_state) == ("reject", "材料不全", "submitted", "draft")
        assert audit.verify_chain(uow.session).ok
        rejects = uow.session.scalars(select(AuditEntry.subject_id).where(AuditEntry.action == "certificate.reject")).all()
        assert sorted(rejects) == sorted(ids[2:])


def test_batch_review_keeps_department_isolation_and_roles(world):
    t = approved_licence_type(world)
    ids = [enter(world, t, seed).id for seed in (1, 2)]
    other_dept, _ = world.add_department("大庆市市场监督管理局", "11230600MB0000002X", "230600")
    other_reviewer = world.add_user("reviewer2", "reviewer", other_dept.id)
    with world.uow() as uow:
        with pytest.raises(PermissionDenied):
            certificates.submit_many(uow, world.reviewer, ids)
        certificates.submit_many(uow, world.clerk, ids)
        uow.commit()
    with world.uow() as uow:
        with pytest.raises(NotFound):
            certificates.review_many(uow, other_reviewer, ids, certificates.ENTRY_REVIEW, True)
        with pytest.raises(PermissionDenied):
            certificates.review_many(uow, world.clerk, ids, certificates.ENTRY_REVIEW, True)
        with pytest.raises(NotFound):
            certificates.review_many(uow, world.reviewer, ids + [999_999], certificates.ENTRY_REVIEW, True)
    with world.uow() as uow:
        assert {uow.session.get(Certificate, i).status for i in ids} == {S.SUBMITTED}


@pytest.mark.parametrize("start, target", [
    (S.DRAFT, S.EFFECTIVE), (S.DRAFT, S.APPROVED), (S.SUBMITTED, S.ISSUING), (S.EFFECTIVE, S.DRAFT),
    (S.REVOKED, S.EFFECTIVE), (S.SUPERSEDED, S.LOST), (S.LOST, S.EFFECTIVE), (S.ISSUING, S.REVOKED),
])
def test_illegal_transitions_are_refused(world, start, target):
    t = approved_licence_type(world)
    c = enter(world, t)
    with world.uow() as uow:
        cert = uow.session.get(Certificate, c.id)
        cert.status = start
        uow.session.flush()
        with pytest.raises(IllegalTransition) as e:
            certificates.change_status(uow, world.dept_admin, cert, target, "test", "test")
        assert start.value in str(e.value) and target.value in str(e.value)


def test_legal_lifecycle_transitions(world):
    t = approved_licence_type(world)
    c = enter(world, t)
    with world.uow() as uow:
        cert = uow.session.get(Certificate, c.id)
        cert.status = S.EFFECTIVE
        certificates.change_status(uow, world.dept_admin, cert, S.REVIEW_OVERDUE, "past due", "overdue")
        certificates.change_status(uow, world.dept_admin, cert, S.EFFECTIVE, "annual review passed", "annual_review")
        certificates.change_status(uow, world.dept_admin, cert, S.LOST, "遗失", "report_loss")
        certificates.change_status(uow, world.dept_admin, cert, S.REVOKED, "注销", "revoke")
        assert cert.status_change_reason == "注销" and cert.status_change_time is not None


def test_issued_certificates_cannot_be_edited_or_deleted(world):
    t = approved_licence_type(world)
    c = enter(world, t)
    with world.uow() as uow:
        uow.session.get(Certificate, c.id).status = S.EFFECTIVE
        uow.commit()
    with world.uow() as uow:
        with pytest.raises(IllegalTransition, match="cannot be edited"):
            certificates.update(uow, world.clerk, c.id, basic={"holder": "x"})
        with pytest.raises(IllegalTransition):
            certificates.delete(uow, world.clerk, c.id)


def test_draft_can_be_deleted(world):
    t = approved_licence_type(world)
    c = enter(world, t)
    with world.uow() as uow:
        certificates.delete(uow, world.clerk, c.id)
        uow.commit()
    with world.uow() as uow:
        assert uow.session.get(Certificate, c.id) is None


def test_department_isolation(world):
    t = approved_licence_type(world)
    c = enter(world, t)
    other_dept, other_admin = world.add_department("大庆市市场监督管理局", "11230600MB0000002X", "230600")
    other_clerk = world.add_user("clerk2", "clerk", other_dept.id)
    with world.uow() as uow:
        with pytest.raises(NotFound):
            certificates.get(uow, other_clerk, c.id)
        assert certificates.search(uow, other_clerk).total == 0
        assert certificates.search(uow, world.clerk).total == 1
        assert certificates.search(uow, world.admin).total == 1
        with pytest.raises(PermissionDenied):
            certificates.enter(uow, other_clerk, t.id, basic(9), licence_values())


def test_type_must_be_approved_before_entry(world):
    from issuance import cert_types
    from tests.helpers import SAMPLE

    with world.uow() as uow:
        t = cert_types.create(uow, world.dept_admin, **cert_types.from_sample(SAMPLE, "DRAFTTYPE1"))
        uow.commit()
    with world.uow() as uow:
        with pytest.raises(ValidationError, match="type review"):
            certificates.enter(uow, world.clerk, t.id, basic(1), licence_values())


def test_annual_review_due_date_defaults_from_interval(world):
    t = approved_licence_type(world, code="ANNUAL01", annual_review=True)
    c = enter(world, t, issue_date="2024-01-31")
    assert c.next_review_due.isoformat() == "2025-01-31"


def test_search_paging_sorting_and_bad_sort(world):
    t = approved_licence_type(world)
    with world.uow() as uow:
        certificates.enter_many(uow, world.clerk, t.id, [Entry(basic(i), licence_values()) for i in range(1, 26)])
        uow.commit()
    with world.uow() as uow:
        page = certificates.search(uow, world.clerk, page=2, size=10, sort="holder")
        assert page.total == 25 and page.pages == 3 and len(page.items) == 10
        assert [c.holder for c in page.items] == sorted(c.holder for c in page.items)
        assert certificates.search(uow, world.clerk, text="企业1%").total == 0  # wildcard escaped
        with pytest.raises(ValidationError):
            certificates.search(uow, world.clerk, sort="data_enc")
