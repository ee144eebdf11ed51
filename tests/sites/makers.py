"""The route matrix's object makers for the sites routes.

:data:`SITES_MAKERS` gives a value for every URL kwarg the sites routes
introduce (kwarg names are global across apps: ``tests/security/objects.py``
refuses a name two apps both claim). Makers are idempotent and also fill every
sites table with rows, for the raw-SQL isolation tests.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.helpers import Personas

SITES_MAKERS: dict[str, Callable[[Personas], Any]] = {}


def fill_tables(personas: Personas) -> None:
    """Put rows in the sites tables no URL kwarg reaches (the makers fill the rest)."""
