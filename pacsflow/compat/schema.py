"""The seed's ``initialize_database(config, echo, force_init)``.

The first argument keeps the seed's name, ``config``, so callers that pass it
by name keep working; it takes a database URL or pacsanini's config object.
A pacsanini database is adopted (:mod:`pacsflow.database.pacsanini_adoption`).
``echo`` defaults to False where the seed printed the DDL by default: a
library stays quiet unless asked (README, compatibility table).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import URL

from pacsflow.database import schema
from pacsflow.database.pacsanini_adoption import AdoptionReport

__all__ = ["initialize_database"]


def initialize_database(
    config: str | URL | Any, echo: bool = False, force_init: bool = False
) -> AdoptionReport | None:
    """Create the database if missing and migrate it to the newest revision (seed API).

    Args:
        config: a database URL, or an object whose ``storage.resources`` is one.
        echo: print the DDL of the revisions to apply first.
        force_init: accepted for the seed's signature; upgrading is always safe.

    Returns:
        The counts of a pacsanini database's adoption, or None.
    """
    return schema.initialize_database(config, echo=echo, force_init=force_init)
