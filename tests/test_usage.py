"""Usage applications (用证申请), the usage list with call parameters, usage records and statistics."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy import select

from certledger.db.base import utcnow
from issuance import approval, catalogs, certificates, client_systems, demo, matters, usage
from issuance.errors import Conflict, IllegalTransition, NotFound, PermissionDenied, ValidationError
from issuance.models import (Certificate, CertificateStatus, CertificateType, ClientSystem, UsageApplication,
                             UsageRecord, UsageStatus as U)

from tests.helpers import approved_licence_type, basic, licence_values

PUB, DEM, NON = "PUBLIC01", "ONDEMAND01", "NOSHARE01"


def committed(world, action, *args, **kwargs):
    """``action`` in a unit of work of its own, committed; a returned row is loaded and detached."""
    with world.uow() as uow:
        result = action(uow, *args, **kwargs)
        uow.commit()
        if isinstance(result, (UsageApplication, ClientSystem)):
            uow.session.refresh(result)
            uow.session.expunge(result)
        return result


def catalog(world, code: str, share: str) -> int:
    """An approved type of the world's department (the issuer) with an approved catalog."""
    t = approved_licence_type(world, code)
    cat = committed(world, catalogs.register, world.dept_admin, t.id, share)
    committed(world, catalogs.review, world.admin, cat.id, True)
    return cat.id


def system(world, clerk, name: str, ips=("10.1.0.1",), approve: bool = True) -> ClientSystem:
    cs = committed(world, client_systems.register, clerk, name, list(ips))
    if approve:
        cs = committed(world, client_systems.review, world.admin, cs.id, True)
    return cs


@dataclass
class Sharing:
    world: object
    pub: int            # catalog ids of the issuer (world.dept)
    dem: int
    non: int
    user_dept: object   # the applying department
    head: object        # its admin
    clerk: object
    reviewer: object
    cs: ClientSystem    # its approved client system


@pytest.fixture
def sh(world) -> Sharing:
    pub, dem, non = catalog(world, PUB, "public"), catalog(world, DEM, "on_demand"), catalog(world, NON, "none")
    dept, head = world.add_department("哈尔滨市公安局", "11230100MB0000002X")
    clerk = world.add_user("clerk_b", "clerk", dept.id)
    reviewer = world.add_user("reviewer_b", "reviewer", dept.id)
    return Sharing(world, pub, dem, non, dept, head, clerk, reviewer, system(world, clerk, "公安业务系统"))


def apply(sh: Sharing, catalog_id: int, actor=None, cs=None, **kw) -> UsageApplication:
    reason = "办理户籍业务需核验营业执照"
    return committed(sh.world, usage.apply, actor or sh.clerk, (cs or sh.cs).id, catalog_id, reason, **kw)


def allowed(world, cs: ClientSystem, code: str) -> int | None:
    with world.uow() as uow:
        found = usage.allowed(uow.session, uow.session.get(ClientSystem, cs.id), code)
        return found.id if found else None


def allowed_codes(world, cs: ClientSystem) -> set[str]:
    with world.uow() as uow:
        return usage.catalogs_allowed(uow.session, uow.session.get(ClientSystem, cs.id))


# --- applying -----------------------------------------------------------------------------------

def test_public_catalog_is_approved_at_once_by_the_system(sh):
    app = apply(sh, sh.pub)
    assert app.status is U.APPROVED and app.decided_at is not None
    assert app.department_id == sh.user_dept.id and app.issuer_department_id == sh.world.dept.id
    with sh.world.uow() as uow:
        hist = [(h.action, h.to_state, h.actor_id, h.reason) for h in approval.history(uow.session, "usage", app.id)]
    assert [h[:3] for h in hist] == [("submit", "submitted", sh.clerk.user_id), ("approve", "approved", None)]
    assert "社会公示" in hist[1][3]
    assert allowed(sh.world, sh.cs, PUB) == app.id
    assert allowed_codes(sh.world, sh.cs) == {PUB}


def test_on_demand_waits_for_the_issuing_department(sh):
    w = sh.world
    app = apply(sh, sh.dem)
    assert app.status is U.SUBMITTED and allowed(w, sh.cs, DEM) is None
    with w.uow() as uow:
        assert [e.application.id for e in usage.review_list(uow, w.reviewer).items] == [app.id]
        assert [e.application.id for e in usage.review_list(uow, w.admin).items] == [app.id]
        assert usage.review_list(uow, sh.reviewer).items == []          # the applicant does not review
        with pytest.raises(PermissionDenied):
            usage.review_list(uow, w.clerk)                             # a clerk does not review
        with pytest.raises(PermissionDenied):
            usage.review(uow, sh.reviewer, app.id, True)                # the applicant's own reviewer
        with pytest.raises(PermissionDenied):
            usage.review(uow, sh.head, app.id, True)                    # nor its department admin
        with pytest.raises(PermissionDenied):
            usage.review(uow, w.clerk, app.id, True)                    # the issuer's clerk has no review role
        with pytest.raises(ValidationError, match="reason"):
            usage.review(uow, w.reviewer, app.id, False)
    ok = committed(w, usage.review, w.reviewer, app.id, True)
    assert ok.status is U.APPROVED and allowed(w, sh.cs, DEM) == app.id
    with w.uow() as uow:
        assert usage.review_list(uow, w.reviewer).items == []           # nothing waits any more
        decided = usage.review_list(uow, w.reviewer, status="")          # 可查看已审批信息
        assert [(e.application.id, e.department_name) for e in decided.items] == [(app.id, "哈尔滨市公安局")]


def test_rejection_and_applying_again(sh):
    w = sh.world
    app = apply(sh, sh.dem)
    with sh.world.uow() as uow:  # the department admin of the issuer may decide as well
        usage.review(uow, w.dept_admin, app.id, False, "职能不符")
        uow.commit()
    assert allowed(w, sh.cs, DEM) is None
    again = apply(sh, sh.dem)
    assert again.id != app.id and again.status is U.SUBMITTED


def test_not_shared_and_unapproved_catalogs_cannot_be_applied_for(sh):
    w = sh.world
    with w.uow() as uow:
        with pytest.raises(ValidationError, match="不共享") as err:
            usage.apply(uow, sh.clerk, sh.cs.id, sh.non, "需要")
        assert "catalog_id" in err.value.errors
    t = approved_licence_type(w, "PENDING01")
    pending = committed(w, catalogs.register, w.dept_admin, t.id, "public")  # waiting for the admin
    with w.uow() as uow, pytest.raises(ValidationError, match="not approved"):
        usage.apply(uow, sh.clerk, sh.cs.id, pending.id, "需要")
    with w.uow() as uow, pytest.raises(NotFound):
        usage.apply(uow, sh.clerk, sh.cs.id, 999_999, "需要")


def test_application_rules(sh, world):
    w = sh.world
    waiting = system(w, sh.clerk, "待审系统", ("10.1.0.2",), approve=False)
    theirs = system(w, w.clerk, "市场监管系统", ("10.2.0.1",))
    with w.uow() as uow:
        with pytest.raises(PermissionDenied):
            usage.apply(uow, sh.reviewer, sh.cs.id, sh.pub, "需要")          # reviewers do not apply
        with pytest.raises(ValidationError, match="approved system"):
            usage.apply(uow, sh.clerk, waiting.id, sh.pub, "需要")
        with pytest.raises(NotFound):
            usage.apply(uow, sh.clerk, theirs.id, sh.pub, "需要")            # another department's system
        with pytest.raises(ValidationError, match="reason"):
            usage.apply(uow, sh.clerk, sh.cs.id, sh.pub, "  ")
    apply(sh, sh.pub, actor=sh.head)
    with w.uow() as uow, pytest.raises(Conflict):
        usage.apply(uow, sh.clerk, sh.cs.id, sh.pub, "再次申请")
    # another system of the same department may apply for the same catalog
    second = system(w, sh.clerk, "第二系统", ("10.1.0.3",))
    assert apply(sh, sh.pub, cs=second).status is U.APPROVED


def test_matter_is_optional_and_must_be_the_applicants(sh):
    w = sh.world
    own = committed(w, matters.create, sh.clerk, code="GA-001", name="户籍迁入")
    foreign = committed(w, matters.create, w.clerk, code="SC-001", name="企业开办")
    with w.uow() as uow, pytest.raises(ValidationError, match="matter"):
        usage.apply(uow, sh.clerk, sh.cs.id, sh.pub, "需要", matter_id=foreign.id)
    app = apply(sh, sh.pub, matter_id=own.id)
    assert app.matter_id == own.id
    with w.uow() as uow:
        [entry] = usage.usage_list(uow, sh.clerk).items
        assert entry.matter_name == "户籍迁入"


def test_admin_applies_for_a_department(sh):
    app = committed(sh.world, usage.apply, sh.world.admin, sh.cs.id, sh.pub, "代为申请")
    assert app.department_id == sh.user_dept.id and app.status is U.APPROVED


# --- allowed ------------------------------------------------------------------------------------

def test_allowed_covers_only_the_catalogs_type_of_an_approved_system(sh):
    w = sh.world
    app = apply(sh, sh.pub)
    other_system = system(w, sh.clerk, "其他系统", ("10.1.0.9",))
    assert allowed(w, sh.cs, PUB) == app.id
    assert allowed(w, sh.cs, DEM) is None                 # another type
    assert allowed(w, sh.cs, "UNKNOWN") is None
    assert allowed(w, other_system, PUB) is None          # usage is per system
    # the system goes back to review when its IPs change: nothing is allowed meanwhile
    committed(w, client_systems.update, sh.clerk, sh.cs.id, ips=["10.1.0.1", "10.1.0.7"])
    assert allowed(w, sh.cs, PUB) is None and allowed_codes(w, sh.cs) == set()
    committed(w, client_systems.review, w.admin, sh.cs.id, True)
    assert allowed(w, sh.cs, PUB) == app.id
    committed(w, client_systems.disable, sh.head, sh.cs.id)
    assert allowed(w, sh.cs, PUB) is None and allowed_codes(w, sh.cs) == set()


def test_withdrawn_usage_and_disabled_catalog_stop_at_once(sh):
    w = sh.world
    pub, dem = apply(sh, sh.pub), apply(sh, sh.dem)
    committed(w, usage.review, w.reviewer, dem.id, True)
    assert allowed_codes(w, sh.cs) == {PUB, DEM}
    committed(w, usage.withdraw, sh.clerk, pub.id, "不再需要")
    assert allowed(w, sh.cs, PUB) is None and allowed_codes(w, sh.cs) == {DEM}
    committed(w, catalogs.disable, w.dept_admin, sh.dem)
    assert allowed(w, sh.cs, DEM) is None and allowed_codes(w, sh.cs) == set()


def test_withdraw_and_delete(sh):
    w = sh.world
    app = apply(sh, sh.pub)
    pending = apply(sh, sh.dem)
    with w.uow() as uow:
        with pytest.raises(PermissionDenied):
            usage.withdraw(uow, w.dept_admin, app.id)     # the issuer cannot withdraw the applicant's usage
        with pytest.raises(PermissionDenied):
            usage.withdraw(uow, sh.reviewer, app.id)      # role
    committed(w, usage.delete, sh.clerk, app.id)
    committed(w, usage.withdraw, sh.head, pending.id)
    with w.uow() as uow:
        assert uow.session.get(UsageApplication, app.id).status is U.WITHDRAWN
        assert usage.usage_list(uow, sh.clerk).items == []
        withdrawn = usage.usage_list(uow, sh.clerk, status="withdrawn").items
        assert {e.application.id for e in withdrawn} == {app.id, pending.id}
        assert [h.action for h in approval.history(uow.session, "usage", app.id)] == ["submit", "approve", "withdraw"]
        assert usage.review_list(uow, w.reviewer).items == []      # a withdrawn application no longer waits
        with pytest.raises(IllegalTransition):
            usage.withdraw(uow, sh.clerk, app.id)
        with pytest.raises(IllegalTransition):
            usage.review(uow, w.reviewer, pending.id, True)
    assert apply(sh, sh.pub).status is U.APPROVED                  # and may be applied for again


# --- the usage list -----------------------------------------------------------------------------

def test_usage_list_shows_call_parameters_of_approved_usage(sh):
    w = sh.world
    pub, dem = apply(sh, sh.pub), apply(sh, sh.dem)
    mine = system(w, w.clerk, "市场监管系统", ("10.2.0.1",))
    own_use = committed(w, usage.apply, w.clerk, mine.id, sh.dem, "本部门核验")
    with w.uow() as uow:
        page = usage.usage_list(uow, sh.clerk)
        assert page.total == 2
        by_id = {e.application.id: e for e in page.items}
        e = by_id[pub.id]
        assert (e.type_code, e.share_type.value, e.client_system_name, e.issuer_department_name) == \
            (PUB, "public", "公安业务系统", w.dept.name)
        assert e.call == usage.CallParameters(sh.cs.account_id, usage.INTERFACES, (PUB,), ("10.1.0.1",))
        assert "Retrieval" in e.call.interfaces and "Token" not in e.call.interfaces
        assert by_id[dem.id].call is None                                  # waiting: no parameters yet
        assert usage.call_parameters(uow, sh.clerk, pub.id).account_id == sh.cs.account_id
        with pytest.raises(ValidationError):
            usage.call_parameters(uow, sh.clerk, dem.id)
        with pytest.raises(NotFound):                                      # the issuer sees the application,
            usage.call_parameters(uow, w.reviewer, pub.id)                 # not the applicant's AccountId
        assert usage.get(uow, w.reviewer, pub.id).id == pub.id
        assert [e.application.id for e in usage.usage_list(uow, w.clerk).items] == [own_use.id]
        assert {e.application.id for e in usage.usage_list(uow, w.admin).items} == {pub.id, dem.id, own_use.id}
        assert [e.application.id for e in usage.usage_list(uow, sh.clerk, text="ONDEMAND").items] == [dem.id]
        assert [e.application.id for e in usage.usage_list(uow, sh.clerk, status="approved").items] == [pub.id]
        assert usage.usage_list(uow, sh.clerk, size=1).pages == 2


def test_applications_of_other_departments_are_not_found(sh, world):
    third, third_head = world.add_department("哈尔滨市税务局", "11230100MB0000003X")
    app = apply(sh, sh.pub)
    with world.uow() as uow:
        with pytest.raises(NotFound):
            usage.get(uow, third_head, app.id)
        with pytest.raises(NotFound):
            usage.withdraw(uow, third_head, app.id)


# --- records and statistics ---------------------------------------------------------------------

def issued_certificates(world, type_code: str, n: int) -> list[Certificate]:
    """``n`` certificates of the type, entered and set effective directly (counting needs no pipeline)."""
    with world.uow() as uow:
        t = uow.session.execute(select(CertificateType).where(CertificateType.code == type_code)).scalar_one()
        certs = [certificates.enter(uow, world.clerk, t.id, basic(100 + i), licence_values()) for i in range(n)]
        for c in certs:
            c.status = CertificateStatus.EFFECTIVE
        uow.commit()
        for c in certs:
            uow.session.refresh(c)
            uow.session.expunge(c)
        return certs


def test_records_are_isolated_and_never_hold_a_holder_code(sh, world):
    w = sh.world
    apply(sh, sh.pub)
    [cert] = issued_certificates(w, PUB, 1)
    third, third_head = w.add_department("哈尔滨市税务局", "11230100MB0000003X")
    third_clerk = w.add_user("clerk_c", "clerk", third.id)
    third_cs = system(w, third_clerk, "税务系统", ("10.3.0.1",))
    holder = basic(100)["holder_code"]
    with w.uow() as uow:
        index = uow.cipher.blind_index(holder)
        cs = uow.session.get(ClientSystem, sh.cs.id)
        tcs = uow.session.get(ClientSystem, third_cs.id)
        usage.record_call(uow.session, "GetCertificateDataByCertificateID", "0", cs.account_id, "10.1.0.1", cs,
                          certificate_identifier=cert.identifier, type_code=PUB, duration_ms=12)
        usage.record_call(uow.session, "GetCertificateDataByHolder", "0", cs.account_id, "10.1.0.1", cs,
                          holder_code_index=index, type_code=PUB)
        usage.record_call(uow.session, "GetCertificateType", "0", tcs.account_id, "10.3.0.1", tcs)
        usage.record_call(uow.session, "Token", "1101", "X" * 500, "10.9.9.9", message="账号不存在" * 500)
        uow.commit()
    with w.uow() as uow:
        rows = uow.session.execute(select(UsageRecord)).scalars().all()
        assert len(rows) == 4 and all(holder not in (r.holder_code_index or "") for r in rows)
        assert any(r.holder_code_index == index for r in rows)
        unknown = next(r for r in rows if r.result_code == "1101")
        assert unknown.tenant_id is None and len(unknown.account_id) == 64 and len(unknown.message) == 1000

        def seen(actor, **filters):
            return sorted(r.interface for r in usage.records(uow, actor, **filters).items)

        # the caller's department: its own system's calls
        assert seen(sh.clerk) == ["GetCertificateDataByCertificateID", "GetCertificateDataByHolder"]
        # the issuer: the calls that used its certificates (by identifier, and by its type's code)
        assert seen(w.reviewer) == ["GetCertificateDataByCertificateID", "GetCertificateDataByHolder"]
        # an unrelated department: its own calls only
        assert seen(third_clerk) == ["GetCertificateType"]
        # the admin: everything, including calls no account could be found for
        assert len(seen(w.admin)) == 4
        assert seen(w.admin, result_code="1101") == ["Token"]
        assert seen(w.reviewer, holder_code=holder.lower()) == ["GetCertificateDataByHolder"]
        assert seen(w.reviewer, certificate_identifier=cert.identifier) == ["GetCertificateDataByCertificateID"]
        assert seen(w.reviewer, department_id=third.id) == []
        assert seen(w.admin, client_system_id=third_cs.id) == ["GetCertificateType"]
        assert seen(w.admin, interface="Token", account_id="x" * 64) == ["Token"]
        assert seen(w.admin, since=utcnow() + timedelta(minutes=5)) == []
        assert seen(w.admin, until=utcnow() + timedelta(minutes=5), type_code=PUB) == \
            ["GetCertificateDataByCertificateID", "GetCertificateDataByHolder"]
        page = usage.records(uow, w.admin, size=3, sort="-at")
        assert page.total == 4 and len(page.items) == 3


def test_stats(sh):
    w = sh.world
    a = apply(sh, sh.pub)
    apply(sh, sh.dem)                                    # waits
    rejected = apply(sh, sh.dem, cs=system(w, sh.clerk, "第二系统", ("10.1.0.3",)))
    committed(w, usage.review, w.reviewer, rejected.id, False, "职能不符")
    committed(w, usage.withdraw, sh.clerk, a.id)
    c1, c2, c3, _c4 = issued_certificates(w, PUB, 4)
    with w.uow() as uow:  # a draft is not issued: it does not count
        draft = certificates.enter(uow, w.clerk, c1.type_id, basic(999), licence_values())
        uow.commit()
    with w.uow() as uow:
        cs = uow.session.get(ClientSystem, sh.cs.id)
        acc = cs.account_id
        for _ in range(2):
            usage.record_call(uow.session, "GetCertificateDataByCertificateID", "0", acc, "10.1.0.1", cs,
                              certificate_identifier=c1.identifier, type_code=PUB)
        usage.record_call(uow.session, "GetCertificateFileByCertificateID", "1302", acc, "10.1.0.1", cs,
                          certificate_identifier=c2.identifier, type_code=PUB)       # failed: not a use
        usage.record_call(uow.session, "GetCertificateDataByHolder", "0", acc, "10.1.0.1", cs,
                          holder_code_index=uow.cipher.blind_index(basic(102)["holder_code"]), type_code=PUB)
        usage.record_call(uow.session, "GetCertificateDataByCertificateID", "0", acc, "10.1.0.1", cs,
                          certificate_identifier=draft.identifier)                    # not issued
        usage.record_call(uow.session, "Token", "1101", "NOPE", "10.9.9.9")          # no tenant
        uow.commit()
        st = usage.stats(uow.session, w.tenant_id)
    assert st["total_calls"] == 5 and st["successful_calls"] == 4
    assert st["calls_by_interface"] == {"GetCertificateDataByCertificateID": 3, "GetCertificateFileByCertificateID": 1,
                                        "GetCertificateDataByHolder": 1}
    assert st["calls_by_department"] == {sh.user_dept.id: 5}
    assert st["department_names"] == {sh.user_dept.id: "哈尔滨市公安局"}
    assert st["usage_by_status"] == {"submitted": 1, "rejected": 1, "withdrawn": 1}
    assert st["issued_certificates"] == 4 and st["used_certificates"] == 2   # c1 by id, c3 by holder
    assert st["used_share"] == pytest.approx(0.5)
    with w.uow() as uow:
        empty = usage.stats(uow.session, w.tenant_id + 1000)
    assert empty["total_calls"] == 0 and empty["used_share"] == 0.0


# --- demo ---------------------------------------------------------------------------------------

def test_demo_client_system(world):
    setup = demo.prepare(world.platform, "admin")
    account = demo.ensure_client_system(world.platform, setup)
    assert demo.ensure_client_system(world.platform, setup) == account      # a second run finds it all
    with world.uow() as uow:
        cs = client_systems.authenticate(uow.session, account, "127.0.0.1")
        cs_id = cs.id
        assert cs.name == demo.DEMO_SYSTEM and cs.department_id == setup.head.department_id
        assert usage.catalogs_allowed(uow.session, cs) == {demo.DEMO_TYPE_CODE}
        assert uow.session.execute(select(UsageApplication)).scalars().one().status is U.APPROVED
    # a catalog re-registered as on demand and the system changed: the demo puts both right again
    with world.uow() as uow:
        cat_id = uow.session.execute(select(UsageApplication.catalog_id)).scalar_one()
        catalogs.register(uow, setup.head, setup.type_id, "on_demand")
        client_systems.disable(uow, setup.admin, cs_id)
        uow.commit()
    renewed = demo.ensure_client_system(world.platform, setup)
    assert renewed != account                          # a disabled system gets a new AccountId
    with world.uow() as uow:
        cs = client_systems.authenticate(uow.session, renewed, "127.0.0.1")
        assert usage.allowed(uow.session, cs, demo.DEMO_TYPE_CODE) is not None
        assert catalogs.get(uow, setup.admin, cat_id).share_type.value == "public"
