"""Shared fixtures: real data directories on SQLite and on the PostgreSQL server of the set-up."""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from certledger.config import load_settings
from certledger.datadir import init_data_dir
from certledger.runtime import Platform

# argon2 at its lowest cost: the suite creates hundreds of users; the default cost is tested apart
FAST_HASHING = {"CERTLEDGER_SECURITY__ARGON2_TIME_COST": "1", "CERTLEDGER_SECURITY__ARGON2_MEMORY_KIB": "1024"}
PG_URL = os.environ.get("CERTLEDGER_TEST_PG_URL", "")
REQUIRE_PG = os.environ.get("CERTLEDGER_REQUIRE_PG") == "1"


def _pg_database():
    """A fresh PostgreSQL database for one test; dropped afterwards."""
    import psycopg

    name = f"t_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_URL.rsplit("/", 1)[0]

    def drop():
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return f"{base}/{name}", drop


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request):
    if request.param == "sqlite":
        yield ""
        return
    if not PG_URL:
        if REQUIRE_PG:
            pytest.fail("CERTLEDGER_TEST_PG_URL is not set but PostgreSQL tests are required")
        pytest.skip("no PostgreSQL server (run through ./scripts/test)")
    url, drop = _pg_database()
    yield url
    drop()


@pytest.fixture
def data_dir(tmp_path: Path, database_url: str) -> Path:
    d = tmp_path / "data"
    init_data_dir(d, database_url=database_url)
    return d


@pytest.fixture
def sqlite_data_dir(tmp_path: Path) -> Path:
    d = tmp_path / "data"
    init_data_dir(d)
    return d


@pytest.fixture
def platform(data_dir: Path):
    p = Platform(load_settings(data_dir, environ=FAST_HASHING))
    yield p
    p.close()


PASSWORD = "Secret-pass-42"


@dataclass
class World:
    """A tenant with an admin and one approved department with a clerk, a reviewer and its admin."""

    platform: Platform
    tenant_id: int = 0
    admin: object = None
    dept: object = None
    dept_admin: object = None
    clerk: object = None
    reviewer: object = None
    users: dict = field(default_factory=dict)

    def uow(self):
        return self.platform.uow()

    def actor(self, username: str):
        from issuance import accounts
        from issuance.models import User
        from sqlalchemy import select

        with self.uow() as uow:
            user = uow.session.execute(select(User).where(User.username == username)).scalar_one()
            return accounts.actor_for(uow, user, self.platform.policy, "127.0.0.1")

    def add_department(self, name: str, code: str, region: str = "230100"):
        """Onboard a department: a user applies, the admin approves; returns (dept, its admin actor)."""
        from issuance import accounts, departments

        applicant = f"head_{code.lower()[-6:]}"
        with self.uow() as uow:
            accounts.create_user(uow, self.admin, self.platform.policy, applicant, PASSWORD)
            uow.commit()
        head = self.actor(applicant)
        with self.uow() as uow:
            dept = departments.apply(uow, head, name=name, code=code, region_code=region)
            uow.commit()
        with self.uow() as uow:
            departments.review(uow, self.admin, dept.id, True)
            uow.commit()
        return dept, self.actor(applicant)

    def add_user(self, username: str, role: str, dept_id: int | None):
        from issuance import accounts

        with self.uow() as uow:
            accounts.create_user(uow, self.admin, self.platform.policy, username, PASSWORD, roles=[(role, dept_id)])
            uow.commit()
        return self.actor(username)


@pytest.fixture
def world(platform) -> World:
    return make_world(platform)


def make_world(platform) -> World:
    """A tenant, its admin, one approved department with a clerk, a reviewer and its admin."""
    from issuance import bootstrap

    w = World(platform)
    with platform.uow() as uow:
        tenant = bootstrap.initialise(uow, platform.policy, "230000", "黑龙江省")
        bootstrap.create_admin(uow, platform.policy, tenant, "admin", PASSWORD)
        uow.commit()
        w.tenant_id = tenant.id
    w.admin = w.actor("admin")
    assert w.admin.is_admin and w.admin.tenant_id == w.tenant_id
    w.dept, w.dept_admin = w.add_department("哈尔滨市市场监督管理局", "11230100MB0000001X")
    w.clerk = w.add_user("clerk1", "clerk", w.dept.id)
    w.reviewer = w.add_user("reviewer1", "reviewer", w.dept.id)
    return w


SAMPLES = Path(__file__).resolve().parents[1] / "issuance" / "data"
