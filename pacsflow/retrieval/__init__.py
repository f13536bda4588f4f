"""The retrieval wing: studies found, picked and claimed, each try recorded, one study moved."""
