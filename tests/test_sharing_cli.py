"""`certledger sharing ...`: client systems, usage applications, records and statistics from the shell.

Each test starts from `certledger init --local` and `certledger demo --count 1` (a department with
demo_head / demo_clerk / demo_reviewer, an issued certificate, its type's public catalog, and the
admin `admin`), then drives the commands through click's CliRunner.
"""

from __future__ import annotations

import re
from contextlib import contextmanager

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from certledger.cli.main import cli
from certledger.config import load_settings
from certledger.runtime import Platform
from tests.conftest import FAST_HASHING, PASSWORD

ACCOUNT_ID = re.compile(r"AccountId ([0-9A-F]{32})\b")


@pytest.fixture
def data(tmp_path, database_url):
    d = tmp_path / "data"
    r = _invoke(d, "init", "--local", str(d), "--admin-password", PASSWORD, "--database-url", database_url)
    assert r.exit_code == 0, r.output
    r = _invoke(d, "demo", "--count", "1")
    assert r.exit_code == 0, r.output
    return d


def _invoke(d, *args):
    return CliRunner().invoke(cli, ["--data-dir", str(d), *args], env=FAST_HASHING)


def sharing(d, *args):
    return _invoke(d, "sharing", *args)


def one_line_error(r, text: str) -> None:
    assert r.exit_code == 1, r.output
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and text in lines[0], r.stderr
    assert "Traceback" not in r.output


@contextmanager
def platform_of(d):
    """The domain directly, for what has no command (a second department, a record of a call)."""
    p = Platform(load_settings(d, environ=FAST_HASHING))
    try:
        yield p
    finally:
        p.close()


def _actor(p, uow, username):
    from issuance import accounts
    from issuance.models import User

    user = uow.session.execute(select(User).where(User.username == username)).scalar_one()
    return accounts.actor_for(uow, user, p.policy, "127.0.0.1")


def add_other_department(d) -> None:
    """A second onboarded department with the clerk `clerk2`, the reviewer `reviewer2` and its head `head2`."""
    from issuance import accounts, departments

    with platform_of(d) as p:
        with p.uow() as uow:
            accounts.create_user(uow, _actor(p, uow, "admin"), p.policy, "head2", PASSWORD)
            uow.commit()
        with p.uow() as uow:
            dept = departments.apply(uow, _actor(p, uow, "head2"), name="大庆市市场监督管理局",
                                     code="11230600MB0000002X", region_code="230600")
            uow.commit()
        with p.uow() as uow:
            admin = _actor(p, uow, "admin")
            departments.review(uow, admin, dept.id, True)
            accounts.create_user(uow, admin, p.policy, "clerk2", PASSWORD, roles=[("clerk", dept.id)])
            accounts.create_user(uow, admin, p.policy, "reviewer2", PASSWORD, roles=[("reviewer", dept.id)])
            uow.commit()


def demo_catalog(d) -> tuple[int, str]:
    """(id, type code) of the demo's public catalog, as `sharing catalogs` lists it."""
    r = sharing(d, "catalogs", "--as", "demo_clerk")
    assert r.exit_code == 0, r.output
    rows = [line.split() for line in r.stdout.splitlines()[1:-1]]
    [(cat_id, code, *_rest, share)] = rows
    assert share == "public"
    return int(cat_id), code


def registered_and_approved(d, username: str, name: str, ip: str) -> tuple[int, str]:
    r = sharing(d, "system", "register", "--as", username, "--name", name, "--ip", ip)
    assert r.exit_code == 0 and re.fullmatch(r"client system \d+: submitted\n", r.stdout), r.output
    system_id = int(r.stdout.split()[2].rstrip(":"))
    r = sharing(d, "system", "review", str(system_id), "--as", "admin", "--approve")
    assert r.exit_code == 0 and f"client system {system_id}: approved" in r.stdout, r.output
    return system_id, ACCOUNT_ID.search(r.stdout)[1]


def test_register_approve_apply_and_list_the_call_parameters(data):
    d = data
    r = sharing(d, "system", "register", "--as", "demo_clerk", "--name", "收费系统", "--ip", "10.0.0.5",
                "--ip", "::ffff:10.0.0.6", "--description", "窗口收费")
    assert r.exit_code == 0 and re.fullmatch(r"client system \d+: submitted\n", r.stdout), r.output
    system_id = int(r.stdout.split()[2].rstrip(":"))
    r = sharing(d, "system", "list", "--as", "admin", "--status", "submitted")
    assert r.exit_code == 0 and "收费系统" in r.stdout and "10.0.0.5,10.0.0.6" in r.stdout, r.output
    assert r.stdout.splitlines()[0].split() == ["ID", "DEPARTMENT", "NAME", "IPS", "STATUS", "ACCOUNTID"]

    r = sharing(d, "system", "review", str(system_id), "--as", "admin", "--approve")
    assert r.exit_code == 0, r.output
    account = ACCOUNT_ID.search(r.stdout)[1]
    assert len(account) == 32
    r = sharing(d, "system", "list", "--as", "demo_clerk")
    row = next(line for line in r.stdout.splitlines() if "收费系统" in line).split()
    assert row[0] == str(system_id) and row[-2:] == ["approved", account]

    catalog_id, type_code = demo_catalog(d)
    r = sharing(d, "usage", "apply", "--as", "demo_clerk", "--system", str(system_id), "--catalog", str(catalog_id),
                "--reason", "窗口核验营业执照")
    assert r.exit_code == 0 and r.stdout.endswith(": approved\n"), r.output  # public: approved at once
    r = sharing(d, "usage", "list", "--as", "demo_clerk")
    assert r.exit_code == 0, r.output
    entry = r.stdout.split(f"    AccountId   {account}")[0].splitlines()[-1]  # the line above its call parameters
    assert "收费系统" in entry and " approved " in entry and type_code in entry
    assert f"AccountId   {account}" in r.stdout and f"type codes  {type_code}" in r.stdout
    assert "IPs         10.0.0.5, 10.0.0.6" in r.stdout and "VerifyCertificate" in r.stdout
    r = sharing(d, "usage", "apply", "--as", "demo_clerk", "--system", str(system_id), "--catalog", str(catalog_id),
                "--reason", "again")
    one_line_error(r, "already has an application")

    from issuance import usage
    from issuance.models import ClientSystem

    with platform_of(d) as p:  # one call of the interface, as the interface records it
        with p.uow() as uow:
            cs = uow.session.get(ClientSystem, system_id)
            usage.record_call(uow.session, "VerifyCertificate", "0", account, "10.0.0.5", cs, type_code=type_code)
            uow.commit()
    r = sharing(d, "records", "--as", "demo_clerk", "--interface", "VerifyCertificate")
    assert r.exit_code == 0 and account in r.stdout and "(1 records)" in r.stdout, r.output
    r = sharing(d, "records", "--as", "admin", "--interface", "Token")
    assert r.exit_code == 0 and account not in r.stdout and "(0 records)" in r.stdout, r.output
    r = sharing(d, "stats", "--as", "admin")
    assert r.exit_code == 0 and "calls: 1 (1 successful)" in r.stdout and "VerifyCertificate: 1" in r.stdout, r.output
    one_line_error(sharing(d, "stats", "--as", "demo_clerk"), "not a platform administrator")

    r = sharing(d, "system", "disable", str(system_id), "--as", "demo_head", "--reason", "停用")
    assert r.exit_code == 0 and r.stdout == f"client system {system_id}: disabled\n", r.output
    r = sharing(d, "usage", "list", "--as", "demo_clerk")
    assert account not in r.stdout  # no call parameters for a disabled system


def test_refusals_are_one_line_and_change_nothing(data):
    d = data
    add_other_department(d)
    system_id, _account = registered_and_approved(d, "demo_clerk", "收费系统", "10.0.0.5")
    catalog_id, _code = demo_catalog(d)
    r = sharing(d, "usage", "apply", "--as", "demo_clerk", "--system", str(system_id), "--catalog", str(catalog_id),
                "--reason", "核验")
    usage_id = int(r.stdout.split()[2].rstrip(":"))
    r = sharing(d, "system", "register", "--as", "clerk2", "--name", "审批系统", "--ip", "10.1.0.9")
    other_system = int(r.stdout.split()[2].rstrip(":"))

    # a clerk of another department can neither review a system nor a usage application
    one_line_error(sharing(d, "system", "review", str(other_system), "--as", "clerk2", "--approve"),
                   "not a platform administrator")
    one_line_error(sharing(d, "usage", "review", str(usage_id), "--as", "clerk2", "--approve"), "not found")
    one_line_error(sharing(d, "system", "disable", str(system_id), "--as", "clerk2"), "not found")
    one_line_error(sharing(d, "system", "list", "--as", "nobody"), "no user nobody")
    r = sharing(d, "system", "list", "--as", "clerk2")
    assert "审批系统" in r.stdout and "收费系统" not in r.stdout  # a department sees its own systems

    # a rejection needs a reason; a decision is one of --approve / --reject
    r = sharing(d, "system", "review", str(other_system), "--as", "admin", "--reject")
    assert r.exit_code == 2 and "--reject needs --reason" in r.stderr
    r = sharing(d, "system", "review", str(other_system), "--as", "admin")
    assert r.exit_code == 2 and "either --approve or --reject" in r.stderr
    r = sharing(d, "system", "review", str(other_system), "--as", "admin", "--approve", "--reject", "--reason", "x")
    assert r.exit_code == 2
    one_line_error(sharing(d, "system", "review", str(other_system), "--as", "admin", "--reject", "--reason", " "),
                   "a rejection needs a reason")
    r = sharing(d, "system", "list", "--as", "clerk2")
    assert "submitted" in r.stdout and "-" == r.stdout.splitlines()[1].split()[-1]  # still waiting, no AccountId
    r = sharing(d, "system", "review", str(other_system), "--as", "admin", "--reject", "--reason", "IP 不在政务外网")
    assert r.exit_code == 0 and r.stdout == f"client system {other_system}: rejected\n", r.output
    one_line_error(sharing(d, "system", "review", str(other_system), "--as", "admin", "--approve"),
                   "not waiting for a review")
    r = sharing(d, "usage", "apply", "--as", "demo_clerk", "--system", "x", "--catalog", "1", "--reason", "r")
    assert r.exit_code == 2


def test_on_demand_usage_waits_for_the_issuing_department(data):
    from issuance import catalogs
    from issuance.models import Catalog

    d = data
    add_other_department(d)
    catalog_id, type_code = demo_catalog(d)
    with platform_of(d) as p:  # the demo department now shares its catalog on demand (依职能按需共享)
        with p.uow() as uow:
            type_id = uow.session.get(Catalog, catalog_id).type_id
            catalogs.register(uow, _actor(p, uow, "demo_head"), type_id, "on_demand")
            uow.commit()
        with p.uow() as uow:
            catalogs.review(uow, _actor(p, uow, "admin"), catalog_id, True)
            uow.commit()
    system_id, account = registered_and_approved(d, "clerk2", "审批系统", "10.1.0.9")
    r = sharing(d, "usage", "apply", "--as", "clerk2", "--system", str(system_id), "--catalog", str(catalog_id),
                "--reason", "审批时核验营业执照")
    assert r.exit_code == 0 and r.stdout.endswith(": submitted\n"), r.output
    usage_id = int(r.stdout.split()[2].rstrip(":"))
    r = sharing(d, "usage", "list", "--as", "clerk2")
    assert "submitted" in r.stdout and account not in r.stdout  # no call parameters before the approval

    one_line_error(sharing(d, "usage", "review", str(usage_id), "--as", "clerk2", "--approve"),
                   "needs one of the roles")
    one_line_error(sharing(d, "usage", "review", str(usage_id), "--as", "reviewer2", "--approve"),
                   "only the issuing department reviews")
    r = sharing(d, "usage", "review", str(usage_id), "--as", "demo_reviewer", "--reject")
    assert r.exit_code == 2
    r = sharing(d, "usage", "review", str(usage_id), "--as", "demo_reviewer", "--approve")
    assert r.exit_code == 0 and r.stdout == f"usage application {usage_id}: approved\n", r.output
    r = sharing(d, "usage", "list", "--as", "clerk2")
    assert f"AccountId   {account}" in r.stdout and f"type codes  {type_code}" in r.stdout
    assert "IPs         10.1.0.9" in r.stdout
