"""`certledger init DIR`: a new data directory with its first platform admin.

Everything, the first admin included, is made inside ``building_data_dir``: a failure at any
step (an unusable database, a weak admin password, the node) leaves no half-made directory
behind, so init can simply run again.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import click

from certledger.config import ConfigError, load_settings
from certledger.datadir import AlreadyInitialised, building_data_dir, populate_data_dir
from .main import cli

ADMIN_PASSWORD_FILE = "keys/initial_admin_password"


def generated_password() -> str:
    # satisfies every class of the password policy whatever the random part holds
    return "Cl-" + secrets.token_urlsafe(12) + "9a"


def _first_admin(work: Path, admin_name: str, password: str, local: bool, password_file: bool) -> None:
    """Roles, tenant and admin in the database; the password file is written before the commit
    so that nothing can fail between a committed admin and a complete directory."""
    from certledger.runtime import Platform
    from issuance import bootstrap

    settings = load_settings(work)
    platform = Platform(settings)
    try:
        if local:
            platform.ledger  # creates the local store
        with platform.uow() as uow:
            tenant = bootstrap.initialise(uow, platform.policy, settings.platform.tenant_code, settings.platform.tenant_name)
            bootstrap.create_admin(uow, platform.policy, tenant, admin_name, password)
            if password_file:
                pw_file = work / ADMIN_PASSWORD_FILE
                pw_file.write_text(password + "\n", encoding="utf-8")
                pw_file.chmod(0o600)
            uow.commit()
    finally:
        platform.close()


@cli.command("init")
@click.argument("directory", type=click.Path(path_type=Path, file_okay=False), required=False)
@click.option("--admin", "admin_name", default="admin", show_default=True, help="User name of the first platform admin.")
@click.option("--admin-password", envvar="CERTLEDGER_ADMIN_PASSWORD", default=None,
              help="Password of the first admin (default: generated, stored 0600 in keys/).")
@click.option("--database-url", default="", help="SQLAlchemy URL (default: SQLite in the data directory).")
@click.option("--local", is_flag=True, help="Anchor in the local LevelDB store (blockchain.enabled = false) "
              "instead of the deployment's own chain.")
@click.option("--exist-ok", is_flag=True, help="Succeed without changes if DIRECTORY is already initialised.")
@click.pass_obj
def init(state, directory: Path | None, admin_name: str, admin_password: str | None, database_url: str,
         local: bool, exist_ok: bool) -> None:
    """Create a data directory: config, keys, database, roles, tenant and the first admin."""
    from sqlalchemy.exc import SQLAlchemyError

    directory = directory or state.data_dir
    generated = admin_password is None
    password = admin_password or generated_password()
    try:
        with building_data_dir(directory) as work:
            populate_data_dir(work, database_url, blockchain_enabled=not local)
            _first_admin(work, admin_name, password, local, password_file=generated)
    except AlreadyInitialised as exc:
        if exist_ok:
            click.echo(f"{directory} is already initialised")
            return
        raise ConfigError(f"config error: {exc}") from None
    except SQLAlchemyError as exc:
        # the driver's first line names host, port and user, never the password; the URL is not echoed
        detail = str(getattr(exc, "orig", None) or exc.__class__.__name__).strip().splitlines()[0][:200]
        raise ConfigError(f"config error: database.url cannot be used ({detail}); nothing was created") from None
    click.echo(f"initialised {directory} ({'local ledger store' if local else 'own ledger chain in ' + str(directory / 'node')})")
    click.echo(f"platform admin: {admin_name}" + (f" (password in {directory / ADMIN_PASSWORD_FILE})" if generated else ""))
