"""The ``pacsflow`` command: parses options into settings and runs the flows (``main.main``)."""
