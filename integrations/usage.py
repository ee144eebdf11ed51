"""Usage reporting: the one function the billing issue meters.

Until billing fills it in, recording usage does nothing; callers report every unit
of metered work here (e.g. ``ai_tokens`` after an AI reply) so metering needs no
change at the call sites.
"""

from __future__ import annotations

import uuid


def record_usage(organization_id: uuid.UUID, metric: str, amount: int) -> None:
    """Record ``amount`` of ``metric`` for the organization (a no-op for now)."""
    return None
