import pytest

from issuance import accounts, approval, departments
from issuance.errors import Conflict, IllegalTransition, PermissionDenied, ValidationError
from issuance.models.org import ReviewState
from tests.conftest import PASSWORD


def applicant(world, name="newcomer"):
    with world.uow() as uow:
        accounts.create_user(uow, world.admin, world.platform.policy, name, PASSWORD)
        uow.commit()
    return world.actor(name)


def test_onboarding_needs_admin_approval_and_rejection_can_be_resubmitted(world):
    head = applicant(world)
    with world.uow() as uow:
        d = departments.apply(uow, head, name="牡丹江市卫生健康委员会", code="11231000MB0000009Y", region_code="231000")
        uow.commit()
    assert d.status is ReviewState.SUBMITTED
    with world.uow() as uow:
        with pytest.raises(PermissionDenied):
            departments.review(uow, world.dept_admin, d.id, True)
        with pytest.raises(ValidationError, match="reason"):
            departments.review(uow, world.admin, d.id, False)
        departments.review(uow, world.admin, d.id, False, "进驻登记表缺少盖章")
        uow.commit()
    head = world.actor("newcomer")
    with world.uow() as uow:
        assert departments.get(uow, head, d.id).status is ReviewState.REJECTED
        departments.resubmit(uow, head, d.id, contact_name="王五")
        departments.review(uow, world.admin, d.id, True)
        uow.commit()
        hist = [(r.action, r.to_state, r.reason) for r in approval.history(uow.session, "department", d.id)]
    assert hist == [("submit", "submitted", ""), ("reject", "rejected", "进驻登记表缺少盖章"),
                    ("submit", "submitted", ""), ("approve", "approved", "")]
    assert world.actor("newcomer").roles == {"dept_admin"}


def test_a_department_works_only_once_approved(world):
    """Its applicant holds no working role until the admin approves: no types, no seals, no entries."""
    from issuance import cert_types
    from tests.helpers import SAMPLE

    head = applicant(world)
    with world.uow() as uow:
        d = departments.apply(uow, head, name="鸡西市市场监督管理局", code="11230300MB0000003Z", region_code="230300")
        uow.commit()
    head = world.actor("newcomer")
    assert head.department_id == d.id and head.roles == frozenset()
    with world.uow() as uow:
        with pytest.raises(PermissionDenied):
            cert_types.create(uow, head, **cert_types.from_sample(SAMPLE, "LIC0009"))
        departments.update(uow, head, d.id, contact_name="赵六")  # the application itself stays editable
        uow.commit()
    with world.uow() as uow:
        departments.review(uow, world.admin, d.id, True)
        uow.commit()
    assert world.actor("newcomer").roles == {"dept_admin"}


def test_approving_twice_is_an_illegal_transition(world):
    with world.uow() as uow:
        with pytest.raises(IllegalTransition, match="not waiting for a review"):
            departments.review(uow, world.admin, world.dept.id, True)


def test_validation_and_duplicates(world):
    head = applicant(world)
    with world.uow() as uow:
        with pytest.raises(ValidationError) as e:
            departments.apply(uow, head, name="", code="bad code!", region_code="99")
        assert set(e.value.errors) == {"name", "code", "region_code"}
        with pytest.raises(Conflict):
            departments.apply(uow, head, name="x", code=world.dept.code, region_code="230100")


def test_only_own_department_is_editable_and_admin_deletes(world):
    other, other_admin = world.add_department("大庆市市场监督管理局", "11230600MB0000002X", "230600")
    with world.uow() as uow:
        with pytest.raises(PermissionDenied):
            departments.update(uow, other_admin, world.dept.id, name="x")
        departments.update(uow, world.dept_admin, world.dept.id, contact_phone="0451-88888888")
        with pytest.raises(PermissionDenied):
            departments.delete(uow, world.dept_admin, other.id)
        departments.delete(uow, world.admin, other.id)
        uow.commit()
    with world.uow() as uow:
        page = departments.search(uow, world.clerk, text="大庆")
        assert page.total == 0
        assert departments.search(uow, world.clerk, status="approved").total == 1
