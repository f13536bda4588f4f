"""Silencing pydicom's value warnings, in a module that imports nothing of pacsflow.

It imports pydicom only, so that an import hook may load it the moment
pydicom itself has loaded, whichever pacsflow module asked for pydicom first
(that module may then be only half loaded).
"""

from __future__ import annotations

import logging
import warnings

from pydicom import config

__all__ = ["silence_pydicom_value_warnings"]


def silence_pydicom_value_warnings() -> None:
    """Stop pydicom from warning about odd values, for the whole process.

    pydicom's validation warnings quote the value they dislike, a patient's
    name or ID among them, and go to standard error and to the ``pydicom``
    logger, where Prefect would store them. pacsflow reads tolerantly and
    records what it cannot store in ``ingest_errors``, so these warnings add
    nothing but risk. Applications (the tasks, flows and CLI) call this; the
    library does not change global state by itself.
    """
    config.settings.reading_validation_mode = config.IGNORE
    warnings.filterwarnings("ignore", category=UserWarning, module=r"pydicom(\.|$)")
    logging.getLogger("pydicom").setLevel(logging.ERROR)
