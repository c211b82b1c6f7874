"""目录 pages (web/catalogs.py): home, view, maintenance, management, review; roles and department isolation."""

from __future__ import annotations

import pytest

from issuance import catalogs
from issuance.models import Catalog

from tests.helpers import approved_licence_type, csrf
from tests.test_web_types import OTHER, client_of, post


@pytest.fixture
def app(world):
    from tests.helpers import web_app

    return web_app(world.platform)


def registered(world, actor, type_id, share="public", approve=True) -> int:
    with world.uow() as uow:
        cat = catalogs.register(uow, actor, type_id, share)
        uow.commit()
        cid = cat.id
    if approve:
        with world.uow() as uow:
            catalogs.review(uow, world.admin, cid, True)
            uow.commit()
    return cid


def state(world, cid):
    with world.uow() as uow:
        cat = uow.session.get(Catalog, cid)
        return None if cat is None else (cat.status.value, cat.share_type.value, cat.version)


@pytest.fixture
def setup(world):
    """Market bureau: an approved public catalog (营业执照) and a waiting one; police bureau: its own."""
    pub = approved_licence_type(world, "CATPUB1", name="营业执照")
    wait = approved_licence_type(world, "CATWAIT1", name="食品经营许可证")
    police, head = world.add_department(*OTHER)
    world.add_user("clerk_b", "clerk", police.id)
    return {"pub": registered(world, world.dept_admin, pub.id, "public"),
            "wait": registered(world, world.dept_admin, wait.id, "on_demand", approve=False),
            "police": police, "head_b": head}


def test_anonymous_is_sent_to_login(app, world, setup):
    c = app.test_client()
    cid = setup["pub"]
    for path in ("/catalogs", f"/catalogs/{cid}", "/catalogs/maintenance", "/catalogs/manage", "/catalogs/review",
                 f"/catalogs/{cid}/review"):
        r = c.get(path)
        assert r.status_code == 302 and "/login" in r.headers["Location"], path
    token = csrf(c, "/login")
    for path in (f"/catalogs/{cid}/disable", f"/catalogs/{cid}/delete", f"/catalogs/{cid}/review"):
        r = c.post(path, data={"csrf_token": token})
        assert r.status_code == 302 and "/login" in r.headers["Location"], path
    assert state(world, cid)[0] == "approved"


def test_roles(app, world, setup):
    cid = setup["pub"]
    rev = client_of(app, "reviewer1")
    assert rev.get("/catalogs").status_code == 200  # the directory is for everyone
    assert rev.get(f"/catalogs/{cid}").status_code == 200
    for path in ("/catalogs/manage", "/catalogs/maintenance", "/catalogs/review", f"/catalogs/{setup['wait']}/review"):
        assert rev.get(path).status_code == 403, path
    assert post(rev, f"/catalogs/{cid}/disable").status_code == 403
    assert post(rev, f"/catalogs/{cid}/delete").status_code == 403
    clerk = client_of(app, "clerk1")
    for path in ("/catalogs/maintenance", "/catalogs/review", f"/catalogs/{setup['wait']}/review"):
        assert clerk.get(path).status_code == 403, path
    assert post(clerk, f"/catalogs/{setup['wait']}/review", {"decision": "approve"}).status_code == 403
    assert state(world, cid)[0] == "approved" and state(world, setup["wait"])[0] == "submitted"


def test_another_department_sees_published_catalogs_only_and_changes_nothing(app, world, setup):
    c = client_of(app, "clerk_b")
    home = c.get("/catalogs").get_data(as_text=True)
    assert "营业执照" in home and "食品经营许可证" not in home  # waiting registrations are not published
    assert c.get(f"/catalogs/{setup['pub']}").status_code == 200
    assert c.get(f"/catalogs/{setup['wait']}").status_code == 404
    assert "营业执照" not in c.get("/catalogs/manage").get_data(as_text=True)
    for cid in (setup["pub"], setup["wait"]):
        before = state(world, cid)
        assert post(c, f"/catalogs/{cid}/disable").status_code == 403
        assert post(c, f"/catalogs/{cid}/delete").status_code == 403
        assert state(world, cid) == before
    # nor re-register the other department's type
    with world.uow() as uow:
        type_id = uow.session.get(Catalog, setup["pub"]).type_id
    assert post(c, f"/types/{type_id}/register", {"share_type": "none"}).status_code in (403, 404)
    assert state(world, setup["pub"]) == ("approved", "public", 1)


def test_home_filters_and_sorts_on_the_server(app, world, setup):
    extra = approved_licence_type(world, "CATDEM1", name="药品经营许可证")
    registered(world, world.dept_admin, extra.id, "on_demand")
    c = client_of(app, "reviewer1")
    page = c.get("/catalogs?text=药品").get_data(as_text=True)
    assert "药品经营许可证" in page and "营业执照" not in page
    page = c.get("/catalogs?share_type=public").get_data(as_text=True)
    assert "营业执照" in page and "药品经营许可证" not in page
    page = c.get("/catalogs?sort=name").get_data(as_text=True)
    assert "共 2 条" in page
    page = c.get(f"/catalogs?department={setup['police'].id}").get_data(as_text=True)
    assert "营业执照" not in page
    page = c.get("/catalogs?size=1&sort=name").get_data(as_text=True)
    assert page.count('<tr data-id=') == 1 and 'rel="next"' in page
    assert c.get("/catalogs?share_type=bogus").status_code == 400
    admin = client_of(app, "admin")
    assert 'id="usage-apply"' not in admin.get(f"/catalogs/{setup['pub']}").get_data(as_text=True)


def test_usage_apply_link_only_where_the_module_exists(app, world, setup):
    c = client_of(app, "clerk_b")
    page = c.get(f"/catalogs/{setup['pub']}").get_data(as_text=True)
    assert ('id="usage-apply"' in page) == ("departments.usage_apply" in app.view_functions)


def test_manage_disable_and_delete_ask_first(app, world, setup):
    c = client_of(app, "clerk1")
    page = c.get("/catalogs/manage").get_data(as_text=True)
    assert 'data-confirm="禁用操作不能恢复，确定禁用吗？"' in page
    assert 'data-confirm="删除操作不能恢复，确定删除吗？"' in page
    assert "食品经营许可证" in page and "营业执照" in page
    assert "食品经营许可证" not in c.get("/catalogs/manage?status=approved").get_data(as_text=True)
    assert post(c, f"/catalogs/{setup['pub']}/disable").status_code == 302
    assert state(world, setup["pub"])[0] == "disabled"
    assert post(c, f"/catalogs/{setup['pub']}/disable").status_code == 409
    assert post(c, f"/catalogs/{setup['wait']}/delete", {"back": "manage"}).status_code == 302
    assert state(world, setup["wait"]) is None


def test_re_register_goes_back_to_review(app, world, setup):
    c = client_of(app, "clerk1")
    with world.uow() as uow:
        type_id = uow.session.get(Catalog, setup["pub"]).type_id
    form = c.get(f"/types/{type_id}/register?from=catalogs").get_data(as_text=True)
    assert 'id="share-public" value="public" checked' in form
    r = post(c, f"/types/{type_id}/register", {"share_type": "on_demand"})
    assert r.status_code == 302
    assert state(world, setup["pub"]) == ("submitted", "on_demand", 2)


def test_review_and_maintenance(app, world, setup):
    admin = client_of(app, "admin")
    listing = admin.get("/catalogs/review").get_data(as_text=True)
    assert "食品经营许可证" in listing and "营业执照" not in listing  # waiting ones by default
    page = admin.get(f"/catalogs/{setup['wait']}/review").get_data(as_text=True)
    assert 'id="review-form"' in page and 'id="approve"' in page and 'id="reject"' in page
    r = post(admin, f"/catalogs/{setup['wait']}/review", {"decision": "reject"})
    assert r.status_code == 400 and 'id="reason-error"' in r.get_data(as_text=True)
    assert state(world, setup["wait"])[0] == "submitted"
    assert post(admin, f"/catalogs/{setup['wait']}/review", {"decision": "approve"}).status_code == 302
    assert state(world, setup["wait"])[0] == "approved"
    maint = admin.get("/catalogs/maintenance").get_data(as_text=True)
    assert "食品经营许可证" in maint and 'data-confirm="删除操作不能恢复，确定删除吗？"' in maint
    assert post(admin, f"/catalogs/{setup['pub']}/delete").status_code == 302
    assert state(world, setup["pub"]) is None
