"""Pseudonymise a dataset: PS3.15 Annex E's Basic Profile with keyed, consistent replacements.

What each attribute gets is the Basic Profile's action (:mod:`pacsflow.export.annex_e`),
with the *Retain Longitudinal Temporal Information with Modified Dates* option
and, if chosen, the *Retain Patient Characteristics* option:

- private attributes are removed; so is every attribute the profile removes (``X``);
- every UID except class and transfer syntax UIDs becomes ``2.25.<HMAC>``, at
  every depth (references such as ReferencedSOPInstanceUID and the file meta's
  MediaStorageSOPInstanceUID stay consistent with the instances they name);
- PatientID and PatientName become the patient's pseudonym, AccessionNumber a
  keyed one, other text to replace (``D``) a keyed dummy; ``Z`` attributes are emptied;
- every date (DA, DT) moves back by the patient's offset, a whole number of
  weeks (1 to 10 years) taken from an HMAC of the PatientID: intervals and
  weekdays within a patient are kept, times of day are unchanged;
- the birth date and time are emptied; age, sex, size, weight (and ethnic
  group, smoking and pregnancy status) are kept only with that option;
- PatientIdentityRemoved, LongitudinalTemporalInformationModified and the
  De-identification Method (with its CID 7050 codes) record what was done.

Pixel data is not changed: text burned into pixels is flagged
(:func:`needs_pixel_review`), not removed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from pydicom.datadict import dictionary_VR, keyword_for_tag
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.sequence import Sequence
from pydicom.tag import BaseTag

from pacsflow.dicom.values import element_text
from pacsflow.export.annex_e import EDITION, action_for
from pacsflow.export.pseudonym_key import PseudonymKey

__all__ = ["PseudonymProfile", "Pseudonymiser", "needs_pixel_review"]

_PATIENT_ID, _PATIENT_NAME, _ACCESSION = 0x00100020, 0x00100010, 0x00080050
_BIRTH = frozenset({0x00100030, 0x00100032})  # PatientBirthDate, PatientBirthTime
_PATIENT_CHARACTERISTICS = frozenset(
    {
        0x00100040,  # PatientSex
        0x00101010,  # PatientAge
        0x00101020,  # PatientSize
        0x00101030,  # PatientWeight
        0x00102160,  # EthnicGroup
        0x001021A0,  # SmokingStatus
        0x001021C0,  # PregnancyStatus
        0x00102203,  # PatientSexNeutered
    }
)
"""Kept (``K``) by the Retain Patient Characteristics Option."""
_DICOM_ROOT = "1.2.840.10008."
"""Well-known UIDs (classes, coding schemes, contexts) are the standard's and are kept."""
_META_SENDERS = frozenset({0x00020016, 0x00020017, 0x00020018})  # AE titles of the file meta
_TEXT_VRS = frozenset({"AE", "CS", "LO", "LT", "PN", "SH", "ST", "UC", "UT"})
_FREE_TEXT_VRS = frozenset({"LO", "LT", "PN", "SH", "ST", "UC", "UR", "UT"})
_CODE_TAGS = frozenset(
    {
        0x00080100,  # CodeValue
        0x00080102,  # CodingSchemeDesignator
        0x00080103,  # CodingSchemeVersion
        0x00080104,  # CodeMeaning
        0x00080119,  # LongCodeValue
        0x00080120,  # URNCodeValue
    }
)
"""Terms of coding schemes, kept inside cleaned sequences: they name concepts, not people."""
_TOKEN_LENGTH = 16  # fits every text VR, SH and CS included
_MIN_OFFSET_WEEKS, _OFFSET_WEEKS = 52, 470
_PIXEL_REVIEW_MODALITIES = frozenset({"US", "SC", "OT", "XC", "ES", "DOC"})
"""Modalities whose pixels often carry text (screens, scans, photos) unless marked otherwise."""

_CODES = {
    "basic": ("113100", "Basic Application Confidentiality Profile"),
    "dates": ("113107", "Retain Longitudinal Temporal Information Modified Dates Option"),
    "characteristics": ("113108", "Retain Patient Characteristics Option"),
}


@dataclass(frozen=True)
class PseudonymProfile:
    """The Annex E options an export applies (modified dates always; characteristics if
    asked), and whether files that may show text in their pixels are left out."""

    retain_patient_characteristics: bool = False
    exclude_burned_in: bool = False
    """Leave out files whose pixels may hold text (:func:`needs_pixel_review`), not list them."""

    @property
    def options(self) -> list[str]:
        """The options' code meanings (CID 7050), the Basic Profile first."""
        chosen = ["basic", "dates"]
        if self.retain_patient_characteristics:
            chosen.append("characteristics")
        return [_CODES[name][1] for name in chosen]

    def describe(self) -> dict[str, Any]:
        """The profile as the manifest records it."""
        return {
            "standard": f"DICOM PS3.15 Annex E (table of edition {EDITION})",
            "options": self.options,
            "pixel_data": "unchanged: burned-in text is listed for review, not removed",
        }

    def settings(self, key: PseudonymKey) -> dict[str, Any]:
        """The export's settings (see :mod:`pacsflow.export.manifest`): profile, options, key."""
        return {
            "profile": "pseudonymised",
            **self.describe(),
            "exclude_burned_in": self.exclude_burned_in,
            "key_fingerprint": key.fingerprint,
        }

    def code_items(self) -> list[Dataset]:
        """The De-identification Method Code Sequence's items."""
        items = []
        for name in ("basic", "dates", "characteristics"):
            value, meaning = _CODES[name]
            if meaning in self.options:
                item = Dataset()
                item.CodeValue, item.CodeMeaning = value, meaning
                item.CodingSchemeDesignator = "DCM"
                items.append(item)
        return items


def needs_pixel_review(ds: Dataset) -> bool:
    """Whether the pixels may hold burned-in text: BurnedInAnnotation YES, or a
    modality of screens and photos (US, SC, OT, XC, ES, DOC) not marked NO."""
    burned_in = (element_text(ds, "BurnedInAnnotation") or "").upper()
    if burned_in == "YES":
        return True
    return burned_in != "NO" and (element_text(ds, "Modality") or "") in _PIXEL_REVIEW_MODALITIES


def _values(element: DataElement) -> list[Any]:
    value = element.value
    return list(value) if isinstance(value, MultiValue | list) else [value]


def _vr_of(element: DataElement | RawDataElement, tag: BaseTag) -> str:
    """The VR; the dictionary's for raw elements of implicit-VR files (no VR) or ``UN``."""
    vr = element.VR
    if vr and vr != "UN":
        return str(vr)
    try:
        return str(dictionary_VR(tag))
    except KeyError:
        return "UN"


def _set_values(element: DataElement, values: list[Any]) -> None:
    if values:  # an empty multi-value stays as it is
        element.value = values if len(values) > 1 else values[0]


class Pseudonymiser:
    """Applies one key and profile; remembers the originals it replaced (the linkage).

    One instance serves any number of datasets; the same original always gets
    the same pseudonym.
    """

    def __init__(self, key: PseudonymKey, profile: PseudonymProfile) -> None:
        self.key = key
        self.profile = profile
        self.linkage: dict[tuple[str, str], str] = {}
        """(kind, original) -> pseudonym, kind: patient, accession, study, series, instance."""

    def uid(self, original: str) -> str:
        """The pseudonymous UID of ``original`` (``2.25.`` and a 128-bit keyed number)."""
        return f"2.25.{self.key.number('uid', original)}"

    def patient(self, patient_id: str) -> str:
        """The pseudonymous PatientID (and PatientName) of ``patient_id``."""
        return "PSN" + self.key.token("patient", patient_id, 13)

    def date_offset(self, patient_key: str) -> dt.timedelta:
        """How far back the dates of a patient move: whole weeks, 1 to 10 years."""
        weeks = _MIN_OFFSET_WEEKS + self.key.number("date-offset", patient_key) % _OFFSET_WEEKS
        return dt.timedelta(weeks=-weeks)

    def pseudonymise(self, ds: Dataset) -> None:
        """Pseudonymise ``ds`` (and its file meta) in place."""
        patient_id = element_text(ds, "PatientID") or ""
        study_uid = element_text(ds, "StudyInstanceUID") or ""
        # A patient without an ID is pacsflow's stand-in patient of its study.
        offset = self.date_offset(patient_id or f"study:{study_uid}")
        self._remember(ds, patient_id)
        if hasattr(ds, "file_meta"):
            for element in list(ds.file_meta):
                if element.tag in _META_SENDERS:
                    del ds.file_meta[element.tag]
                elif element.VR == "UI":
                    self._replace_uid(element)
        self._apply(ds, patient_id, offset)
        ds.PatientIdentityRemoved = "YES"
        ds.LongitudinalTemporalInformationModified = "MODIFIED"
        ds.DeidentificationMethod = ["pacsflow", *self.profile.options]
        ds.DeidentificationMethodCodeSequence = Sequence(self.profile.code_items())

    def _remember(self, ds: Dataset, patient_id: str) -> None:
        if patient_id:
            self.linkage[("patient", patient_id)] = self.patient(patient_id)
        accession = element_text(ds, "AccessionNumber")
        if accession:
            self.linkage[("accession", accession)] = self._token("accession", accession)
        for kind, keyword in (
            ("study", "StudyInstanceUID"),
            ("series", "SeriesInstanceUID"),
            ("instance", "SOPInstanceUID"),
        ):
            original = element_text(ds, keyword)
            if original:
                self.linkage[(kind, original)] = self.uid(original)

    def _token(self, purpose: str, value: str) -> str:
        return "X" + self.key.token(purpose, value, _TOKEN_LENGTH - 1)

    def _apply(
        self, ds: Dataset, patient_id: str, offset: dt.timedelta, *, clean: bool = False
    ) -> None:
        """Apply the rules to each element of ``ds``, and to the items of its sequences.

        Elements are decided on their tag and VR while still raw (undecoded);
        only those that change are decoded, so the rest are written back as
        they were read, byte for byte and without cost. Inside a sequence the
        profile replaces (``D``, e.g. an SR's Content Sequence), ``clean``:
        free text the table does not name (e.g. TextValue) gets a keyed dummy
        too; coded terms (CodeValue, CodeMeaning...) and coded strings are kept.
        """
        for tag in list(ds.keys()):
            if tag.is_private or tag.element == 0:  # group lengths (retired) would be wrong
                del ds[tag]
                continue
            if tag in _PATIENT_CHARACTERISTICS and self.profile.retain_patient_characteristics:
                continue
            if tag in (_PATIENT_ID, _PATIENT_NAME):
                ds[tag].value = self.patient(patient_id) if patient_id else ""
                continue
            if tag in _BIRTH:
                ds[tag].value = ""
                continue
            if tag == _ACCESSION:
                accession = element_text(ds, "AccessionNumber")
                ds[tag].value = self._token("accession", accession) if accession else ""
                continue
            action = action_for(tag)
            if action == "X":
                del ds[tag]
                continue
            vr = _vr_of(ds.get_item(tag), tag)
            if vr == "UI":
                self._replace_uid(ds[tag])
            elif vr in ("DA", "DT"):
                self._shift_dates(ds[tag], offset)
            elif vr == "SQ":
                if action == "Z":
                    ds[tag].value = []
                else:
                    inner = clean or (action is not None and "D" in action)
                    for item in ds[tag].value:
                        self._apply(item, patient_id, offset, clean=inner)
            elif action is None and clean and vr in _FREE_TEXT_VRS and tag not in _CODE_TAGS:
                self._replace_text(ds[tag])
            elif action is None or vr == "TM":
                continue  # kept (times too: dates move by whole weeks)
            elif action == "Z" or vr not in _TEXT_VRS or "D" not in action:
                ds[tag].value = None
            else:
                self._replace_text(ds[tag])

    def _replace_text(self, element: DataElement) -> None:
        _set_values(element, [self._token("text", str(v)) if v else v for v in _values(element)])

    def _replace_uid(self, element: DataElement) -> None:
        if element.value in (None, "") or keyword_for_tag(element.tag).endswith(
            ("ClassUID", "TransferSyntaxUID")
        ):
            return
        _set_values(element, [self._new_uid(v) for v in _values(element)])

    def _new_uid(self, value: str) -> str:
        return value if not value or value.startswith(_DICOM_ROOT) else self.uid(value)

    @staticmethod
    def _shift_dates(element: DataElement, offset: dt.timedelta) -> None:
        if element.value in (None, ""):
            return
        shifted = []
        for value in _values(element):
            text = str(value).strip()
            try:
                day = dt.datetime.strptime(text[:8], "%Y%m%d").date()
            except ValueError:
                shifted.append("")  # not a date: emptied, never kept as it was
                continue
            shifted.append((day + offset).strftime("%Y%m%d") + text[8:])
        _set_values(element, shifted)
