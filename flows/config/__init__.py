"""The one configuration package: every setting's environment variable, default and check.

The edge resolves a :class:`~pacsflow.site.Site` here once: the ``pacsflow``
command from its options and the environment, a flow started from a
deployment or the UI from its parameters (:class:`SiteOptions`,
:class:`~flows.options.Retrieval`) and the worker's environment
(:func:`open_site`). Subflows and tasks receive the resolved values and read
no setting again. The secrets (database password, DICOMweb credentials, the
pseudonymisation key) are read here too, and held in the process
(:mod:`tasks.credentials`): never in flow parameters nor ``os.environ``.

Every environment variable's name and every default is in :mod:`flows.config.env`;
the database URL is checked and opened by :mod:`flows.config.database`; the
site is resolved by :mod:`flows.config.resolve`. Import them from here.
"""

from flows.config.database import check_db_url, default_db_url, open_database, split_password
from flows.config.env import (
    DB_PASSWORD_ENV,
    DB_URL_ENV,
    DEFAULT_DB_URL,
    DEFAULT_STORAGE,
    ENV,
    KEY_ENV,
    WEB_ENV,
)
from flows.config.resolve import (
    MissingSettingError,
    SettingSource,
    SiteOptions,
    SiteParameter,
    open_site,
    pseudonym_key_from_env,
    resolve_callers,
    resolve_local,
    resolve_pacs,
    resolve_retrieval,
    resolve_site,
    resolve_storage,
    resolve_web_access,
)

__all__ = [
    "DB_PASSWORD_ENV",
    "DB_URL_ENV",
    "DEFAULT_DB_URL",
    "DEFAULT_STORAGE",
    "ENV",
    "KEY_ENV",
    "WEB_ENV",
    "MissingSettingError",
    "SettingSource",
    "SiteOptions",
    "SiteParameter",
    "check_db_url",
    "default_db_url",
    "open_database",
    "open_site",
    "pseudonym_key_from_env",
    "resolve_callers",
    "resolve_local",
    "resolve_pacs",
    "resolve_retrieval",
    "resolve_site",
    "resolve_storage",
    "resolve_web_access",
    "split_password",
]
