import pytest
from sqlalchemy import select

from issuance import accounts
from issuance.errors import AccountLocked, AuthenticationFailed, Conflict, PermissionDenied, ValidationError
from issuance.models import User
from issuance.passwords import check_policy, verify_password
from tests.conftest import PASSWORD


def login(world, username, password):
    with world.uow() as uow:
        return accounts.authenticate(uow, username, password, world.platform.policy, "10.0.0.9")


def test_password_is_hashed_with_argon2(world):
    with world.uow() as uow:
        user = uow.session.execute(select(User).where(User.username == "clerk1")).scalar_one()
        assert user.password_hash.startswith("$argon2id$") and PASSWORD not in user.password_hash
        assert verify_password(user.password_hash, PASSWORD)


def test_login_returns_actor_with_roles_of_current_department(world):
    actor = login(world, "clerk1", PASSWORD)
    assert actor.roles == {"clerk"} and actor.department_id == world.dept.id and not actor.is_admin
    assert actor.ip == "10.0.0.9"


def test_three_failures_lock_the_account_even_for_the_right_password(world):
    for left in (2, 1):
        with pytest.raises(AuthenticationFailed, match=f"{left} attempt"):
            login(world, "clerk1", "wrong")
    with pytest.raises(AccountLocked, match="locked"):
        login(world, "clerk1", "wrong")
    with pytest.raises(AccountLocked):
        login(world, "clerk1", PASSWORD)
    with world.uow() as uow:
        user = uow.session.execute(select(User).where(User.username == "clerk1")).scalar_one()
        assert user.locked and user.failed_logins == 3
        accounts.unlock(uow, world.admin, user.id)
        uow.commit()
    assert login(world, "clerk1", PASSWORD).username == "clerk1"


def test_success_resets_the_failure_count(world):
    for _ in range(2):
        with pytest.raises(AuthenticationFailed):
            login(world, "clerk1", "wrong")
    login(world, "clerk1", PASSWORD)
    for _ in range(2):
        with pytest.raises(AuthenticationFailed):
            login(world, "clerk1", "wrong")
    assert login(world, "clerk1", PASSWORD)


def test_unknown_user_gets_the_same_answer(world):
    with pytest.raises(AuthenticationFailed, match="wrong user name or password"):
        login(world, "nobody", "x")


def test_only_admin_unlocks(world):
    with world.uow() as uow:
        with pytest.raises(PermissionDenied):
            accounts.unlock(uow, world.clerk, world.clerk.user_id)


@pytest.mark.parametrize("pw, why", [("Ab1!", "at least 8"), ("abcdefgh", "at least 3 of"), ("abcdefg1", "at least 3 of")])
def test_password_policy(pw, why):
    with pytest.raises(ValidationError, match=why):
        check_policy(pw)
    check_policy("abcdefG1")


def test_seed_minimum_of_six_is_the_floor_of_the_config():
    from pydantic import ValidationError as PydanticError
    from certledger.config import SecuritySettings

    with pytest.raises(PydanticError):
        SecuritySettings(password_min_length=5)


def test_create_user_rules(world):
    policy = world.platform.policy
    with world.uow() as uow:
        with pytest.raises(Conflict):
            accounts.create_user(uow, world.admin, policy, "clerk1", PASSWORD)
        with pytest.raises(ValidationError) as e:
            accounts.create_user(uow, world.admin, policy, "a b", PASSWORD, email="not-mail")
        assert set(e.value.errors) == {"username", "email"}
        with pytest.raises(PermissionDenied):
            accounts.create_user(uow, world.clerk, policy, "x_user", PASSWORD)
        with pytest.raises(PermissionDenied):
            accounts.create_user(uow, world.dept_admin, policy, "x_user", PASSWORD, roles=[("clerk", world.dept.id + 99)])
        u = accounts.create_user(uow, world.dept_admin, policy, "x_user", PASSWORD, roles=[("clerk", world.dept.id)])
        assert u.current_department_id == world.dept.id


def test_change_password(world):
    policy = world.platform.policy
    with world.uow() as uow:
        with pytest.raises(ValidationError, match="current password"):
            accounts.change_password(uow, world.clerk, policy, "bad", "New-pass-77", "New-pass-77")
        with pytest.raises(ValidationError, match="differ"):
            accounts.change_password(uow, world.clerk, policy, PASSWORD, "New-pass-77", "New-pass-78")
        with pytest.raises(ValidationError):
            accounts.change_password(uow, world.clerk, policy, PASSWORD, "short", "short")
        accounts.change_password(uow, world.clerk, policy, PASSWORD, "New-pass-77", "New-pass-77")
        uow.commit()
    assert login(world, "clerk1", "New-pass-77")


def test_user_in_two_departments_switches_and_roles_follow(world):
    other, _ = world.add_department("大庆市市场监督管理局", "11230600MB0000002X", "230600")
    with world.uow() as uow:
        accounts.grant_role(uow, world.admin, world.clerk.user_id, "reviewer", other.id)
        uow.commit()
    actor = world.actor("clerk1")
    assert actor.department_id == world.dept.id and actor.roles == {"clerk"}
    with world.uow() as uow:
        switched = accounts.switch_department(uow, actor, world.platform.policy, other.id)
        uow.commit()
    assert switched.department_id == other.id and switched.roles == {"reviewer"}
    assert login(world, "clerk1", PASSWORD).department_id == other.id
    with world.uow() as uow:
        third, _ = None, None
        with pytest.raises(PermissionDenied):
            accounts.switch_department(uow, world.reviewer, world.platform.policy, other.id)


def test_profile_update_validates(world):
    with world.uow() as uow:
        with pytest.raises(ValidationError):
            accounts.update_profile(uow, world.clerk, "", "x", "abc")
        u = accounts.update_profile(uow, world.clerk, "李四", "li@example.gov.cn", "0451-1234567")
        assert u.display_name == "李四"


def test_tenants_isolate_and_admin_switches_tenant(world):
    from issuance import departments, tenants

    with world.uow() as uow:
        with pytest.raises(PermissionDenied):
            tenants.create(uow, world.clerk, "230600", "大庆市")
        t2 = tenants.create(uow, world.admin, "230600", "大庆市", "230600")
        with pytest.raises(Conflict):
            tenants.create(uow, world.admin, "230600", "again")
        uow.commit()
    with world.uow() as uow:
        assert {t.code for t in accounts.tenants_of(uow, world.admin)} == {"230000", "230600"}
        assert {t.code for t in accounts.tenants_of(uow, world.clerk)} == {"230000"}
        with pytest.raises(PermissionDenied):
            accounts.switch_tenant(uow, world.clerk, world.platform.policy, t2.id)
        admin2 = accounts.switch_tenant(uow, world.admin, world.platform.policy, t2.id)
        uow.commit()
    assert admin2.tenant_id == t2.id and admin2.department_id is None
    with world.uow() as uow:
        # the first tenant's departments are invisible from the second
        assert departments.search(uow, admin2).total == 0
        assert departments.search(uow, world.admin).total == 1


def test_admin_role_id_is_configurable_as_in_the_seed(world):
    """becp.ecms.config.adminRoleId names the role whose holders are platform admins."""
    from dataclasses import replace

    reviewer_role_policy = replace(world.platform.policy, admin_role_id=4)  # 4 = reviewer
    with world.uow() as uow:
        assert accounts.authenticate(uow, "reviewer1", PASSWORD, reviewer_role_policy).is_admin
    with world.uow() as uow:
        assert not accounts.authenticate(uow, "admin", PASSWORD, reviewer_role_policy).is_admin
    with world.uow() as uow:
        assert accounts.authenticate(uow, "admin", PASSWORD, world.platform.policy).is_admin
