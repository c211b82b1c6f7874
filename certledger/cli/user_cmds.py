"""`certledger user ...`: accounts administration from the shell."""

from __future__ import annotations

import click
from sqlalchemy import select

from .main import cli


def admin_actor(uow, platform):
    """The CLI acts as the platform itself: an admin identity recorded as 'cli' in the audit log."""
    from issuance.context import Actor
    from issuance.models import Tenant

    tenant = uow.session.execute(select(Tenant).where(Tenant.code == platform.settings.platform.tenant_code)).scalar_one()
    return Actor(None, "cli", tenant.id, None, is_admin=True, ip="local")


@cli.group("user")
def user_group() -> None:
    """Manage user accounts."""


@user_group.command("create")
@click.argument("username")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True, envvar="CERTLEDGER_NEW_PASSWORD")
@click.option("--role", "roles", multiple=True, help="ROLE or ROLE@DEPARTMENT_CODE, e.g. clerk@11230100MB0000000X")
@click.option("--name", "display_name", default="")
@click.pass_obj
def create(state, username: str, password: str, roles: tuple[str, ...], display_name: str) -> None:
    """Create a user with roles in departments."""
    from issuance import accounts
    from issuance.errors import ValidationError
    from issuance.models import Department

    platform = state.platform
    with platform.uow() as uow:
        actor = admin_actor(uow, platform)
        grants = []
        for r in roles:
            code, _, dept_code = r.partition("@")
            dept_id = None
            if dept_code:
                dept_id = uow.session.execute(select(Department.id).where(Department.code == dept_code.upper())).scalar()
                if dept_id is None:
                    raise ValidationError({"role": f"no department with code {dept_code}"})
            grants.append((code, dept_id))
        user = accounts.create_user(uow, actor, platform.policy, username, password, display_name, roles=grants)
        uow.commit()
        click.echo(f"created user {user.username} (id {user.id})")


@user_group.command("unlock")
@click.argument("username")
@click.pass_obj
def unlock(state, username: str) -> None:
    """Unlock an account locked after failed logins."""
    from issuance import accounts
    from issuance.errors import NotFound
    from issuance.models import User

    platform = state.platform
    with platform.uow() as uow:
        user = uow.session.execute(select(User).where(User.username == username)).scalar_one_or_none()
        if user is None:
            raise NotFound(f"no user {username}")
        accounts.unlock(uow, admin_actor(uow, platform), user.id)
        uow.commit()
    click.echo(f"unlocked {username}")


@user_group.command("list")
@click.pass_obj
def list_users(state) -> None:
    """List accounts with their lock state."""
    from issuance.models import User

    with state.platform.uow() as uow:
        for u in uow.session.execute(select(User).order_by(User.username)).scalars():
            flag = "locked" if u.locked else "active" if u.active else "disabled"
            click.echo(f"{u.id}\t{u.username}\t{u.display_name}\t{flag}")
