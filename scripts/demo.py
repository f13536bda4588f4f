"""The README's first command (`make demo`): the PACS pipeline end to end, no configuration.

The demo starts a local PACS of its own on 127.0.0.1 (Orthanc when installed,
else pynetdicom's bundled qrscp; ``PACSFLOW_DEMO_PACS=orthanc|qrscp`` picks
one), loads it with synthetic studies (invented patients, safe to show, kept
in ``demo-data/`` so every run offers the same studies), runs the ``pipeline``
Prefect flow into the default SQLite database (received files go to
``demo-storage/``), prints the summary and the table counts, and stops the
PACS and pacsflow's receiver. Re-running it is safe: the second run finds the same studies and moves
nothing, because they are all retrieved.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
from pathlib import Path

from tasks.prefect_defaults import apply_prefect_defaults

DEMO_FOLDER = Path("demo-data")
STORAGE = Path("demo-storage")
FIRST_DAY, LAST_DAY = dt.date(2024, 1, 1), dt.date(2024, 1, 12)


def main() -> int:
    """Start the local PACS, run the pipeline against it, print what happened."""
    apply_prefect_defaults()
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    # Imported after the defaults: Prefect reads its settings when it loads.
    from sqlalchemy import func, select
    from sqlalchemy.orm import Session

    from flows.config import SiteOptions, default_db_url
    from flows.dates import DateRange
    from flows.pipeline import pipeline
    from pacsflow.database.engine import make_engine, mask_url
    from pacsflow.database.models import TABLES
    from pacsflow.demo.synthetic import write_synthetic_folder
    from pacsflow.net.nodes import LocalAE, PacsNode
    from pacsflow.net.receiver_lease import stop_receiver
    from pacsflow.peers.demo_pacs import DemoPacs, start_demo_pacs
    from pacsflow.peers.orthanc import OrthancServer
    from pacsflow.peers.ports import free_port
    from pacsflow.peers.qrscp import QrscpServer

    url = default_db_url()
    if not DEMO_FOLDER.is_dir():
        count = write_synthetic_folder(DEMO_FOLDER, n_studies=12)
        print(f"Wrote {count} synthetic DICOM files to {DEMO_FOLDER}/")
    scp_port = free_port()
    destinations = {"PACSFLOW": ("127.0.0.1", scp_port)}
    choice = os.environ.get("PACSFLOW_DEMO_PACS", "auto")
    pacs: DemoPacs
    if choice == "orthanc":
        pacs = OrthancServer(destinations).start()
    elif choice == "qrscp":
        pacs = QrscpServer(destinations).start()
    else:
        pacs = start_demo_pacs(destinations)
    try:
        files = sorted(p for p in DEMO_FOLDER.rglob("*") if p.is_file())
        pacs.upload_many([p.read_bytes() for p in files])
        print(
            f"Started {type(pacs).__name__} as {pacs.ae_title} on 127.0.0.1:{pacs.dicom_port} "
            f"with {len(files)} instances"
        )
        print("Running the pipeline flow (the first run starts a temporary Prefect server)...")
        result = pipeline(
            dates=DateRange(FIRST_DAY, LAST_DAY),
            site=SiteOptions(
                pacs=PacsNode(pacs.ae_title, "127.0.0.1", pacs.dicom_port),
                local=LocalAE(port=scp_port),
                storage=str(STORAGE),
                db_url=url,
            ),
            show_progress=True,
        )
    finally:
        pacs.stop()
        stop_receiver(STORAGE)  # the run's C-MOVE receiver: the next demo picks another port
    print(
        f"{result.find.studies_found} studies found ({result.find.studies_new} new) in "
        f"{result.find.queries} queries; {result.move.studies_picked} picked: "
        f"{result.move.studies_complete} complete, {result.move.studies_partial} partial, "
        f"{result.move.studies_failed} failed; {result.move.images_added} images added to "
        f"{mask_url(url)} in {result.seconds:.1f} s"
    )
    engine = make_engine(url)
    width = max(map(len, TABLES))
    with Session(engine) as session:
        for name, model in TABLES.items():
            rows = session.scalar(select(func.count()).select_from(model))
            print(f"  {name:<{width}} {rows:>6} rows")
    engine.dispose()
    return 1 if result.move.studies_partial or result.move.studies_failed else 0


if __name__ == "__main__":
    sys.exit(main())
