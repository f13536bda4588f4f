"""Test-only peers (headless Chromium, a meddling DICOMweb proxy, the Prefect ops script).

The peers the tests share with the demo and the benchmarks (Orthanc, qrscp,
DCMTK, PostgreSQL, a Prefect server, free ports) live in :mod:`pacsflow.peers`.
"""
