"""用户管理 through Flask's client: a department admin's staff, the platform admin's every user.

Real app, real database, CSRF enforced. Every route is checked for the anonymous visitor, the
roles the seed leaves out (clerk, reviewer) and the admin of another department; the domain's
rules (policy, last role, own admin role, self-deactivation, unlock) are proven through the pages.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from issuance import accounts
from issuance.models import AuditEntry, User
from tests.conftest import PASSWORD
from tests.helpers import csrf, login, web_app

NEW_PASSWORD = "Fresh-pass-77"


@pytest.fixture
def app(world):
    return web_app(world.platform)


@pytest.fixture
def other(world):
    """A second department with its own admin and a clerk."""
    dept, head = world.add_department("大庆市市场监督管理局", "11230600MB0000002X", "230600")
    clerk = world.add_user("clerk_dq", "clerk", dept.id)
    return dept, head, clerk


def client_of(app, username, password=PASSWORD):
    client = app.test_client()
    r = login(client, username, password)
    assert r.status_code == 302, r.get_data(as_text=True)
    return client


def post(client, url, data=None, page="/users"):
    return client.post(url, data={"csrf_token": csrf(client, page), **(data or {})})


def user_row(world, username):
    with world.uow() as uow:
        u = uow.session.execute(select(User).where(User.username == username)).scalar_one_or_none()
        if u is None:
            return None
        roles = accounts.roles_of(uow, [u.id])[u.id]
        return {"id": u.id, "active": u.active, "locked": u.locked, "hash": u.password_hash, "roles": sorted(
            roles, key=str), "failed": u.failed_logins}


def audit_actions(world, user_id):
    with world.uow() as uow:
        return [(e.action, e.detail) for e in uow.session.execute(
            select(AuditEntry).where(AuditEntry.subject_kind == "user", AuditEntry.subject_id == user_id)
            .order_by(AuditEntry.id)).scalars()]


def usernames(html):
    return re.findall(r'data-username="([^"]+)"', html)


def actions(uid):
    """Every change route of one user, with a form that would succeed for a rightful admin."""
    return [
        (f"/users/{uid}/roles", {"role": "reviewer"}),
        (f"/users/{uid}/roles/revoke", {"role": "clerk"}),
        (f"/users/{uid}/unlock", {}),
        (f"/users/{uid}/deactivate", {}),
        (f"/users/{uid}/activate", {}),
        (f"/users/{uid}/password", {"password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD}),
    ]


NEW_FORM = {"username": "zhang_san", "display_name": "张三", "email": "zs@example.cn", "phone": "13800000000",
            "password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD, "roles": ["clerk"]}


# --- access: anonymous, roles left out, other departments -----------------------------------------

def test_anonymous_is_sent_to_login_everywhere(app, world):
    client = app.test_client()
    uid = world.clerk.user_id
    for url in ("/users", "/users/new", f"/users/{uid}"):
        r = client.get(url)
        assert r.status_code == 302 and "/login" in r.headers["Location"], url
    token = csrf(client, "/login")
    for url, data in actions(uid) + [("/users/new", NEW_FORM)]:
        r = client.post(url, data={"csrf_token": token, **data})
        assert r.status_code == 302 and "/login" in r.headers["Location"], url
    assert user_row(world, "zhang_san") is None


@pytest.mark.parametrize("username", ["clerk1", "reviewer1"])
def test_clerk_and_reviewer_are_refused_everywhere(app, world, username):
    world.add_user("auditor1", "auditor", world.dept.id)
    client = client_of(app, username)
    uid = world.clerk.user_id
    before = user_row(world, "clerk1")
    for url in ("/users", "/users/new", f"/users/{uid}"):
        assert client.get(url).status_code == 403, url
    token = csrf(client, "/")
    for url, data in actions(uid) + [("/users/new", NEW_FORM)]:
        assert client.post(url, data={"csrf_token": token, **data}).status_code == 403, url
    assert user_row(world, "clerk1") == before and user_row(world, "zhang_san") is None
    assert 'href="/users"' not in client.get("/").get_data(as_text=True)  # not in the navigation either


def test_auditor_is_refused(app, world):
    world.add_user("auditor1", "auditor", world.dept.id)
    client = client_of(app, "auditor1")
    assert client.get("/users").status_code == 403
    assert client.get(f"/users/{world.clerk.user_id}").status_code == 403


def test_other_department_admin_neither_sees_nor_changes_our_users(app, world, other):
    _dept, head, _clerk = other
    client = client_of(app, head.username)
    page = client.get("/users?size=200").get_data(as_text=True)
    assert "clerk_dq" in usernames(page) and "clerk1" not in usernames(page) and "admin" not in usernames(page)
    for victim in ("clerk1", world.dept_admin.username):
        uid = user_row(world, victim)["id"]
        before = user_row(world, victim)
        assert client.get(f"/users/{uid}").status_code == 404
        token = csrf(client, "/users")
        for url, data in actions(uid):
            r = client.post(url, data={"csrf_token": token, **data})
            assert r.status_code == 404, (url, r.status_code)
        # naming our department in the form changes nothing either
        r = client.post(f"/users/{uid}/roles", data={"csrf_token": token, "role": "reviewer",
                                                     "department_id": world.dept.id})
        assert r.status_code == 404
        assert user_row(world, victim) == before
    # a new user of theirs lands in their department whatever department the form names
    r = post(client, "/users/new", {**NEW_FORM, "department_id": world.dept.id})
    assert r.status_code == 302
    assert user_row(world, "zhang_san")["roles"] == [("clerk", _dept.id)]


def test_platform_admin_is_not_managed_by_a_department_admin(app, world):
    client = client_of(app, world.dept_admin.username)
    admin_id = world.admin.user_id
    assert client.get(f"/users/{admin_id}").status_code == 404
    assert post(client, f"/users/{admin_id}/deactivate").status_code == 404
    assert user_row(world, "admin")["active"] is True


# --- the list: scope, filters, sort, pages --------------------------------------------------------

def test_department_admin_lists_their_department_with_roles_and_states(app, world, other):
    client = client_of(app, world.dept_admin.username)
    r = client.get("/users")
    page = r.get_data(as_text=True)
    assert r.status_code == 200 and 'id="users-list"' in page and 'id="new-user"' in page
    assert sorted(usernames(page)) == sorted(["clerk1", "reviewer1", world.dept_admin.username])
    assert "录入员" in page and "审核员" in page and "部门管理员" in page and "本部门角色" in page
    assert 'class="sub active" href="/users"' in page  # highlighted in the navigation
    view = client.get(f"/users/{world.clerk.user_id}").get_data(as_text=True)
    assert 'class="sub active" href="/users"' in view  # and still on a user's page


def test_list_filters_sort_and_pages_on_the_server(app, world):
    for i in range(3):
        world.add_user(f"extra{i}", "reviewer", world.dept.id)
    client = client_of(app, world.dept_admin.username)
    # text matches user name or display name
    assert usernames(client.get("/users?text=extra").get_data(as_text=True)) == ["extra0", "extra1", "extra2"]
    # role in the department
    got = usernames(client.get("/users?role=reviewer").get_data(as_text=True))
    assert sorted(got) == ["extra0", "extra1", "extra2", "reviewer1"]
    # sort descending by user name
    got = usernames(client.get("/users?sort=-username").get_data(as_text=True))
    assert got == sorted(got, reverse=True) and len(got) == 6
    # pages
    p1 = client.get("/users?size=4&sort=username").get_data(as_text=True)
    p2 = client.get("/users?size=4&sort=username&page=2").get_data(as_text=True)
    assert len(usernames(p1)) == 4 and len(usernames(p2)) == 2 and not set(usernames(p1)) & set(usernames(p2))
    assert "共 6 条" in p1 and 'rel="next"' in p1
    # locked / active
    for _ in range(3):
        login(app.test_client(), "extra1", "wrong")
    assert usernames(client.get("/users?locked=1").get_data(as_text=True)) == ["extra1"]
    assert "extra1" not in usernames(client.get("/users?locked=0").get_data(as_text=True))
    assert usernames(client.get("/users?active=0").get_data(as_text=True)) == []
    # nonsense is refused, not silently fixed
    assert client.get("/users?sort=password_hash").status_code == 400
    assert client.get("/users?locked=maybe").status_code == 400
    assert client.get("/users?size=100000").status_code == 400


def test_admin_lists_every_user_and_filters_by_department(app, world, other):
    dept, head, _clerk = other
    client = client_of(app, "admin")
    page = client.get("/users?size=200").get_data(as_text=True)
    assert {"admin", "clerk1", "clerk_dq", head.username} <= set(usernames(page))
    assert "平台管理员" in page and 'id="filter-department"' in page
    page = client.get(f"/users?department={dept.id}").get_data(as_text=True)
    assert sorted(usernames(page)) == sorted(["clerk_dq", head.username]) and "本部门角色" in page
    page = client.get(f"/users?department={dept.id}&role=clerk").get_data(as_text=True)
    assert usernames(page) == ["clerk_dq"]
    assert client.get("/users?department=abc").status_code == 400


# --- new user ------------------------------------------------------------------------------------

def test_department_admin_creates_a_user_who_logs_in_with_the_roles_navigation(app, world):
    client = client_of(app, world.dept_admin.username)
    form = client.get("/users/new").get_data(as_text=True)
    assert 'id="user-form"' in form and 'id="submit"' in form and 'name="confirm_password"' in form
    for code in ("clerk", "reviewer", "dept_admin", "auditor"):
        assert f'name="roles" value="{code}"' in form
    assert 'name="department_id"' not in form and "哈尔滨市市场监督管理局" in form
    r = post(client, "/users/new", {**NEW_FORM, "roles": ["clerk", "dept_admin"]})
    assert r.status_code == 302
    row = user_row(world, "zhang_san")
    assert r.headers["Location"] == f"/users/{row['id']}"
    assert row["roles"] == sorted([("clerk", world.dept.id), ("dept_admin", world.dept.id)], key=str)
    assert any(a == "user.create" for a, _d in audit_actions(world, row["id"]))
    assert all(NEW_PASSWORD not in d for _a, d in audit_actions(world, row["id"]))
    # the new user logs in and, as a department admin, finds 用户管理 in the navigation
    theirs = client_of(app, "zhang_san", NEW_PASSWORD)
    assert 'href="/users"' in theirs.get("/").get_data(as_text=True)
    assert theirs.get("/users").status_code == 200
    # a clerk created the same way does not
    post(client, "/users/new", {**NEW_FORM, "username": "li_si", "roles": ["clerk"]})
    clerk = client_of(app, "li_si", NEW_PASSWORD)
    assert 'href="/users"' not in clerk.get("/").get_data(as_text=True)
    assert clerk.get("/users").status_code == 403


@pytest.mark.parametrize("change, field, message", [
    ({"password": "Ab1!"}, "password", "密码长度不少于"),
    ({"password": "abcdefghij", "confirm_password": "abcdefghij"}, "password", "至少"),
    ({"confirm_password": "Other-pass-88"}, "confirm_password", "两次输入的密码不一致"),
    ({"username": "a b"}, "username", "用户名为 3 到 64 个"),
    ({"username": "clerk1"}, "username", "用户名已存在"),
    ({"email": "not-mail"}, "email", "邮箱格式不正确"),
    ({"phone": "abc"}, "phone", "手机号码格式不正确"),
    ({"roles": []}, "roles", "请至少选择一个角色"),
    ({"roles": ["platform_admin"]}, "roles", "请至少选择一个角色"),
])
def test_bad_input_is_shown_next_to_the_field_and_nothing_is_written(app, world, change, field, message):
    client = client_of(app, world.dept_admin.username)
    with world.uow() as uow:
        users_before = uow.session.query(User).count()
    r = post(client, "/users/new", {**NEW_FORM, **change})
    page = r.get_data(as_text=True)
    assert r.status_code == 400
    error = re.search(rf'<p class="field-error" role="alert" id="{field}-error">([^<]*)</p>', page)
    assert error and message in error.group(1), page
    assert 'value="张三"' in page  # the form keeps what was typed (never the passwords)
    assert NEW_PASSWORD not in page
    with world.uow() as uow:
        assert uow.session.query(User).count() == users_before


def test_admin_chooses_the_department(app, world, other):
    dept, _head, _clerk = other
    client = client_of(app, "admin")
    form = client.get("/users/new").get_data(as_text=True)
    assert 'id="department_id"' in form and "大庆市市场监督管理局" in form
    r = post(client, "/users/new", {**NEW_FORM, "department_id": ""})
    assert r.status_code == 400 and 'id="department_id-error"' in r.get_data(as_text=True)
    assert user_row(world, "zhang_san") is None
    r = post(client, "/users/new", {**NEW_FORM, "department_id": dept.id, "roles": ["reviewer", "auditor"]})
    assert r.status_code == 302
    assert user_row(world, "zhang_san")["roles"] == sorted([("auditor", dept.id), ("reviewer", dept.id)], key=str)


# --- one user: roles ------------------------------------------------------------------------------

def test_grant_and_revoke_a_role(app, world):
    client = client_of(app, world.dept_admin.username)
    uid = world.clerk.user_id
    page = client.get(f"/users/{uid}").get_data(as_text=True)
    assert 'id="user-roles"' in page and 'id="grant-form"' in page and 'id="reset-form"' in page
    assert post(client, f"/users/{uid}/roles", {"role": "reviewer"}).status_code == 302
    assert ("reviewer", world.dept.id) in user_row(world, "clerk1")["roles"]
    page = client.get(f"/users/{uid}").get_data(as_text=True)
    revoke = re.search(r'<form method="post" action="/users/\d+/roles/revoke"[^>]*>', page).group(0)
    assert "data-confirm" in revoke
    assert post(client, f"/users/{uid}/roles/revoke", {"role": "reviewer"}).status_code == 302
    assert user_row(world, "clerk1")["roles"] == [("clerk", world.dept.id)]
    done = [a for a, _d in audit_actions(world, uid)]
    assert "user.grant_role" in done and "user.revoke_role" in done
    # the last role stays: deactivating is the way to remove someone
    r = post(client, f"/users/{uid}/roles/revoke", {"role": "clerk"})
    assert r.status_code == 400 and "最后一个角色" in r.get_data(as_text=True)
    assert user_row(world, "clerk1")["roles"] == [("clerk", world.dept.id)]
    # an unknown role or one not held
    assert post(client, f"/users/{uid}/roles", {"role": "platform_admin"}).status_code == 400
    assert post(client, f"/users/{uid}/roles/revoke", {"role": "auditor"}).status_code == 404
    assert user_row(world, "clerk1")["roles"] == [("clerk", world.dept.id)]


def test_department_admin_cannot_remove_their_own_admin_role(app, world):
    head = world.dept_admin
    client = client_of(app, head.username)
    post(client, f"/users/{head.user_id}/roles", {"role": "clerk"})  # so it is not the last role
    r = post(client, f"/users/{head.user_id}/roles/revoke", {"role": "dept_admin"})
    page = r.get_data(as_text=True)
    assert r.status_code == 400 and 'id="role-error"' in page and "不能撤销您自己的管理员角色" in page
    assert ("dept_admin", world.dept.id) in user_row(world, head.username)["roles"]
    # they may drop another role of their own
    assert post(client, f"/users/{head.user_id}/roles/revoke", {"role": "clerk"}).status_code == 302


def test_admin_grants_in_another_department(app, world, other):
    dept, _head, _clerk = other
    client = client_of(app, "admin")
    uid = world.clerk.user_id
    assert post(client, f"/users/{uid}/roles", {"role": "reviewer", "department_id": dept.id}).status_code == 302
    assert ("reviewer", dept.id) in user_row(world, "clerk1")["roles"]
    r = post(client, f"/users/{uid}/roles", {"role": "reviewer", "department_id": 9999})
    assert r.status_code == 400 and 'id="department_id-error"' in r.get_data(as_text=True)
    # now clerk1 works for two departments: their own department admin no longer manages the account
    head = client_of(app, world.dept_admin.username)
    page = head.get(f"/users/{uid}").get_data(as_text=True)
    assert 'id="account-note"' in page and 'id="deactivate"' not in page and 'id="reset-form"' not in page
    assert post(head, f"/users/{uid}/deactivate").status_code == 403
    assert user_row(world, "clerk1")["active"] is True


# --- one user: lockout, deactivation, password ----------------------------------------------------

def test_lockout_then_unlock_by_the_department_admin_lets_them_in(app, world):
    for _ in range(3):
        login(app.test_client(), "clerk1", "wrong")
    assert user_row(world, "clerk1")["locked"] is True
    assert login(app.test_client(), "clerk1", PASSWORD).status_code == 401
    client = client_of(app, world.dept_admin.username)
    page = client.get(f"/users/{world.clerk.user_id}").get_data(as_text=True)
    assert 'id="unlock"' in page and "已锁定" in page
    assert 'data-locked="1"' in client.get("/users").get_data(as_text=True)
    assert post(client, f"/users/{world.clerk.user_id}/unlock").status_code == 302
    row = user_row(world, "clerk1")
    assert row["locked"] is False and row["failed"] == 0
    assert login(app.test_client(), "clerk1", PASSWORD).status_code == 302
    assert "user.unlock" in [a for a, _d in audit_actions(world, world.clerk.user_id)]
    assert 'id="unlock"' not in client.get(f"/users/{world.clerk.user_id}").get_data(as_text=True)


def test_deactivated_user_cannot_log_in_until_activated(app, world):
    clerk = client_of(app, "clerk1")
    client = client_of(app, world.dept_admin.username)
    uid = world.clerk.user_id
    page = client.get(f"/users/{uid}").get_data(as_text=True)
    form = re.search(r'<form method="post" action="/users/\d+/deactivate"[^>]*>', page).group(0)
    assert "data-confirm" in form and 'id="deactivate"' in page
    assert post(client, f"/users/{uid}/deactivate").status_code == 302
    assert user_row(world, "clerk1")["active"] is False
    assert login(app.test_client(), "clerk1", PASSWORD).status_code == 401
    assert clerk.get("/").status_code == 302  # the open session ends too
    page = client.get(f"/users/{uid}").get_data(as_text=True)
    assert 'id="activate"' in page and 'id="deactivate"' not in page
    assert post(client, f"/users/{uid}/activate").status_code == 302
    assert login(app.test_client(), "clerk1", PASSWORD).status_code == 302
    done = [a for a, _d in audit_actions(world, uid)]
    assert "user.deactivate" in done and "user.activate" in done


def test_nobody_deactivates_themselves(app, world):
    for username, uid in ((world.dept_admin.username, world.dept_admin.user_id), ("admin", world.admin.user_id)):
        client = client_of(app, username)
        assert 'id="deactivate"' not in client.get(f"/users/{uid}").get_data(as_text=True)
        r = post(client, f"/users/{uid}/deactivate")
        assert r.status_code == 400 and "不能停用您自己的账号" in r.get_data(as_text=True)
        assert user_row(world, username)["active"] is True


def test_reset_password_is_checked_audited_and_works(app, world):
    client = client_of(app, world.dept_admin.username)
    uid = world.clerk.user_id
    before = user_row(world, "clerk1")
    r = post(client, f"/users/{uid}/password", {"password": "short", "confirm_password": "short"})
    page = r.get_data(as_text=True)
    assert r.status_code == 400 and 'id="password-error"' in page and "密码长度不少于" in page
    r = post(client, f"/users/{uid}/password", {"password": NEW_PASSWORD, "confirm_password": "Other-pass-88"})
    assert r.status_code == 400 and 'id="confirm_password-error"' in r.get_data(as_text=True)
    assert user_row(world, "clerk1")["hash"] == before["hash"]
    assert post(client, f"/users/{uid}/password", {"password": NEW_PASSWORD,
                                                   "confirm_password": NEW_PASSWORD}).status_code == 302
    assert login(app.test_client(), "clerk1", PASSWORD).status_code == 401
    assert login(app.test_client(), "clerk1", NEW_PASSWORD).status_code == 302
    entries = audit_actions(world, uid)
    assert "user.reset_password" in [a for a, _d in entries]
    assert all(NEW_PASSWORD not in d for _a, d in entries)


def test_own_password_is_not_reset_here(app, world):
    head = world.dept_admin
    client = client_of(app, head.username)
    assert 'id="reset-form"' not in client.get(f"/users/{head.user_id}").get_data(as_text=True)
    before = user_row(world, head.username)["hash"]
    r = post(client, f"/users/{head.user_id}/password", {"password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD})
    assert r.status_code == 400
    assert user_row(world, head.username)["hash"] == before


def test_unknown_user_is_404(app, world):
    client = client_of(app, "admin")
    assert client.get("/users/99999").status_code == 404
    assert post(client, "/users/99999/deactivate").status_code == 404


# --- the domain functions on their own ------------------------------------------------------------

def test_revoke_role_follows_the_rules_of_grant_role(world, other):
    dept, head, _clerk = other
    from issuance.errors import PermissionDenied

    with world.uow() as uow:
        with pytest.raises(PermissionDenied):
            accounts.revoke_role(uow, world.clerk, world.reviewer.user_id, "reviewer", world.dept.id)
        with pytest.raises(PermissionDenied):
            accounts.revoke_role(uow, head, world.reviewer.user_id, "reviewer", world.dept.id)
    with world.uow() as uow:
        accounts.grant_role(uow, world.admin, world.reviewer.user_id, "clerk", dept.id)
        uow.commit()
    with world.uow() as uow:
        accounts.revoke_role(uow, world.admin, world.reviewer.user_id, "reviewer", world.dept.id)
        uow.commit()
    with world.uow() as uow:
        user = uow.session.get(User, world.reviewer.user_id)
        assert user.current_department_id == dept.id  # moved to the department they still work in
