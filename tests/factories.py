"""Test data factories: the synthetic DICOM generator of the package, re-exported."""

from pacsflow.demo.synthetic import make_dataset, make_find_answer, make_study, write_dataset

__all__ = ["make_dataset", "make_find_answer", "make_study", "write_dataset"]
