"""The ingest wing: walking folders, batches of files into the database, in one loop."""
