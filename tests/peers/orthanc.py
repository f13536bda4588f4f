"""The tests' Orthanc PACS: the same throwaway server the demo and the benchmarks use."""

from pacsflow.demo.pacs import OrthancServer

__all__ = ["OrthancServer"]
