"""One unit of work per service call: a session that commits all of it or none of it."""

from __future__ import annotations

from types import TracebackType

from sqlalchemy.orm import Session, sessionmaker

from certledger.crypto.at_rest import EnvelopeCipher


class UnitOfWork:
    """``with uow:`` opens a session; ``uow.commit()`` makes the work durable, leaving rolls back."""

    def __init__(self, session_factory: sessionmaker[Session], cipher_provider=None, settings=None) -> None:
        self._factory = session_factory
        self._cipher_provider = cipher_provider
        self.settings = settings
        self.session: Session | None = None

    def __enter__(self) -> "UnitOfWork":
        if self.session is not None:
            raise RuntimeError("unit of work is already open")
        self.session = self._factory()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        assert self.session is not None
        try:
            self.session.rollback()
        finally:
            self.session.close()
            self.session = None

    def commit(self) -> None:
        assert self.session is not None
        self.session.commit()

    def rollback(self) -> None:
        assert self.session is not None
        self.session.rollback()

    @property
    def cipher(self) -> EnvelopeCipher:
        if self._cipher_provider is None:
            raise RuntimeError("this unit of work has no encryption keys")
        return self._cipher_provider(self)
