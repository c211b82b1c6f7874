"""`certledger init DIR`: a new data directory with its first platform admin."""

from __future__ import annotations

import secrets
from pathlib import Path

import click

from certledger.config import ConfigError, load_settings
from certledger.datadir import AlreadyInitialised, init_data_dir
from .main import cli

ADMIN_PASSWORD_FILE = "keys/initial_admin_password"


def generated_password() -> str:
    # satisfies every class of the password policy whatever the random part holds
    return "Cl-" + secrets.token_urlsafe(12) + "9a"


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
    from certledger.runtime import Platform
    from issuance import bootstrap

    directory = directory or state.data_dir
    try:
        init_data_dir(directory, database_url, blockchain_enabled=not local)
    except AlreadyInitialised as exc:
        if exist_ok:
            click.echo(f"{directory} is already initialised")
            return
        raise ConfigError(f"config error: {exc}") from None
    settings = load_settings(directory)
    platform = Platform(settings)
    generated = admin_password is None
    password = admin_password or generated_password()
    try:
        with platform.uow() as uow:
            tenant = bootstrap.initialise(uow, platform.policy, settings.platform.tenant_code, settings.platform.tenant_name)
            bootstrap.create_admin(uow, platform.policy, tenant, admin_name, password)
            uow.commit()
        if local:
            platform.ledger  # creates the local store
    finally:
        platform.close()
    if generated:
        pw_file = directory / ADMIN_PASSWORD_FILE
        pw_file.write_text(password + "\n", encoding="utf-8")
        pw_file.chmod(0o600)
    click.echo(f"initialised {directory} ({'local ledger store' if local else 'own ledger chain in ' + str(directory / 'node')})")
    click.echo(f"platform admin: {admin_name}" + (f" (password in {directory / ADMIN_PASSWORD_FILE})" if generated else ""))
