"""The home page (首页): the four counts and the quick actions of the signed-in user's role."""

from __future__ import annotations

import re

import pytest

from tests.conftest import PASSWORD
from tests.helpers import approved_licence_type, login, web_app


@pytest.fixture
def client(world):
    return web_app(world.platform).test_client()


def _count(page: str, name: str) -> int:
    return int(re.search(rf'id="count-{name}">(\d+)<', page).group(1))


def test_home_needs_login(client):
    r = client.get("/")
    assert r.status_code == 302 and "/login" in r.headers["Location"]


def test_counts_follow_the_data(world, client):
    from issuance import catalogs

    login(client, "clerk1", PASSWORD)
    page = client.get("/").get_data(as_text=True)
    assert _count(page, "departments") == 1 and _count(page, "catalogs") == 0
    world.add_department("哈尔滨市公安局", "11230100MB0000002Y")
    t = approved_licence_type(world)
    with world.uow() as uow:
        cat = catalogs.register(uow, world.dept_admin, t.id, "public")
        uow.commit()
    page = client.get("/").get_data(as_text=True)
    assert _count(page, "departments") == 2 and _count(page, "catalogs") == 0  # not yet reviewed
    with world.uow() as uow:
        catalogs.review(uow, world.admin, cat.id, True)
        uow.commit()
    page = client.get("/").get_data(as_text=True)
    assert _count(page, "catalogs") == 1 and _count(page, "shared") == 0 and _count(page, "usage") == 0


def test_quick_actions_depend_on_the_role(client):
    login(client, "admin", PASSWORD)
    admin_page = client.get("/").get_data(as_text=True)
    login(client, "reviewer1", PASSWORD)
    reviewer_page = client.get("/").get_data(as_text=True)
    admin_actions = set(re.findall(r'data-endpoint="([^"]+)"', admin_page))
    reviewer_actions = set(re.findall(r'data-endpoint="([^"]+)"', reviewer_page))
    assert "stats.index" in admin_actions and "stats.index" in reviewer_actions
    assert reviewer_actions - {"stats.index"} <= {"issuing.review_list", "departments.usage_review"}
    assert not (admin_actions & {"entry.index", "issuing.review_list"})  # the admin issues nothing

