"""The seed's sessions: ``get_db_session`` and ``DBWrapper``, and a commit-or-roll-back block."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session, sessionmaker

from pacsflow.database.engine import make_engine, mask_url
from pacsflow.database.schema import initialize_database

__all__ = ["DBWrapper", "committed", "get_db_session"]


@contextmanager
def get_db_session(db_uri: str | URL) -> Iterator[Session]:
    """A session on its own engine, closed (and the engine disposed) at the end.

    As in the seed, committing is the caller's job; on an exception the
    transaction is rolled back and the exception re-raised.
    """
    engine = make_engine(db_uri)
    try:
        with Session(engine) as session:
            try:
                yield session
            except BaseException:
                session.rollback()
                raise
    finally:
        engine.dispose()


@contextmanager
def committed(session: Session) -> Iterator[None]:
    """Commit the session when the block ends; roll back and re-raise if it fails."""
    try:
        yield
        session.commit()
    except BaseException:
        session.rollback()
        raise


class DBWrapper:
    """Lazily opened database connection for code running in any thread.

    Each instance owns one engine, created on first use, and hands each thread
    its own session from :meth:`conn` (a Session must not be shared between
    threads). :meth:`close` closes them all and disposes the engine. Use it as
    a context manager.

    Args:
        conn_uri: the database URL.
        create_tables: bring the schema to the latest revision (create the
            database if missing) when the engine is first created.
        debug: log SQL statements (never their bound values).
    """

    def __init__(self, conn_uri: str | URL, create_tables: bool = False, debug: bool = False):
        self.conn_uri = conn_uri
        self.create_tables = create_tables
        self.debug = debug
        self._engine: Engine | None = None
        self._factory: sessionmaker[Session] | None = None
        self._sessions: dict[int, Session] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"DBWrapper({mask_url(self.conn_uri)!r})"

    @property
    def engine(self) -> Engine:
        """The instance's engine, created (and the schema initialised if asked) on first use."""
        with self._lock:
            if self._engine is None:
                if self.create_tables:
                    initialize_database(self.conn_uri, echo=False)
                self._engine = make_engine(self.conn_uri, echo=self.debug)
                self._factory = sessionmaker(bind=self._engine)
            return self._engine

    def conn(self) -> Session:
        """The calling thread's session, opened on first call."""
        engine = self.engine
        key = threading.get_ident()
        with self._lock:
            session = self._sessions.get(key)
            if session is None:
                assert self._factory is not None
                session = self._factory(bind=engine)
                self._sessions[key] = session
            return session

    def close(self) -> None:
        """Close every session this instance opened and dispose of its engine."""
        with self._lock:
            sessions, self._sessions = list(self._sessions.values()), {}
            engine, self._engine, self._factory = self._engine, None, None
        for session in sessions:
            session.close()
        if engine is not None:
            engine.dispose()

    def __enter__(self) -> DBWrapper:
        return self

    def __exit__(self, *_exc_info: object) -> None:
        self.close()
