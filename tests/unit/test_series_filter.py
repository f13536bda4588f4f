"""Series filters: which series are kept, and their stored form."""

from __future__ import annotations

import pytest

from pacsflow.retrieval.series_filter import SeriesFilter


def test_an_empty_filter_keeps_every_series() -> None:
    everything = SeriesFilter()
    assert not everything.active
    assert everything.matches(None, None, None)
    assert everything.describe() == "whole studies"


def test_modalities_descriptions_and_numbers() -> None:
    ct_no_scouts = SeriesFilter(modalities=["ct"], exclude_descriptions=["scout|localizer"])
    assert ct_no_scouts.active
    assert ct_no_scouts.modalities == ["CT"]
    assert ct_no_scouts.matches("CT", "AXIAL 1.25mm", 2)
    assert not ct_no_scouts.matches("CT", "Topogram SCOUT", 1)  # case-insensitive
    assert not ct_no_scouts.matches("SR", "report", 3)
    assert not ct_no_scouts.matches(None, "AXIAL", 2)

    axial = SeriesFilter(include_descriptions=["^ax", "coronal"])
    assert axial.matches("MR", "Axial T2", None)
    assert axial.matches("MR", "T1 CORONAL", None)
    assert not axial.matches("MR", "sagittal", None)
    assert not axial.matches("MR", None, None)  # no description cannot match an include

    numbered = SeriesFilter(series_numbers=[2, 3])
    assert numbered.matches("CT", "x", 3)
    assert not numbered.matches("CT", "x", 1)
    assert not numbered.matches("CT", "x", None)


def test_the_stored_form_is_canonical_and_round_trips() -> None:
    one = SeriesFilter(modalities=["MR", "CT"], exclude_descriptions=["b", "a"])
    two = SeriesFilter(modalities=["CT", "MR", "CT"], exclude_descriptions=["a", "b"])
    assert one.to_json() == two.to_json()
    assert SeriesFilter.from_json(one.to_json()).to_json() == one.to_json()
    assert SeriesFilter.from_json(None) == SeriesFilter()
    assert "Modality in CT/MR" in SeriesFilter.from_json(one.to_json()).describe()


def test_bad_modalities_and_regular_expressions_are_refused() -> None:
    with pytest.raises(ValueError, match="not a modality"):
        SeriesFilter(modalities=["C-T"])
    with pytest.raises(ValueError, match="not a regular expression"):
        SeriesFilter(include_descriptions=["(unclosed"])
