"""Creating a data directory: config, keys, database schema, roles, tenant and first admin.

All or nothing: init refuses a directory that holds a config.toml, so a half-made one would have
to be cleaned up by hand before init could run again. A new directory is therefore built under a
hidden sibling name and renamed into place once complete (a crash leaves only that hidden
sibling). An existing directory (an empty volume, a mount point, a folder with the operator's
own files) cannot be swapped in one rename, so it is built in place and, on failure, exactly what
init added is removed again. A database named by ``database.url`` lives outside the directory:
a failed init may leave its schema behind, which the next init's migration takes as it is.
"""

from __future__ import annotations

import os
import secrets
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from .config import CONFIG_FILE, load_settings, render_config
from .crypto.at_rest import create_kek
from .db import make_engine
from .db.migrate import upgrade


class AlreadyInitialised(Exception):
    pass


def init_data_dir(path: Path, database_url: str = "", blockchain_enabled: bool = False) -> None:
    """Config, keys, CAs, schema (and the own chain's node): all of it at ``path``, or nothing."""
    with building_data_dir(path) as work:
        populate_data_dir(work, database_url, blockchain_enabled)


@contextmanager
def building_data_dir(path: Path) -> Iterator[Path]:
    """The folder to build the data directory ``path`` in; complete at ``path`` once the block ends.

    If the block raises (Ctrl-C included), whatever was built is removed, and so are parent
    folders this created; files that were in an existing ``path`` before are left untouched.
    Refuses an initialised directory before touching anything.
    """
    path = Path(path)
    _refuse_initialised(path)
    if path.exists():
        if not path.is_dir():
            raise NotADirectoryError(f"{path} exists and is not a directory")
        before = _contents(path)
        try:
            yield path
        except BaseException:
            _remove_added(path, before)
            raise
        return
    missing_parents = [p for p in path.absolute().parents if not p.exists()]  # deepest first
    path.parent.mkdir(parents=True, exist_ok=True)
    work = path.parent / f".{path.name}.init-{secrets.token_hex(4)}"
    work.mkdir()
    try:
        yield work
        try:
            work.rename(path)  # replaces nothing but an empty directory made meanwhile
        except OSError:
            _refuse_initialised(path)  # another init finished first
            raise
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        for parent in missing_parents:
            try:
                parent.rmdir()
            except OSError:
                break
        raise


def _refuse_initialised(path: Path) -> None:
    config_path = path / CONFIG_FILE
    if config_path.exists():
        raise AlreadyInitialised(f"{path} is already a data directory ({config_path} exists)")


def _contents(root: Path) -> set[Path]:
    """Every path under ``root``, relative to it (symbolic links are listed, not followed)."""
    found: set[Path] = set()
    for dirpath, dirnames, filenames in os.walk(root):
        rel = Path(dirpath).relative_to(root)
        found.update(rel / name for name in (*dirnames, *filenames))
    return found


def _remove_added(root: Path, before: set[Path]) -> None:
    for dirpath, dirnames, filenames in os.walk(root):
        rel = Path(dirpath).relative_to(root)
        for name in list(dirnames):
            if rel / name not in before:
                dirnames.remove(name)  # all of a new folder is new: removed whole, not walked
                target = Path(dirpath, name)
                if target.is_symlink():
                    target.unlink()
                else:
                    shutil.rmtree(target, ignore_errors=True)
        for name in filenames:
            if rel / name not in before:
                Path(dirpath, name).unlink(missing_ok=True)


def populate_data_dir(path: Path, database_url: str = "", blockchain_enabled: bool = False) -> None:
    """Write config.toml and the KEK, create the CAs and the schema, and the own chain's node.

    Leaves a partial directory on failure: call it inside ``building_data_dir``.
    """
    path = Path(path)
    (path / "keys").mkdir(mode=0o700, exist_ok=True)
    (path / "files").mkdir(exist_ok=True)
    tree = {
        "server": {"host": "127.0.0.1", "port": 8000, "secret_key": secrets.token_hex(32)},
        "database": {"url": database_url},
        "blockchain": {"enabled": blockchain_enabled},
        "platform": {"admin_role_id": 1},
        "jobs": {"overdue_interval_seconds": 86400, "outbox_interval_seconds": 10},
        "public": {"verify_rate": "120/minute", "file_rate": "20/minute", "batch_rate": "10/minute",
                   "max_file_mb": 10, "max_batch": 100},  # the public /verify pages: limits shown to operators
    }
    config_path = path / CONFIG_FILE
    config_path.write_text(
        "# CertLedger deployment configuration. Unknown keys stop start-up; see `certledger config keys`.\n"
        + render_config(tree), encoding="utf-8")
    config_path.chmod(0o600)
    settings = load_settings(path)
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
