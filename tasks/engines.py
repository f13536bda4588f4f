"""The engines tasks work with: one per database and process, opened on first use.

The core takes an engine from its caller. Tasks run many times in one
process (a flow's thread pool, a worker process taking batch after batch),
so each process keeps its engines here instead of opening one per task run
or per study. Engines are never passed between tasks: each process opens its
own. A few databases at most are kept; the least recently used is disposed.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from sqlalchemy import Engine

from pacsflow.database.engine import make_engine
from tasks.credentials import connect_url

__all__ = ["engine_for"]

_KEPT = 4
_engines: OrderedDict[str, Engine] = OrderedDict()
_lock = threading.Lock()


def engine_for(db_url: str) -> Engine:
    """This process's engine for ``db_url`` (its password from :mod:`tasks.credentials`)."""
    url = connect_url(db_url)
    with _lock:
        engine = _engines.pop(url, None) or make_engine(url)
        _engines[url] = engine
        while len(_engines) > _KEPT:
            _engines.popitem(last=False)[1].dispose()  # connections in use finish first
    return engine
