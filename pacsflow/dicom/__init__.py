"""The DICOM wing: reading files, tolerant values, the header as JSON, datasets as rows."""
