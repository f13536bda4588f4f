"""C-GET's storage contexts: one per (SOP class, transfer syntax) the study's instances need.

A C-GET SCP sends each instance on an accepted context of its SOP class;
given one context listing every transfer syntax, the PACS accepts one
(usually uncompressed) and must transcode a compressed instance into it,
which many cannot (Debian's Orthanc 1.10: JPEG 2000, JPEG-LS). So pacsflow
proposes separate contexts, one transfer syntax each: the PACS then finds the
one its instance is stored in and sends it as is (the receiver stores the
bytes received, untranscoded).

What the study holds is learnt from the PACS: SOPClassesInStudy at study
level (one answer: no extra cost); when it is missing or too many classes
share the 127 contexts, an image-level C-FIND per series for SOPClassUID and
(0008,3002) Available Transfer Syntax UID (Orthanc 1.10 answers it empty).
A class whose syntax is unknown gets :data:`STORAGE_SYNTAXES`, trimmed in
their order when the classes are many; pairs that still do not fit are
listed in :class:`StoragePlan`'s ``left_out``. A PACS that tells neither
(DCMTK's dcmqrscp) gets the old proposal: 120 common classes, one context
each with every syntax.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from pydicom.dataset import Dataset
from pynetdicom import ALL_TRANSFER_SYNTAXES, build_context
from pynetdicom.presentation import PresentationContext, StoragePresentationContexts

from pacsflow.dicom.values import is_valid_uid
from pacsflow.net.queries import Ask

LOGGER = logging.getLogger(__name__)

__all__ = [
    "MAX_STORAGE_CONTEXTS",
    "STORAGE_SYNTAXES",
    "StoragePlan",
    "StudyKinds",
    "image_kinds",
    "plan_storage_contexts",
    "study_kinds",
]

MAX_STORAGE_CONTEXTS = 127
"""Storage contexts proposed at most: 128 presentation contexts, one for the C-GET model."""

STORAGE_SYNTAXES = (
    "1.2.840.10008.1.2.1",  # Explicit VR Little Endian
    "1.2.840.10008.1.2",  # Implicit VR Little Endian
    "1.2.840.10008.1.2.4.90",  # JPEG 2000 lossless
    "1.2.840.10008.1.2.4.70",  # JPEG lossless, first-order prediction
    "1.2.840.10008.1.2.4.80",  # JPEG-LS lossless
    "1.2.840.10008.1.2.5",  # RLE lossless
    "1.2.840.10008.1.2.4.50",  # JPEG baseline
    "1.2.840.10008.1.2.4.91",  # JPEG 2000
    "1.2.840.10008.1.2.4.81",  # JPEG-LS near-lossless
    "1.2.840.10008.1.2.4.51",  # JPEG extended
    "1.2.840.10008.1.2.4.57",  # JPEG lossless
    "1.2.840.10008.1.2.1.99",  # Deflated Explicit VR Little Endian
    "1.2.840.10008.1.2.4.201",  # HTJ2K lossless
    "1.2.840.10008.1.2.4.203",  # HTJ2K
    "1.2.840.10008.1.2.2",  # Explicit VR Big Endian (retired)
)
"""The transfer syntaxes proposed for a SOP class whose instances' syntax is not known,
most wanted first: the uncompressed ones, then the common compressed ones."""

StudyKinds = Mapping[tuple[str, str | None], int]
"""Instances per (SOP class, transfer syntax); syntax None: the PACS did not tell."""


@dataclass(frozen=True)
class StoragePlan:
    """The storage contexts to propose, and the (SOP class, syntax) pairs that did not fit."""

    contexts: list[PresentationContext]
    #: Pairs not proposed -> their instances (0: unknown); syntax None: any syntax.
    left_out: dict[tuple[str, str | None], int] = field(default_factory=dict)
    #: SOP classes of unknown syntax proposed in the first syntaxes of STORAGE_SYNTAXES only.
    trimmed: list[str] = field(default_factory=list)

    def left_out_message(self) -> str:
        """What was not proposed, in one sentence ("" when everything fits)."""
        if not self.left_out:
            if not self.trimmed:
                return ""
            return (
                f"SOP classes {', '.join(self.trimmed)} were proposed in fewer transfer "
                "syntaxes than usual, to fit in the association's 128 presentation contexts; "
                "retrieve the study by C-MOVE or DICOMweb"
            )
        named = ", ".join(
            f"{sop_class} in {syntax or 'any transfer syntax'}"
            for sop_class, syntax in sorted(self.left_out, key=lambda p: (p[0], p[1] or ""))
        )
        return (
            f"{len(self.left_out)} (SOP class, transfer syntax) pairs did not fit in the "
            f"association's 128 presentation contexts and were not proposed ({named}); "
            "retrieve the study by C-MOVE or DICOMweb"
        )


def study_kinds(ask: Ask, study_uid: str, series_uids: Sequence[str] = ()) -> StudyKinds:
    """The study's (SOP class, transfer syntax) pairs, as far as the PACS tells them.

    SOPClassesInStudy first; an image-level query of each series (``series_uids``,
    or every series of the study) when that gives nothing or more classes than
    :data:`STORAGE_SYNTAXES` fit for each. Empty when the PACS tells nothing.
    """
    classes = _study_sop_classes(ask, study_uid)
    if classes and len(classes) * len(STORAGE_SYNTAXES) <= MAX_STORAGE_CONTEXTS:
        return dict.fromkeys(((c, None) for c in classes), 0)
    kinds = image_kinds(ask, study_uid, series_uids)
    return kinds or dict.fromkeys(((c, None) for c in classes), 0)


def plan_storage_contexts(kinds: StudyKinds, limit: int = MAX_STORAGE_CONTEXTS) -> StoragePlan:
    """One context per (SOP class, transfer syntax), at most ``limit``.

    Pairs the PACS named come first, then each class of unknown syntax gets
    the first syntaxes of :data:`STORAGE_SYNTAXES` the room allows (at least
    one); classes with more instances are served first. Without ``kinds``
    (dcmqrscp tells neither), pynetdicom's 120 common storage classes, one
    context each offering every syntax: the PACS picks one (it must then
    transcode what is stored otherwise), as there is no room for more.
    """
    if not kinds:
        classes = [str(c.abstract_syntax) for c in StoragePresentationContexts][:limit]
        return StoragePlan([build_context(uid, ALL_TRANSFER_SYNTAXES) for uid in classes])
    by_count = sorted(kinds.items(), key=lambda item: (-item[1], item[0][0], item[0][1] or ""))
    known = [pair for pair, _ in by_count if pair[1] is not None]
    open_classes = [c for (c, s), _ in by_count if s is None]
    chosen = known[:limit]
    room = limit - len(chosen)
    each = min(len(STORAGE_SYNTAXES), room // len(open_classes)) if open_classes else 0
    trimmed = open_classes if 0 < each < len(STORAGE_SYNTAXES) else []
    if each == 0:  # one context each, as far as they go
        chosen += [(c, STORAGE_SYNTAXES[0]) for c in open_classes[:room]]
        trimmed, open_classes = open_classes[:room], open_classes[room:]
    else:
        taken = set(chosen)
        for sop_class in open_classes:
            syntaxes = [s for s in STORAGE_SYNTAXES if (sop_class, s) not in taken]
            chosen += [(sop_class, s) for s in syntaxes[:each]]
        open_classes = []
    left_out = {pair: kinds[pair] for pair in known[limit:]}
    left_out.update({(c, None): kinds[(c, None)] for c in open_classes})
    return StoragePlan([build_context(c, s) for c, s in chosen], left_out, sorted(trimmed))


def _study_sop_classes(ask: Ask, study_uid: str) -> list[str]:
    query = Dataset()
    query.QueryRetrieveLevel = "STUDY"
    query.StudyInstanceUID = study_uid
    query.SOPClassesInStudy = ""
    answers, _ = ask(query, f"the query of the SOP classes of study {study_uid}")
    classes: set[str] = set()
    for answer in answers:
        classes.update(_uids(answer.get("SOPClassesInStudy")))
    return sorted(classes)


def image_kinds(
    ask: Ask, study_uid: str, series_uids: Sequence[str]
) -> dict[tuple[str, str | None], int]:
    """Instances per (SOP class, syntax), from image-level queries, one per series (hierarchical).

    Stops at the first series whose answers carry no SOPClassUID: that PACS
    does not return it (dcmqrscp), querying the others would be time lost.
    """
    if not series_uids:
        query = Dataset()
        query.QueryRetrieveLevel = "SERIES"
        query.StudyInstanceUID = study_uid
        query.SeriesInstanceUID = ""
        answers, _ = ask(query, f"the query of the series of study {study_uid}")
        series_uids = sorted({u for a in answers for u in _uids(a.get("SeriesInstanceUID"))})
    kinds: Counter[tuple[str, str | None]] = Counter()
    for series_uid in series_uids:
        query = Dataset()
        query.QueryRetrieveLevel = "IMAGE"
        query.StudyInstanceUID = study_uid
        query.SeriesInstanceUID = series_uid
        query.SOPInstanceUID = ""
        query.SOPClassUID = ""
        query.AvailableTransferSyntaxUID = ""
        answers, _ = ask(query, f"the query of the SOP classes of series {series_uid}")
        told = False
        for answer in answers:
            for sop_class in _uids(answer.get("SOPClassUID"))[:1]:
                syntaxes: list[str | None] = [*_uids(answer.get("AvailableTransferSyntaxUID"))]
                kinds.update((sop_class, syntax) for syntax in syntaxes or [None])
                told = True
        if answers and not told:
            break
    return dict(kinds)


def _uids(value: object) -> list[str]:
    """The valid UIDs of a (maybe multi-valued) element value."""
    if value is None:
        return []
    values = [value] if isinstance(value, str) else list(value)  # type: ignore[call-overload]
    return [str(v).strip() for v in values if is_valid_uid(str(v).strip())]
