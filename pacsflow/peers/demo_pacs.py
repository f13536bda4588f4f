"""The demo's PACS: Orthanc if it is installed, else pynetdicom's qrscp."""

from __future__ import annotations

from pathlib import Path

from pacsflow.peers.orthanc import ORTHANC, OrthancServer
from pacsflow.peers.qrscp import QrscpServer

__all__ = ["DemoPacs", "start_demo_pacs"]

DemoPacs = OrthancServer | QrscpServer


def start_demo_pacs(modalities: dict[str, tuple[str, int]]) -> DemoPacs:
    """Start Orthanc if it is installed, else pynetdicom's qrscp; the running server.

    Args:
        modalities: AE title -> (host, port) of the AEs allowed to query and
            retrieve (and the only valid C-MOVE destinations).
    """
    if Path(ORTHANC).is_file():
        return OrthancServer(modalities).start()
    return QrscpServer(modalities).start()
