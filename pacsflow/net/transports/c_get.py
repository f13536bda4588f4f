"""The ``c-get`` transport: C-FIND finds, C-GET retrieves on pacsflow's own association.

The images come back on the association pacsflow opens, so the PACS needs
no route to pacsflow and pacsflow no inbound port; they are received in this
process, their rows made on arrival (:mod:`pacsflow.net.get`).
"""

from __future__ import annotations

from pathlib import Path

from pacsflow.net.get import get_study, study_kinds
from pacsflow.net.move import MoveResult
from pacsflow.net.storage_files import prepare_storage
from pacsflow.net.transports.dimse import DimseTransport
from pacsflow.net.transports.interface import NO_OPTIONS, PacsLink, RetrieveOptions, SiteNeeds

__all__ = ["CGet", "transport"]


class CGet(DimseTransport):
    """C-FIND finds, C-GET retrieves on pacsflow's own association (see the module)."""

    name = "c-get"
    label = "C-GET"
    needs = SiteNeeds(dimse_node=True, web_url=False, receiver=False)

    def retrieve(
        self, link: PacsLink, storage: Path, study_uid: str, options: RetrieveOptions = NO_OPTIONS
    ) -> MoveResult:
        """Ask which SOP classes (and transfer syntaxes) the study holds, then C-GET it.

        Raises:
            The errors of :func:`~pacsflow.net.get.study_kinds` and
            :func:`~pacsflow.net.get.get_study`.
        """
        prepare_storage(storage)
        with self.query_channel(link) as ask:
            kinds = study_kinds(ask, study_uid, options.series_uids)
        return get_study(
            link.local,
            link.node,
            study_uid,
            storage,
            series_uids=options.series_uids,
            kinds=kinds,
            timeouts=link.timeouts,
            arrivals=options.arrivals,
        )


transport = CGet()
