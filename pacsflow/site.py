"""One site's settings as plain values: the PACS, pacsflow's AE, storage, database, retrieval.

A :class:`Site` is resolved once, at the edge (the ``pacsflow`` command from
its options and the environment, a flow started from a deployment or the UI
from its parameters and the worker's environment: :mod:`flows.config`), and
passed whole to the flows, their subflows and the tasks. Below the edge
nothing resolves a setting again. It holds no secret, so it may be a flow
parameter: the database password, the DICOMweb credentials and the
pseudonymisation key travel as :class:`Credentials`, in the process only.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from pacsflow.net.dicomweb.access import WebAccess
from pacsflow.net.nodes import LocalAE, PacsNode

__all__ = ["Credentials", "RetrievalSettings", "Site"]


@dataclass(frozen=True)
class RetrievalSettings:
    """How studies are found and moved, resolved: the window's end is an instant.

    Args:
        concurrency: studies moved at once (associations to the PACS).
        result_cap: the number of C-FIND answers at which the PACS stops;
            reaching it splits the date window.
        institution: stored with patients and images (default: the PACS AE title).
        ingest_workers: 0 ingests in threads of the flow's process; N in a
            pool of N processes.
        window_end: no study is started at or after it (aware); None: no end.
        fail_on_incomplete: end the run Failed when a study is partial or failed.
    """

    concurrency: int = 1
    result_cap: int = 1000
    institution: str | None = None
    ingest_workers: int = 0
    window_end: dt.datetime | None = None
    fail_on_incomplete: bool = False

    def __post_init__(self) -> None:
        if self.concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, not {self.concurrency}")
        if self.ingest_workers < 0:
            raise ValueError(f"ingest_workers cannot be negative, not {self.ingest_workers}")
        if self.result_cap < 1:
            raise ValueError(f"result_cap must be at least 1, not {self.result_cap}")
        if self.window_end is not None and self.window_end.tzinfo is None:
            raise ValueError("window_end must be an aware datetime (with its UTC offset)")


@dataclass(frozen=True)
class Site:
    """Where pacsflow works: every setting resolved, no secret.

    Args:
        pacs: the PACS and its transport.
        local: pacsflow's AE (calling AE, C-MOVE destination, storage SCP).
        storage: the folder receiving the files.
        db_url: the database URL, without its password.
        retrieval: how studies are found and moved.
    """

    pacs: PacsNode
    local: LocalAE
    storage: str
    db_url: str
    retrieval: RetrievalSettings


@dataclass(frozen=True)
class Credentials:
    """The secrets of a site, kept in the process: never a parameter, an artifact or a log.

    Args:
        db_password: the database password (None: none, or in the URL given).
        web: the DICOMweb headers (a token, basic authentication) and TLS trust.
    """

    db_password: str | None = field(default=None, repr=False)
    web: WebAccess = field(default_factory=WebAccess)
