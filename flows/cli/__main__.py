"""``python -m flows.cli``: the ``pacsflow`` command."""

import sys

from flows.cli.main import main

sys.exit(main())
