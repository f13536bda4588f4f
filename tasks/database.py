"""Tasks that create, migrate and dump the pacsflow database."""

from __future__ import annotations

from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from pacsflow.database.dump import dump_database
from pacsflow.database.schema import current_revision, initialize_database
from pacsflow.database.session import session_scope
from pacsflow.retrieval.attempts import PickedStudies, StudyPick, pick_studies_to_move
from tasks.engines import engine_for
from tasks.retry import TRANSIENT_RETRIES
from tasks.settings import resolve_db_url

__all__ = ["dump_db_task", "init_db_task", "pick_studies_task"]


@task(name="init-db", cache_policy=NO_CACHE, **TRANSIENT_RETRIES)
def init_db_task(db_url: str | None, echo: bool = False) -> dict[str, Any]:
    """Create the database if missing and migrate it to the newest revision.

    Returns:
        ``revision``, and ``adopted_pacsanini``: the counts of a pacsanini
        database's adoption (None when there was none).
    """
    url = resolve_db_url(db_url)
    adopted = initialize_database(url, echo=echo)
    revision = current_revision(url)
    assert revision is not None
    return {"revision": revision, "adopted_pacsanini": adopted.as_dict() if adopted else None}


@task(name="dump-db", cache_policy=NO_CACHE)
def dump_db_task(db_url: str | None, output: str, tables: list[str] | None) -> list[str]:
    """Write the tables to CSV files in ``output``; return their paths."""
    with session_scope(engine_for(db_url)) as session:
        return [str(p) for p in dump_database(session, output, tables)]


@task(name="pick-studies", cache_policy=NO_CACHE, **TRANSIENT_RETRIES)
def pick_studies_task(db_url: str | None, pick: StudyPick) -> PickedStudies:
    """The found studies to move now (oldest first), and those given up on."""
    return pick_studies_to_move(engine_for(db_url), pick)
