"""The running platform: settings, database, encryption keys and ledger, built once per process."""

from __future__ import annotations

import threading
from functools import cached_property

from sqlalchemy import Engine

from .config import Settings
from .db import make_engine, make_session_factory


class Platform:
    """Everything a command, the web app or a test needs, opened lazily and closed together."""

    def __init__(self, settings: Settings, read_only_ledger: bool = False) -> None:
        """``read_only_ledger``: for a process that only answers questions (a web or sharing worker
        of several): on the chain it follows the logs itself instead of opening the chain index,
        which one process holds. The local store has no such mode: it is one process's."""
        self.settings = settings
        self.read_only_ledger = read_only_ledger
        self._ledger = None
        self._node = None  # the embedded ledger node, when this process started it
        self._lock = threading.Lock()

    @cached_property
    def engine(self) -> Engine:
        return make_engine(self.settings.database_url, self.settings.database.echo)

    @cached_property
    def session_factory(self):
        return make_session_factory(self.engine)

    @cached_property
    def policy(self):
        from issuance.accounts import Policy

        return Policy.from_settings(self.settings)

    @cached_property
    def ca(self):
        """The platform CA of this data directory (its key decrypted with the KEK)."""
        from .crypto.at_rest import load_kek
        from .crypto.ca import CertificateAuthority

        return CertificateAuthority(self.settings.ca_path, load_kek(self.settings.kek_path))

    @cached_property
    def pdf_ca(self):
        """The ECDSA root under which PDFs are signed (PDF readers know no SM2)."""
        from .crypto.at_rest import load_kek
        from .crypto.ca import CertificateAuthority

        return CertificateAuthority(self.settings.pdf_ca_path, load_kek(self.settings.kek_path))

    def uow(self):
        """A new unit of work whose cipher uses this deployment's keys."""
        from issuance import keyring
        from issuance.unit_of_work import UnitOfWork

        kek_path = self.settings.kek_path
        return UnitOfWork(self.session_factory, lambda u: keyring.cipher_for(u.session, kek_path), self.settings)

    @property
    def ledger(self):
        """The ledger chosen by ``blockchain.enabled``; the local store when it is false."""
        with self._lock:
            if self._ledger is None:
                if not self.settings.blockchain.enabled:
                    self._ledger = self._open_local()
                elif self.read_only_ledger:
                    self._ledger = self._open_chain_reader()
                else:
                    self._ledger = self._open_chain()
            return self._ledger

    def _open_local(self):
        from ledger.local import LocalLedger

        return LocalLedger(self.settings.ledger_path)

    def _open_chain(self):
        from .crypto.at_rest import load_kek

        bc = self.settings.blockchain
        url = bc.rpc_url
        if not url:
            from .embedded_node import EmbeddedNode

            self._node = EmbeddedNode(self.settings.data_dir, bc.node_port)
            url = self._node.ensure()
        from ledger.chain.factory import open_chain_ledger

        ledger = open_chain_ledger(self.settings.data_dir, url, load_kek(self.settings.kek_path), bc.confirmations)
        if self._node is not None:
            self._node.follow_registry(ledger.deployed.registry)
        return ledger

    def _open_chain_reader(self):
        from chain_client.connection import connect
        from chain_client.deployment import DeploymentError, load_record, record_path
        from chain_client.keystore import Keystores
        from issuance import ledger_claims
        from ledger.chain.readonly import ChainReadLedger
        from ledger.interface import LedgerError

        from .crypto.at_rest import load_kek
        from .embedded_node import EmbeddedNode

        bc = self.settings.blockchain
        url = bc.rpc_url or EmbeddedNode(self.settings.data_dir, bc.node_port).running_url()
        if not url:
            raise LedgerError("the ledger node is not running: start the issuing process (`certledger serve`) first")
        w3 = connect(url)
        try:
            deployed = load_record(record_path(self.settings.data_dir), w3)
        except DeploymentError as exc:
            raise LedgerError(str(exc)) from None
        if deployed is None:
            raise LedgerError("the contracts are not deployed yet: start the issuing process (`certledger serve`) first")
        keys = Keystores(self.settings.data_dir / "keystores", load_kek(self.settings.kek_path))
        return ChainReadLedger(w3, deployed, ledger_claims.locator(self.session_factory),
                               ledger_claims.issuer_directory(self.session_factory, keys.address))

    @property
    def node_url(self) -> str | None:
        """The RPC URL of the chain in use (external or embedded), once the ledger is open."""
        if not self.settings.blockchain.enabled:
            return None
        return self.settings.blockchain.rpc_url or (self._node.url if self._node else None)

    def open_local_store(self):
        """The LevelDB store, whatever the mode (backfill reads it while the chain ledger is open)."""
        return self._open_local()


    def close(self) -> None:
        with self._lock:
            if self._ledger is not None:
                self._ledger.close()
                self._ledger = None
            if self._node is not None:
                self._node.stop()
                self._node = None
        if "engine" in self.__dict__:
            self.engine.dispose()
