"""Sites tests make several sites per organization: acme is put on a plan without
limits here. The plan limits on sites and deployments have their own tests
(``tests/billing/test_quota_wiring.py``)."""

from __future__ import annotations

import pytest

from tests.billing.support import unlimited_plan
from tests.helpers import Personas


@pytest.fixture
def personas(personas: Personas) -> Personas:
    unlimited_plan(personas.org)
    return personas
