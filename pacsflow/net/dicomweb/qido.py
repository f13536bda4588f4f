"""QIDO-RS: a C-FIND identifier asked over HTTP, answered as data sets.

The identifier's QueryRetrieveLevel picks the resource (studies; the series
of a study; the instances of a series), its non-empty elements become match
parameters and its empty ones ``includefield`` parameters, so the callers of
C-FIND (date windows, cohort items, a study's contents) need no second
version. Answers come in pages (``limit`` / ``offset``) until a short page.

A server that stops answering after a fixed number of matches is detected
as C-FIND's is, by the caller's cap on the answer count; besides, an answer
is reported cut short (status 0xFE00, as Orthanc's C-FIND says it) when the
server says so in a ``Warning: 299`` header or returns a page it already
returned (it ignores ``offset``).
"""

from __future__ import annotations

import logging
from typing import Any

from pydicom.dataset import Dataset
from pydicom.multival import MultiValue

from pacsflow.net.dicomweb.client import DicomWebClient, DicomWebError

LOGGER = logging.getLogger(__name__)

__all__ = ["CUT_SHORT", "DEFAULT_PAGE_SIZE", "qido_answers"]

CUT_SHORT = 0xFE00
"""The status returned for answers cut short (the C-FIND Cancel status)."""

DEFAULT_PAGE_SIZE = 1000
"""Answers asked for per QIDO-RS request."""

_SUCCESS = 0x0000


def _resource(client: DicomWebClient, identifier: Dataset) -> tuple[str, set[str]]:
    """The resource path of the identifier's level, and the keywords its path holds."""
    level = str(identifier.get("QueryRetrieveLevel", "STUDY")).upper()
    study = str(identifier.get("StudyInstanceUID", "") or "")
    series = str(identifier.get("SeriesInstanceUID", "") or "")
    if level == "STUDY":
        return client.path("studies"), set()
    if level == "SERIES" and study:
        return client.path("studies", study, "series"), {"StudyInstanceUID"}
    if level == "IMAGE" and study and series:
        return (
            client.path("studies", study, "series", series, "instances"),
            {"StudyInstanceUID", "SeriesInstanceUID"},
        )
    raise ValueError(f"no QIDO-RS resource for a {level}-level query without its parent UIDs")


def _parameters(identifier: Dataset, in_path: set[str]) -> tuple[list[tuple[str, str]], list[str]]:
    """Match and includefield parameters; a multi-valued key gives its values apart.

    QIDO-RS has no portable way to ask for "any of these values" but for UIDs,
    so a key with several values (ModalitiesInStudy=CT\\MR) is asked once per
    value (returned as the second item).
    """
    matches: list[tuple[str, str]] = []
    includes: list[tuple[str, str]] = []
    alternatives: list[str] = []
    for element in identifier:
        keyword = element.keyword
        if not keyword or keyword == "QueryRetrieveLevel" or keyword in in_path:
            continue
        value = element.value
        if isinstance(value, MultiValue | list) and len(value) > 1:
            matches.append((keyword, ""))  # a placeholder, filled per value
            alternatives = [str(v) for v in value]
        elif value in (None, "") or (isinstance(value, MultiValue | list) and not value):
            includes.append(("includefield", keyword))
        else:
            single = value[0] if isinstance(value, MultiValue | list) else value
            matches.append((keyword, str(single)))
    return matches + includes, alternatives


def qido_answers(
    client: DicomWebClient,
    identifier: Dataset,
    what: str,
    *,
    page_size: int = DEFAULT_PAGE_SIZE,
) -> tuple[list[Dataset], int]:
    """Ask the identifier's query; its answers and 0x0000, or 0xFE00 when cut short.

    Raises:
        DicomWebError and the other errors of :meth:`DicomWebClient.get`.
    """
    path, in_path = _resource(client, identifier)
    params, alternatives = _parameters(identifier, in_path)
    answers: list[Dataset] = []
    code = _SUCCESS
    if not alternatives:
        return _pages(client, path, params, what, page_size)
    seen: set[str] = set()
    placeholder = next(i for i, (_, v) in enumerate(params) if v == "")
    for value in alternatives:
        asked = list(params)
        asked[placeholder] = (asked[placeholder][0], value)
        part, part_code = _pages(client, path, asked, what, page_size)
        code = max(code, part_code)
        for answer in part:
            key = _identity(answer)
            if key not in seen:
                seen.add(key)
                answers.append(answer)
    return answers, code


def _identity(answer: Dataset) -> str:
    for keyword in ("SOPInstanceUID", "SeriesInstanceUID", "StudyInstanceUID"):
        value = str(answer.get(keyword, "") or "")
        if value:
            return value
    return str(id(answer))


def _pages(
    client: DicomWebClient,
    path: str,
    params: list[tuple[str, str]],
    what: str,
    page_size: int,
) -> tuple[list[Dataset], int]:
    answers: list[Dataset] = []
    seen: set[str] = set()
    offset = 0
    while True:
        page, warning = client.get_json(
            path, [*params, ("limit", str(page_size)), ("offset", str(offset))]
        )
        fresh = [_dataset(answer, client, path) for answer in page]
        repeated = sum(1 for answer in fresh if _identity(answer) in seen)
        for answer in fresh:
            seen.add(_identity(answer))
        answers.extend(fresh)
        if "299" in warning or (fresh and repeated == len(fresh)):
            LOGGER.warning("%s cut %s short after %d answers", client.base_url, what, len(seen))
            return _unique(answers), CUT_SHORT
        if len(page) < page_size:
            return _unique(answers), _SUCCESS
        offset += len(page)


def _unique(answers: list[Dataset]) -> list[Dataset]:
    kept: dict[str, Dataset] = {}
    for answer in answers:
        kept.setdefault(_identity(answer), answer)
    return list(kept.values())


def _dataset(answer: dict[str, Any], client: DicomWebClient, path: str) -> Dataset:
    try:
        return Dataset.from_json(answer)
    except (ValueError, TypeError, KeyError) as exc:
        raise DicomWebError(
            f"{client.base_url} answered GET {path} with an invalid DICOM JSON object "
            f"({type(exc).__name__})",
            200,
        ) from None
