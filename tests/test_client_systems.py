"""Client systems (系统清单): registration, IP binding, the admin's review, AccountId and its checks."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from issuance import approval, client_systems as cs_service
from issuance.client_systems import AccessReason, AccessRefused
from issuance.errors import (AuthenticationFailed, Conflict, IllegalTransition, NotFound, PermissionDenied,
                             ValidationError)
from issuance.models import AuditEntry, ClientSystem, Department
from issuance.models.org import ReviewState as R


def committed(world, action, *args, **kwargs):
    """``action`` in a unit of work of its own, committed; a returned row is loaded and detached."""
    with world.uow() as uow:
        result = action(uow, *args, **kwargs)
        uow.commit()
        if isinstance(result, ClientSystem):
            uow.session.refresh(result)
            uow.session.expunge(result)
        return result


def register(world, actor, name="业务办理系统", ips=("10.0.0.1",), **kw) -> ClientSystem:
    return committed(world, cs_service.register, actor, name, list(ips), **kw)


def approved(world, actor=None, name="业务办理系统", ips=("10.0.0.1",)) -> ClientSystem:
    cs = register(world, actor or world.clerk, name, ips)
    return committed(world, cs_service.review, world.admin, cs.id, True)


def authenticate(world, account_id, ip) -> int:
    """The id of the system ``authenticate`` accepted."""
    with world.uow() as uow:
        return cs_service.authenticate(uow.session, account_id, ip).id


def refusal(world, account_id, ip) -> AccessReason:
    with pytest.raises(AccessRefused) as err:
        authenticate(world, account_id, ip)
    return err.value.reason


@pytest.fixture
def other(world):
    """A second department with its own admin and clerk."""
    dept, head = world.add_department("哈尔滨市公安局", "11230100MB0000002X")
    return dept, head, world.add_user("clerk_other", "clerk", dept.id)


# --- IP addresses -------------------------------------------------------------------------------

@pytest.mark.parametrize("given, expected", [
    (" 10.0.0.1 ", "10.0.0.1"),
    ("2001:DB8:0:0::1", "2001:db8::1"),
    ("::ffff:192.168.1.20", "192.168.1.20"),   # what a dual-stack socket reports for an IPv4 client
    ("::1", "::1"),
])
def test_addresses_are_normalised(given, expected):
    assert cs_service.normalise_ip(given) == expected


@pytest.mark.parametrize("bad", ["999.1.1.1", "10.0.0.0/24", "fe80::1%eth0", "0.0.0.0", "::", "224.0.0.1",
                                 "ff02::1", "host.example", "10.0.0", "1.2.3.4; DROP TABLE"])
def test_bad_addresses_are_refused(world, bad):
    with world.uow() as uow, pytest.raises(ValidationError) as err:
        cs_service.register(uow, world.clerk, "系统", [bad])
    assert "ips" in err.value.errors


def test_address_list_rules(world):
    assert cs_service.parse_ips("10.0.0.1, 10.0.0.2\n10.0.0.3；10.0.0.1") == ["10.0.0.1", "10.0.0.2", "10.0.0.3"]
    assert cs_service.parse_ips(["2001:db8::1", "2001:DB8::1"]) == ["2001:db8::1"]
    with pytest.raises(ValidationError, match="at least one"):
        cs_service.parse_ips([])
    with pytest.raises(ValidationError, match="at least one"):
        cs_service.parse_ips(" , ")
    twenty = [f"10.0.1.{i}" for i in range(1, 21)]
    assert len(cs_service.parse_ips(twenty)) == 20
    with pytest.raises(ValidationError, match="at most 20"):
        cs_service.parse_ips([*twenty, "10.0.1.21"])


# --- registration and roles ---------------------------------------------------------------------

def test_clerk_registers_for_own_department_and_it_waits_for_the_admin(world):
    cs = register(world, world.clerk, " 业务办理系统 ", ["10.0.0.1", "::ffff:10.0.0.2", "10.0.0.1"],
                  description="窗口受理")
    assert cs.department_id == world.dept.id and cs.tenant_id == world.tenant_id
    assert cs.name == "业务办理系统" and cs.ips == ["10.0.0.1", "10.0.0.2"]
    assert cs.status is R.SUBMITTED and cs.account_id is None
    with world.uow() as uow:
        hist = approval.history(uow.session, "client_system", cs.id)
        assert [(h.action, h.to_state) for h in hist] == [("submit", "submitted")]
        actions = uow.session.execute(select(AuditEntry.action).where(
            AuditEntry.subject_kind == "client_system", AuditEntry.subject_id == cs.id)).scalars().all()
        assert actions == ["client_system.register", "client_system.submit"]


def test_who_may_register(world, other):
    odept, ohead, oclerk = other
    with world.uow() as uow:
        with pytest.raises(PermissionDenied):
            cs_service.register(uow, world.reviewer, "系统", ["10.0.0.1"])
        with pytest.raises(PermissionDenied):  # not for another department
            cs_service.register(uow, oclerk, "系统", ["10.0.0.1"], department_id=world.dept.id)
        with pytest.raises(PermissionDenied):  # the admin has no department of their own
            cs_service.register(uow, world.admin, "系统", ["10.0.0.1"])
        by_head = cs_service.register(uow, world.dept_admin, "系统一", ["10.0.0.1"])
        by_admin = cs_service.register(uow, world.admin, "系统二", ["10.0.0.2"], department_id=odept.id)
        assert by_head.department_id == world.dept.id and by_admin.department_id == odept.id
        with pytest.raises(Conflict):
            cs_service.register(uow, world.clerk, "系统一", ["10.0.0.9"])
        cs_service.register(uow, oclerk, "系统一", ["10.0.0.9"])  # names are per department
        with pytest.raises(ValidationError, match="name"):
            cs_service.register(uow, world.clerk, "  ", ["10.0.0.9"])


def test_admin_reviews_and_the_account_id_is_issued_once(world):
    cs = register(world, world.clerk)
    with world.uow() as uow:
        with pytest.raises(PermissionDenied):
            cs_service.review(uow, world.dept_admin, cs.id, True)
        with pytest.raises(ValidationError, match="reason"):
            cs_service.review(uow, world.admin, cs.id, False, "  ")
    rejected = committed(world, cs_service.review, world.admin, cs.id, False, "IP 不属于本部门")
    assert rejected.status is R.REJECTED and rejected.account_id is None
    with world.uow() as uow, pytest.raises(IllegalTransition):
        cs_service.review(uow, world.admin, cs.id, True)  # not waiting any more
    again = committed(world, cs_service.update, world.clerk, cs.id, ips="10.0.0.5")
    assert again.status is R.SUBMITTED
    ok = committed(world, cs_service.review, world.admin, cs.id, True)
    assert ok.status is R.APPROVED and re.fullmatch(r"[0-9A-F]{32}", ok.account_id)
    second = approved(world, name="另一系统", ips=("10.0.0.6",))
    assert second.account_id != ok.account_id
    with world.uow() as uow:
        hist = approval.history(uow.session, "client_system", cs.id)
        assert [(h.action, h.reason) for h in hist] == [
            ("submit", ""), ("reject", "IP 不属于本部门"), ("submit", ""), ("approve", "")]
        assert uow.session.execute(select(AuditEntry).where(
            AuditEntry.action == "client_system.account_issued", AuditEntry.subject_id == cs.id)).scalar_one()


def test_update_of_an_approved_system_goes_back_to_review_and_keeps_its_account(world):
    cs = approved(world)
    account = cs.account_id
    assert authenticate(world, account, "10.0.0.1") == cs.id
    assert committed(world, cs_service.update, world.clerk, cs.id, ips=["10.0.0.1"]).status is R.APPROVED  # no change
    changed = committed(world, cs_service.update, world.clerk, cs.id, ips=["10.0.0.1", "10.0.0.2"])
    assert changed.status is R.SUBMITTED and changed.account_id == account
    assert refusal(world, account, "10.0.0.1") is AccessReason.NOT_APPROVED
    # edited again while waiting: in place, still one pending review
    committed(world, cs_service.update, world.clerk, cs.id, name="新名称", description="说明")
    with world.uow() as uow:
        actions = [h.action for h in approval.history(uow.session, "client_system", cs.id)]
        assert actions == ["submit", "approve", "submit"]
    back = committed(world, cs_service.review, world.admin, cs.id, True)
    assert back.account_id == account and back.name == "新名称"
    assert authenticate(world, account, "10.0.0.2") == cs.id


def test_department_isolation(world, other):
    odept, ohead, oclerk = other
    mine = register(world, world.clerk, "本部门系统")
    theirs = register(world, oclerk, "外部门系统")
    with world.uow() as uow:
        for action in (lambda: cs_service.get(uow, world.clerk, theirs.id),
                       lambda: cs_service.update(uow, world.clerk, theirs.id, name="x"),
                       lambda: cs_service.disable(uow, world.dept_admin, theirs.id),
                       lambda: cs_service.delete(uow, world.clerk, theirs.id)):
            with pytest.raises(NotFound):
                action()
        assert cs_service.get(uow, world.admin, theirs.id).id == theirs.id
        assert [c.id for c in cs_service.search(uow, world.clerk).items] == [mine.id]
        assert [c.id for c in cs_service.search(uow, oclerk).items] == [theirs.id]
        assert {c.id for c in cs_service.search(uow, world.admin).items} == {mine.id, theirs.id}
        assert [c.id for c in cs_service.search(uow, world.admin, department_id=odept.id).items] == [theirs.id]
        # a non-admin's department_id filter cannot widen the view
        assert [c.id for c in cs_service.search(uow, world.clerk, department_id=odept.id).items] == [mine.id]


def test_search_filters_and_pages(world):
    a = approved(world, name="甲系统", ips=("10.0.0.1",))
    b = register(world, world.clerk, "乙系统", ["10.0.0.2"])
    with world.uow() as uow:
        page = cs_service.search(uow, world.clerk, size=1, sort="name")
        assert page.total == 2 and page.pages == 2 and len(page.items) == 1
        assert [c.id for c in cs_service.search(uow, world.clerk, status="approved").items] == [a.id]
        assert [c.id for c in cs_service.search(uow, world.clerk, text="乙").items] == [b.id]
        assert [c.id for c in cs_service.search(uow, world.clerk, text=a.account_id[:8].lower()).items] == [a.id]
        with pytest.raises(ValidationError):
            cs_service.search(uow, world.clerk, status="nonsense")


# --- disable, delete ----------------------------------------------------------------------------

def test_disable_stops_the_account_and_reapproval_issues_a_new_one(world, other):
    cs = approved(world)
    old = cs.account_id
    with world.uow() as uow:
        with pytest.raises(PermissionDenied):
            cs_service.disable(uow, world.clerk, cs.id)
        with pytest.raises(PermissionDenied):
            cs_service.disable(uow, world.reviewer, cs.id)
    off = committed(world, cs_service.disable, world.dept_admin, cs.id, "停用")
    assert off.status is R.DISABLED
    assert refusal(world, old, "10.0.0.1") is AccessReason.DISABLED
    with world.uow() as uow, pytest.raises(IllegalTransition, match="already disabled"):
        cs_service.disable(uow, world.admin, cs.id)
    with world.uow() as uow:
        assert [h.action for h in approval.history(uow.session, "client_system", cs.id)][-1] == "disable"
    assert committed(world, cs_service.update, world.clerk, cs.id).status is R.DISABLED  # nothing changed
    assert committed(world, cs_service.resubmit, world.clerk, cs.id).status is R.SUBMITTED
    with world.uow() as uow, pytest.raises(IllegalTransition):
        cs_service.resubmit(uow, world.clerk, cs.id)  # already waiting
    new = committed(world, cs_service.review, world.admin, cs.id, True)
    assert new.account_id != old and not new.rotate_account
    assert refusal(world, old, "10.0.0.1") is AccessReason.UNKNOWN_ACCOUNT
    assert authenticate(world, new.account_id, "10.0.0.1") == cs.id
    # the platform admin may disable any department's system
    _odept, _ohead, oclerk = other
    theirs = approved(world, oclerk, "外部门系统")
    assert committed(world, cs_service.disable, world.admin, theirs.id).status is R.DISABLED


def test_only_a_system_that_never_had_an_account_can_be_deleted(world):
    pending = register(world, world.clerk, "待审系统")
    live = approved(world, name="在用系统", ips=("10.0.0.3",))
    with world.uow() as uow:
        with pytest.raises(Conflict, match="disable"):
            cs_service.delete(uow, world.clerk, live.id)
        with pytest.raises(PermissionDenied):
            cs_service.delete(uow, world.reviewer, pending.id)
        cs_service.delete(uow, world.clerk, pending.id)
        uow.commit()
    with world.uow() as uow:
        assert uow.session.get(ClientSystem, pending.id) is None


# --- authenticate -------------------------------------------------------------------------------

def test_authenticate_reasons(world):
    cs = approved(world, ips=("10.0.0.1", "2001:db8::7"))
    acc = cs.account_id
    assert authenticate(world, acc, "10.0.0.1") == cs.id
    assert authenticate(world, acc.lower(), " 10.0.0.1") == cs.id          # case of the account id
    assert authenticate(world, acc, "::ffff:10.0.0.1") == cs.id           # IPv4 through a dual-stack socket
    assert authenticate(world, acc, "2001:DB8:0::7") == cs.id             # IPv6 spelled otherwise
    assert refusal(world, "0" * 32, "10.0.0.1") is AccessReason.UNKNOWN_ACCOUNT
    assert refusal(world, "not-an-account", "10.0.0.1") is AccessReason.UNKNOWN_ACCOUNT
    assert refusal(world, "", "10.0.0.1") is AccessReason.UNKNOWN_ACCOUNT
    assert refusal(world, acc, "10.0.0.2") is AccessReason.IP_NOT_BOUND
    assert refusal(world, acc, "garbage") is AccessReason.IP_NOT_BOUND
    assert refusal(world, acc, "") is AccessReason.IP_NOT_BOUND
    # rejected after a change: not approved
    committed(world, cs_service.update, world.clerk, cs.id, ips=["10.0.0.9"])
    committed(world, cs_service.review, world.admin, cs.id, False, "不认可")
    assert refusal(world, acc, "10.0.0.9") is AccessReason.NOT_APPROVED


def test_a_system_of_a_department_no_longer_active_is_refused(world):
    cs = approved(world)
    with world.uow() as uow:
        uow.session.get(Department, world.dept.id).status = R.DISABLED
        uow.commit()
    assert refusal(world, cs.account_id, "10.0.0.1") is AccessReason.NOT_APPROVED


def test_refusal_is_a_domain_error_with_a_stable_code(world):
    with pytest.raises(AccessRefused) as err:
        authenticate(world, "F" * 32, "10.0.0.1")
    assert err.value.code == "access_refused" and "unknown" in err.value.message
    assert isinstance(err.value, AuthenticationFailed)
