"""Usage reporting: the one function metered work reports to.

Callers report every unit of metered work here (e.g. ``ai_tokens`` after an AI
reply); billing counts it against the organization's monthly allowance
(:func:`billing.quotas.record_usage`: recorded after the fact, never refused).
"""

from __future__ import annotations

import uuid


def record_usage(organization_id: uuid.UUID, metric: str, amount: int) -> None:
    """Record ``amount`` of ``metric`` for the organization this month."""
    from billing.quotas import record_usage as billing_record_usage

    billing_record_usage(organization_id=organization_id, metric=metric, amount=amount)
