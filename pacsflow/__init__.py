"""pacsflow: turn a PACS into a queryable research database.

The package itself is a pure library (models, conversion, data access, DICOM
networking). Prefect tasks and flows live in the ``tasks`` and ``flows``
packages (top-level folders of the repository; inside the wheel, under
``pacsflow/_app``, reached through :mod:`pacsflow.launcher`) and import this
one, never the other way round.
"""

import logging

__version__ = "0.1.0"

# A library never configures logging; applications do.
logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = ["__version__"]
