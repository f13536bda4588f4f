"""Tasks that create, migrate and dump the pacsflow database."""

from __future__ import annotations

from dataclasses import dataclass

from prefect import task
from prefect.cache_policies import NO_CACHE

from pacsflow.database.dump import dump_database
from pacsflow.database.pacsanini_adoption import AdoptionReport
from pacsflow.database.schema import current_revision, initialize_database
from pacsflow.database.session import session_scope
from pacsflow.retrieval.attempts import PickedStudies, StudyPick, pick_studies_to_move
from tasks.credentials import connect_url
from tasks.engines import engine_for
from tasks.retry import TRANSIENT_RETRIES

__all__ = ["DatabaseSummary", "dump_db_task", "init_db_task", "pick_studies_task"]


@dataclass(frozen=True)
class DatabaseSummary:
    """A database at the newest schema: its ``revision``, and ``adopted_pacsanini``, what
    the adoption of a pacsanini database did (None when there was none)."""

    revision: str
    adopted_pacsanini: AdoptionReport | None


@task(name="init-db", cache_policy=NO_CACHE, **TRANSIENT_RETRIES)
def init_db_task(db_url: str, echo: bool = False) -> DatabaseSummary:
    """Create the database if missing and migrate it to the newest revision."""
    url = connect_url(db_url)
    adopted = initialize_database(url, echo=echo)
    revision = current_revision(url)
    assert revision is not None
    return DatabaseSummary(revision, adopted)


@task(name="dump-db", cache_policy=NO_CACHE)
def dump_db_task(db_url: str, output: str, tables: list[str] | None) -> list[str]:
    """Write the tables to CSV files in ``output``; return their paths."""
    with session_scope(engine_for(db_url)) as session:
        return [str(p) for p in dump_database(session, output, tables)]


@task(name="pick-studies", cache_policy=NO_CACHE, **TRANSIENT_RETRIES)
def pick_studies_task(db_url: str, pick: StudyPick) -> PickedStudies:
    """The found studies to move now (oldest first), and those given up on."""
    return pick_studies_to_move(engine_for(db_url), pick)
