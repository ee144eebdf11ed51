"""Usage reporting: where metered work meets billing.

Callers report every unit of metered work here; billing counts it against the
organization's monthly allowance (:mod:`billing.quotas`). Work whose cost is known
only afterwards (an AI reply's tokens) reserves an estimate first — refused with 402
``quota_exceeded`` when the month's allowance would pass — and settles it to what the
provider reported, or releases it when the call fails.
"""

from __future__ import annotations

import uuid
from typing import Any


def record_usage(organization_id: uuid.UUID, metric: str, amount: int) -> None:
    """Record ``amount`` of ``metric`` for the organization this month (never refused)."""
    from billing.quotas import record_usage as billing_record_usage

    billing_record_usage(organization_id=organization_id, metric=metric, amount=amount)


def reserve(organization_id: uuid.UUID, metric: str, amount: int) -> Any:
    """Reserve ``amount`` before the work (402 over the limit); settle or release it after."""
    from billing.quotas import usage_reserve

    return usage_reserve(organization_id=organization_id, metric=metric, amount=amount)


def settle(reservation: Any, actual: int) -> None:
    from billing.quotas import usage_settle

    usage_settle(reservation=reservation, actual=actual)


def release(reservation: Any) -> None:
    from billing.quotas import usage_release

    usage_release(reservation=reservation)
