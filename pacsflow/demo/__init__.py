"""Throwaway PACS servers and synthetic DICOM data, for the demo, benchmarks and tests."""
