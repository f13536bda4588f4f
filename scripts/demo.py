"""The README's first command (`make demo`): pacsflow end to end on the embedded default.

Until the PACS pipeline lands, the demo indexes a folder of synthetic studies
(invented patients, safe to show) into the default SQLite database and prints
what it stored. Re-running it is safe: nothing is stored twice.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pacsflow.db import initialize_database, parse_dir2sql
from pacsflow.engine import make_engine, mask_url
from pacsflow.models import TABLES
from pacsflow.settings import default_db_url
from pacsflow.synthetic import write_synthetic_folder

DEMO_FOLDER = Path("demo-data")


def main() -> int:
    """Generate the demo folder if needed, index it, print the table counts."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    url = default_db_url()
    if not DEMO_FOLDER.is_dir():
        count = write_synthetic_folder(DEMO_FOLDER, n_studies=12)
        print(f"Wrote {count} synthetic DICOM files to {DEMO_FOLDER}/")
    initialize_database(url)
    summary = parse_dir2sql(DEMO_FOLDER, url, institution_name="demo")
    print(
        f"Indexed {summary.files_seen} files in {summary.seconds:.1f} s into {mask_url(url)}: "
        f"{summary.images_added} new images, {summary.already_present} already present, "
        f"{summary.failed} failed"
    )
    engine = make_engine(url)
    with Session(engine) as session:
        for name, model in TABLES.items():
            rows = session.scalar(select(func.count()).select_from(model))
            print(f"  {name:<13} {rows:>6} rows")
    engine.dispose()
    return 1 if summary.failed else 0


if __name__ == "__main__":
    sys.exit(main())
