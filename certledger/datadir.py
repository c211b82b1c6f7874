"""Creating a data directory: config, keys, database schema, roles, tenant and first admin."""

from __future__ import annotations

import secrets
from pathlib import Path

from .config import CONFIG_FILE, ConfigError, load_settings, render_config
from .crypto.at_rest import create_kek
from .db import make_engine
from .db.migrate import upgrade


class AlreadyInitialised(Exception):
    pass


def init_data_dir(path: Path, database_url: str = "", blockchain_enabled: bool = False) -> None:
    """Write config.toml and the KEK, then create the schema. Refuses an initialised directory."""
    path = Path(path)
    config_path = path / CONFIG_FILE
    if config_path.exists():
        raise AlreadyInitialised(f"{path} is already a data directory ({config_path} exists)")
    path.mkdir(parents=True, exist_ok=True)
    (path / "keys").mkdir(mode=0o700, exist_ok=True)
    (path / "files").mkdir(exist_ok=True)
    tree = {
        "server": {"host": "127.0.0.1", "port": 8000, "secret_key": secrets.token_hex(32)},
        "database": {"url": database_url},
        "blockchain": {"enabled": blockchain_enabled},
        "platform": {"admin_role_id": 1},
    }
    config_path.write_text(
        "# CertLedger deployment configuration. Unknown keys stop start-up; see `certledger config keys`.\n"
        + render_config(tree), encoding="utf-8")
    config_path.chmod(0o600)
    try:
        settings = load_settings(path)
    except ConfigError:
        config_path.unlink()
        raise
    if not settings.kek_path.exists():
        create_kek(settings.kek_path)
    from .crypto.at_rest import load_kek
    from .crypto.ca import CertificateAuthority

    kek = load_kek(settings.kek_path)
    CertificateAuthority.create(settings.ca_path, kek, f"CertLedger {settings.platform.tenant_name} 平台根证书",
                                "CertLedger")
    # PDF readers (poppler/NSS, Acrobat) know no SM2: PDFs are signed under an ECDSA P-256 root
    CertificateAuthority.create(settings.pdf_ca_path, kek, f"CertLedger {settings.platform.tenant_name} PDF 签章根证书",
                                "CertLedger", algorithm="ecdsa-sha256")
    engine = make_engine(settings.database_url)
    try:
        upgrade(engine)
    finally:
        engine.dispose()
    if blockchain_enabled and not settings.blockchain.rpc_url:
        _init_own_node(path, kek)


def _init_own_node(path: Path, kek: bytes) -> None:
    """The deployment's own one-validator chain, with the platform admin's account funded in genesis."""
    from chain_client.keystore import Keystores
    from ledger.chain.factory import ADMIN_ACCOUNT

    from .embedded_node import init_node

    admin = Keystores(path / "keystores", kek).get_or_create(ADMIN_ACCOUNT)
    init_node(path, admin.address)
