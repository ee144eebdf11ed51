"""System tests (``make test-system``): collected only when ``tests/system`` is named on
the command line (see ``tests/conftest.py``). Their plumbing is in ``support.py``."""

import logging

# One line per request sent would drown the summaries the tests print.
logging.getLogger("httpx").setLevel(logging.WARNING)
