"""Partial files, and so the files renamed from them, get the modes ``cp`` would give them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

# In a process of its own, as the umask is the whole process's: a storage SCP's
# received file and an export's file, written under umask 027; their modes.
_WRITE = """
import json, os, stat, sys
from pathlib import Path
from pacsflow.export.layout import prepare_destination, write_text_atomically
from pacsflow.net.storage_files import prepare_storage, write_atomically

os.umask(0o027)
root = Path(sys.argv[1])
prepare_storage(root / "storage")
received = root / "storage" / "1.2" / "1.2.3" / "1.2.3.4.dcm"
write_atomically(root / "storage", [b"DICM"], received, sync=False)
prepare_destination(root / "export")
exported = root / "export" / "tables" / "x.csv"
write_text_atomically("a\\n", exported, root / "export")
print(json.dumps({p.name: stat.S_IMODE(p.stat().st_mode) for p in (received, exported)}))
"""


def test_received_and_exported_files_are_0666_less_the_umask(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _WRITE, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    modes = json.loads(done.stdout)
    assert modes == {"1.2.3.4.dcm": 0o640, "x.csv": 0o640}
