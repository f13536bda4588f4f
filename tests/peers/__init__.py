"""Real peers (PostgreSQL; later Orthanc, DCMTK) on 127.0.0.1 for tests and benchmarks."""
