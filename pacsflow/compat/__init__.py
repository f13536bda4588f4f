"""The pacsanini API (``pacsflow.db``), built on the wings: single items, commits, models."""
