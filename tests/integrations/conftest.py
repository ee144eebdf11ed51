"""Integrations tests make several webhook endpoints per organization: acme is put on
a plan without limits here; the limit has its own test
(``tests/billing/test_quota_wiring.py``)."""

from __future__ import annotations

import pytest

from tests.billing.support import unlimited_plan
from tests.helpers import Personas
from tests.integrations.support import connections_made  # noqa: F401 - a fixture


@pytest.fixture
def personas(personas: Personas) -> Personas:
    unlimited_plan(personas.org)
    return personas
