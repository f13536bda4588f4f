"""Local peer processes on 127.0.0.1, for the demo, the tests and the benchmarks.

Plain classes and functions that start and stop throwaway servers, each on
ports of its own with a temporary folder deleted when it stops:

- :mod:`~pacsflow.peers.orthanc`: Debian's Orthanc (with the DICOMweb plugin on demand);
- :mod:`~pacsflow.peers.qrscp`: pynetdicom's ``qrscp``, where Orthanc is not installed;
- :mod:`~pacsflow.peers.dcmtk`: DCMTK's ``dcmqrscp`` as a second PACS, ``storescu`` as a sender;
- :mod:`~pacsflow.peers.postgres`: a PostgreSQL cluster from Debian's binaries;
- :mod:`~pacsflow.peers.prefect_server`: a Prefect server in a child process;
- :mod:`~pacsflow.peers.demo_pacs`: the demo's PACS, Orthanc or else qrscp.

They never import Prefect and read no setting from the environment: the
callers (the demo script, the tests' fixtures, the benchmarks) pass what they
configure. Child processes inherit the caller's environment.
"""
