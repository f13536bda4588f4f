"""The pseudonymised export's entry in a worker process: one study's files."""

from __future__ import annotations

from pathlib import Path

from pacsflow.database.session import session_scope
from pacsflow.export.linkage import record_linkage
from pacsflow.export.pseudonym_key import PseudonymKey
from pacsflow.export.pseudonymise import Pseudonymiser, PseudonymProfile
from pacsflow.export.pseudonymised_files import export_pseudonymised_study
from pacsflow.export.study_files import StudyCopy
from pacsflow.pool_worker import engine_at

__all__ = ["export_pseudonymised_study_at"]


def export_pseudonymised_study_at(
    url: str, study_uid: str, dest: str, key: PseudonymKey, profile: PseudonymProfile, run: str
) -> StudyCopy:
    """Write one study's files pseudonymised and record their linkage in the database at ``url``.

    Args:
        url: the full database URL, password included (resolved by the calling task).
    """
    pseudonymiser = Pseudonymiser(key, profile)
    with session_scope(engine_at(url)) as session:
        done = export_pseudonymised_study(session, study_uid, Path(dest), pseudonymiser, run)
        record_linkage(session, pseudonymiser)
    return done
