"""Synthetic DICOM data for the demo, the benchmarks and the tests (peers: pacsflow.peers)."""
