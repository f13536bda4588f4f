"""What a run asks of the retrieval of each study: :class:`RetrievalRequest`."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from pacsflow.net.nodes import LocalAE, PacsNode, Timeouts
from pacsflow.retrieval.claims import DEFAULT_LEASE
from pacsflow.retrieval.series_filter import SeriesFilter

__all__ = ["RetrievalRequest"]


@dataclass(frozen=True)
class RetrievalRequest:
    """Everything needed to retrieve studies from one PACS into one database.

    Args:
        local: pacsflow's AE; its AE title is the C-MOVE destination.
        pacs: the PACS to move from.
        storage: the storage SCP's folder.
        institution: stored with each patient and image.
        timeouts: network timeouts of the C-MOVE and C-FIND associations.
        claim_holder: the name under which studies are claimed (see
            :mod:`pacsflow.retrieval.claims`); one per run, so a Prefect retry of the run's
            task keeps its claim. A new one per call when None.
        claim_lease: how long a claim lasts if this process dies unseen.
        series_filter: retrieve only the series it selects (series-level C-FIND and
            C-MOVE); completeness is judged on them. Empty: the whole study.
        not_after: the end of the run's retrieval window (aware); a study whose
            transfer would start later is not started (not claimed, nothing recorded).
    """

    local: LocalAE
    pacs: PacsNode
    storage: Path
    institution: str
    timeouts: Timeouts = field(default_factory=Timeouts)
    claim_holder: str | None = None
    claim_lease: dt.timedelta = DEFAULT_LEASE
    series_filter: SeriesFilter = field(default_factory=SeriesFilter)
    not_after: dt.datetime | None = None
