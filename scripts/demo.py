"""The README's first command (`make demo`): pacsflow end to end on the embedded default.

Until the PACS pipeline lands, the demo writes a folder of synthetic studies
(invented patients, safe to show), runs the ``ingest-dir`` Prefect flow on it
into the default SQLite database, and prints what each table holds. Re-running
it is safe: unchanged files are skipped and nothing is stored twice.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from pacsflow.settings import apply_prefect_defaults

DEMO_FOLDER = Path("demo-data")


def main() -> int:
    """Generate the demo folder if needed, ingest it with the flow, print the table counts."""
    apply_prefect_defaults()
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    # Imported after the defaults: Prefect reads its settings when it loads.
    from sqlalchemy import func, select
    from sqlalchemy.orm import Session

    from flows.ingest_dir import ingest_dir
    from pacsflow.engine import make_engine, mask_url
    from pacsflow.models import TABLES
    from pacsflow.settings import default_db_url
    from pacsflow.synthetic import write_synthetic_folder

    url = default_db_url()
    if not DEMO_FOLDER.is_dir():
        count = write_synthetic_folder(DEMO_FOLDER, n_studies=12)
        print(f"Wrote {count} synthetic DICOM files to {DEMO_FOLDER}/")
    print("Running the ingest-dir flow (the first run starts a temporary Prefect server)...")
    result = ingest_dir(str(DEMO_FOLDER), db_url=url, institution="demo", show_progress=True)
    print(
        f"{result['files_seen']} files into {mask_url(url)}: {result['images_added']} new "
        f"images, {result['unchanged']} unchanged, {result['failed']} failed"
    )
    engine = make_engine(url)
    with Session(engine) as session:
        for name, model in TABLES.items():
            rows = session.scalar(select(func.count()).select_from(model))
            print(f"  {name:<13} {rows:>6} rows")
    engine.dispose()
    return 1 if result["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
