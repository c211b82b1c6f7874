"""A demonstration run on a fresh deployment: a department, its staff, the business-licence type
of the standard's examples with a surface design, and N certificates taken from entry through
both reviews to effective — so a newcomer sees the whole flow on its own data directory.

Everything made here is labelled 演示 (demo); a second run reuses the department and type.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import func, select
from stdnum.cn import uscc

from . import accounts, cert_types, certificates, departments
from .certificates import Entry
from .context import Actor
from .errors import NotFound
from .models import Certificate, CertificateType, Department, User

SAMPLE = Path(__file__).resolve().parent / "data" / "business_licence_type.json"
DEMO_TYPE_CODE = "11100000000013338W032"
DEMO_DEPT = "演示市市场监督管理局"
DEMO_REGION = "230100"


def _uscc(prefix: str, n: int) -> str:
    body = f"{prefix}{n:010d}"[:17]
    return body + uscc.calc_check_digit(body)


@dataclass
class DemoReport:
    identifiers: list[str] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    account_id: str = ""  # of the demo client system, to try the sharing interface at once


def _password() -> str:
    return "Demo-" + secrets.token_urlsafe(12) + "9a"


def _actor(platform, uow, username: str):
    user = uow.session.execute(select(User).where(User.username == username)).scalar_one_or_none()
    if user is None:
        raise NotFound(f"no user {username} (give the platform admin's name with --admin)")
    return accounts.actor_for(uow, user, platform.policy, "127.0.0.1")


def _ensure_staff(platform, admin_name: str):
    """(dept admin, clerk, reviewer) actors of the demo department, made on the first run."""
    dept_code = _uscc("1123010", 42)
    with platform.uow() as uow:
        admin = _actor(platform, uow, admin_name)
        dept = uow.session.execute(select(Department).where(Department.code == dept_code)).scalar_one_or_none()
        if dept is None:
            accounts.create_user(uow, admin, platform.policy, "demo_head", _password())
            uow.commit()
    if dept is None:
        with platform.uow() as uow:
            dept = departments.apply(uow, _actor(platform, uow, "demo_head"), name=DEMO_DEPT, code=dept_code,
                                     region_code=DEMO_REGION)
            uow.commit()
        with platform.uow() as uow:
            departments.review(uow, _actor(platform, uow, admin_name), dept.id, True)
            for name, role in (("demo_clerk", "clerk"), ("demo_reviewer", "reviewer")):
                accounts.create_user(uow, _actor(platform, uow, admin_name), platform.policy, name, _password(),
                                     roles=[(role, dept.id)])
            uow.commit()
    with platform.uow() as uow:
        return (_actor(platform, uow, "demo_head"), _actor(platform, uow, "demo_clerk"),
                _actor(platform, uow, "demo_reviewer"), _actor(platform, uow, admin_name))


def _ensure_type(platform, head, admin) -> int:
    from ofd.design import default_for

    with platform.uow() as uow:
        t = uow.session.execute(select(CertificateType).where(
            CertificateType.tenant_id == head.tenant_id, CertificateType.code == DEMO_TYPE_CODE)).scalar_one_or_none()
        if t is not None:
            return t.id
        sample = json.loads(SAMPLE.read_text(encoding="utf-8"))
        t = cert_types.create(uow, head, **cert_types.from_sample(sample, DEMO_TYPE_CODE))
        columns = [(f["columnName"], f["name"]) for f in sample["fields"]][:6]
        cert_types.save_surface_design(uow, head, t.id, default_for(columns).to_json())
        cert_types.submit(uow, head, t.id)
        uow.commit()
    with platform.uow() as uow:
        cert_types.review(uow, admin, t.id, True)
        uow.commit()
    return t.id


@dataclass(frozen=True)
class DemoSetup:
    """The demo department's staff (as actors) and its business-licence type."""

    head: Actor
    clerk: Actor
    reviewer: Actor
    admin: Actor
    type_id: int


def prepare(platform, admin_name: str = "admin") -> DemoSetup:
    """The demo department, staff and type, made on the first call and found on later ones."""
    head, clerk, reviewer, admin = _ensure_staff(platform, admin_name)
    return DemoSetup(head, clerk, reviewer, admin, _ensure_type(platform, head, admin))


def sample_entries(start: int, count: int) -> list[Entry]:
    """``count`` business licences numbered from ``start``, each with its own valid USCC."""
    entries = []
    for i in range(start, start + count):
        code = _uscc("9123010", 7_000_000 + i)
        entries.append(Entry({"holder": f"演示科技有限公司{i}", "holder_code": code, "number": code,
                              "issue_date": "2026-01-05", "valid_from": "2026-01-05", "valid_to": "2046-01-04"},
                             {"ENTNAME": f"演示科技有限公司{i}", "dom": "哈尔滨市南岗区演示路1号", "name": "张三",
                              "REPORTTYPE": "有限责任公司", "opscope": "软件开发", "estdate": "2019-02-03"}))
    return entries


def enter_and_approve(platform, setup: DemoSetup, count: int) -> list[int]:
    """Enter ``count`` new certificates and take them through both reviews: ids waiting to issue."""
    with platform.uow() as uow:
        start = uow.session.scalar(select(func.count()).select_from(Certificate).where(
            Certificate.type_id == setup.type_id))
        ids = [c.id for c in certificates.enter_many(uow, setup.clerk, setup.type_id, sample_entries(start + 1, count))]
        uow.commit()
    with platform.uow() as uow:
        certificates.submit_many(uow, setup.clerk, ids)
        certificates.review_many(uow, setup.reviewer, ids, certificates.ENTRY_REVIEW, True)
        certificates.review_many(uow, setup.reviewer, ids, certificates.ISSUANCE_REVIEW, True)
        uow.commit()
    return ids


def run_demo(platform, count: int, admin_name: str = "admin") -> DemoReport:
    from .pipeline import issue
    from .pipeline.documents import documents_dir, file_path

    setup = prepare(platform, admin_name)
    ids = enter_and_approve(platform, setup, count)
    report = issue(platform, ids)
    out = DemoReport(identifiers=list(report.effective), failed={k: f"{s.value}: {e}" for k, (s, e) in report.failed.items()},
                     account_id=ensure_client_system(platform, setup))
    folder = documents_dir(platform.settings.data_dir)
    out.files = [p for p in (file_path(folder, i) for i in out.identifiers) if p.exists()]
    return out


DEMO_SYSTEM = "演示业务系统"
DEMO_SYSTEM_IP = "127.0.0.1"


def _ensure_public_catalog(platform, setup: DemoSetup) -> int:
    """The demo type's catalog, public (社会公示) and approved; registered or re-registered as needed."""
    from . import catalogs
    from .errors import ValidationError
    from .models import Catalog, ShareType
    from .models.org import ReviewState

    for _ in range(3):  # at most: approve a pending registration, re-register as public, approve that
        with platform.uow() as uow:
            cat = uow.session.execute(select(Catalog).where(Catalog.type_id == setup.type_id)).scalar_one_or_none()
            if cat is not None and cat.status is ReviewState.APPROVED and cat.share_type is ShareType.PUBLIC:
                return cat.id
            if cat is not None and cat.status is ReviewState.DISABLED:
                raise ValidationError({"catalog": "the demo type's catalog is disabled and cannot be shared again"})
            if cat is None or cat.status is not ReviewState.SUBMITTED:
                cat = catalogs.register(uow, setup.head, setup.type_id, ShareType.PUBLIC.value,
                                        description="演示目录（社会公示）")
            catalogs.review(uow, setup.admin, cat.id, True)
            uow.commit()
    raise RuntimeError("the demo catalog did not become public")


def ensure_client_system(platform, setup: DemoSetup) -> str:
    """The demo department's business system on 127.0.0.1, approved, with approved usage of the
    demo type through a public catalog: what a local client needs to call the sharing interface.
    Returns its AccountId; a second call finds everything in place and returns the same one."""
    from . import client_systems, usage
    from .models import ClientSystem, UsageApplication, UsageStatus
    from .models.org import ReviewState

    dept_id = setup.head.require_department()
    with platform.uow() as uow:
        cs = uow.session.execute(select(ClientSystem).where(
            ClientSystem.department_id == dept_id, ClientSystem.name == DEMO_SYSTEM)).scalar_one_or_none()
        if cs is None:
            cs = client_systems.register(uow, setup.head, DEMO_SYSTEM, [DEMO_SYSTEM_IP],
                                         description="演示：本机调用共享接口的业务系统")
        elif DEMO_SYSTEM_IP not in cs.ips:
            client_systems.update(uow, setup.head, cs.id, ips=[*cs.ips, DEMO_SYSTEM_IP][-client_systems.MAX_IPS:])
        elif cs.status in (ReviewState.REJECTED, ReviewState.DISABLED):
            client_systems.resubmit(uow, setup.head, cs.id)
        if cs.status is ReviewState.SUBMITTED:
            client_systems.review(uow, setup.admin, cs.id, True)
        system_id = cs.id
        uow.commit()
    catalog_id = _ensure_public_catalog(platform, setup)
    with platform.uow() as uow:
        cs = uow.session.get(ClientSystem, system_id)
        type_code = uow.session.get(CertificateType, setup.type_id).code
        if usage.allowed(uow.session, cs, type_code) is None:
            pending = uow.session.execute(select(UsageApplication).where(
                UsageApplication.client_system_id == cs.id, UsageApplication.catalog_id == catalog_id,
                UsageApplication.status.in_((UsageStatus.SUBMITTED, UsageStatus.APPROVED)))).scalar_one_or_none()
            if pending is None:
                usage.apply(uow, setup.head, cs.id, catalog_id, "演示：本部门业务系统核验营业执照")
            elif pending.status is UsageStatus.SUBMITTED:  # applied while the catalog was on demand
                usage.review(uow, setup.reviewer, pending.id, True)
        uow.commit()
        if usage.allowed(uow.session, cs, type_code) is None:
            raise RuntimeError(f"{DEMO_SYSTEM} has no approved usage of {type_code}")
        return cs.account_id
