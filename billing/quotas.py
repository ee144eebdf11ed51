"""Quotas: the small API every write path calls before it creates something.

Count limits (things that exist now: projects, sites, members + open
invitations, storage bytes, webhook endpoints)::

    quota_check_count(organization_id=org_id, metric="projects")            # one more
    quota_check_count(organization_id=org_id, metric="storage_bytes", adding=size)

  Call it inside the transaction that creates the thing, *before* the insert:
  it locks the organization's subscription row (``SELECT … FOR UPDATE`` in
  ``app.billing_quota_state``), counts, and raises :class:`QuotaExceeded` (402)
  when ``usage + adding > limit``. Concurrent creates of one organization
  queue on that lock until the first commits, so they cannot both take the
  last slot. What counts is :data:`COUNTERS` (``register_counter`` adds one).

Metered limits (per calendar month, UTC: API calls, AI tokens, deployments)::

    usage_consume(organization_id=org_id, metric="deployments", amount=1)
    r = usage_reserve(organization_id=org_id, amount=4000)   # AI tokens, before the call
    usage_settle(reservation=r, actual=reported_tokens)      # after it
    usage_release(reservation=r)                             # if it failed
    record_usage(organization_id=org_id, metric="api_calls", amount=n)  # after the fact

  ``usage_consume`` is one ``INSERT … ON CONFLICT … DO UPDATE … WHERE used + n
  <= limit RETURNING used`` statement: the row lock of the upsert serialises
  concurrent consumers and no read-then-write race exists.

Limits come from the organization's entitlement (:func:`billing.plans.effective_plan_code`
of its subscription's status) and a staff override in force, if any. Work
outside a tenant context (service context: tasks, admin, seeding) reads and
locks the same rows directly.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.utils import timezone

from billing.errors import QuotaExceeded
from billing.models import COUNTED_METRICS, METERED_METRICS, METRICS, Plan, QuotaOverride
from billing.plans import CATALOG, effective_plan_code
from organizations.models import Invitation, Membership

__all__ = [
    "COUNTERS",
    "QuotaExceeded",
    "Reservation",
    "limits_for",
    "plan_limits",
    "quota_check_count",
    "record_usage",
    "register_counter",
    "usage_consume",
    "usage_release",
    "usage_reserve",
    "usage_settle",
]

PLANS_CACHE_KEY = "billing:plan-limits:v1"
PLANS_CACHE_SECONDS = 60


# --- limits ---------------------------------------------------------------------------


def plan_limits() -> dict[str, dict[str, int | None]]:
    """Every plan's limits by code (cached for a minute; the admin clears it on change).

    A code without a row (a database just flushed by a test) falls back to the
    catalog defaults the data migration seeds.
    """
    limits = cache.get(PLANS_CACHE_KEY)
    if limits is None:
        limits = {plan.code: plan.limits() for plan in Plan.objects.all()}
        for code, fields in CATALOG.items():
            limits.setdefault(code, {metric: fields[metric] for metric in METRICS})
        cache.set(PLANS_CACHE_KEY, limits, PLANS_CACHE_SECONDS)
    return limits


@dataclass(frozen=True)
class QuotaState:
    subscribed_plan: str
    status: str
    plan: str  # the effective plan (entitlement)
    limit: int | None  # for the metric asked about (None: unlimited)
    usage: int | None = None  # counted in SQL under the lock (lock=True), if SQL counts it


def _state_in_service_context(
    organization_id: uuid.UUID, metric: str, lock: bool
) -> tuple[Any, ...]:
    """The same answer as ``app.billing_quota_state`` for the service role (which sees
    every row). Under the app role without this organization claimed, the insert is
    refused by RLS: no claims, no quota, no write."""
    from billing.models import Subscription

    subscription, _ = Subscription.objects.get_or_create(organization_id=organization_id)
    if lock:
        subscription = Subscription.objects.select_for_update().get(pk=subscription.pk)
    override = QuotaOverride.objects.filter(
        organization_id=organization_id, metric=metric, expires_at__gt=timezone.now()
    ).first()
    return (
        subscription.plan_code,
        subscription.status,
        subscription.past_due_since,
        override is not None,
        override.limit if override else None,
        None,  # counted by the caller
    )


def _quota_state(organization_id: uuid.UUID, metric: str, *, lock: bool) -> QuotaState:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT * FROM app.billing_quota_state(%s, %s, %s)", [organization_id, metric, lock]
        )
        row = cursor.fetchone()
    if row is None:
        row = _state_in_service_context(organization_id, metric, lock)
    plan_code, status, past_due_since, has_override, override_limit, usage = row
    plan = effective_plan_code(
        plan_code=plan_code,
        status=status,
        past_due_since=past_due_since,
        now=timezone.now(),
        grace_days=settings.BILLING_GRACE_DAYS,
    )
    catalog = plan_limits()
    limits = catalog.get(plan) or catalog["free"]
    limit = override_limit if has_override else limits.get(metric)
    return QuotaState(subscribed_plan=plan_code, status=status, plan=plan, limit=limit, usage=usage)


def limits_for(organization_id: uuid.UUID) -> tuple[QuotaState, dict[str, int | None]]:
    """The entitlement and every metric's limit (overrides applied), without locking."""
    state = _quota_state(organization_id, "", lock=False)
    catalog = plan_limits()
    limits = dict(catalog.get(state.plan) or catalog["free"])
    for metric, limit in QuotaOverride.objects.filter(
        organization_id=organization_id, expires_at__gt=timezone.now()
    ).values_list("metric", "limit"):
        limits[metric] = limit
    return state, limits


# --- counted metrics ------------------------------------------------------------------

Counter = Callable[[uuid.UUID], int]


def _counted_in_sql(metric: str, fallback: Counter) -> Counter:
    """Count with ``app.billing_count`` (sees rows the caller's RLS view hides, e.g.
    private projects); in the service context, where it answers NULL, count directly."""

    def count(organization_id: uuid.UUID) -> int:
        with connection.cursor() as cursor:
            cursor.execute("SELECT app.billing_count(%s, %s)", [organization_id, metric])
            (value,) = cursor.fetchone()
        return int(value) if value is not None else fallback(organization_id)

    return count


def _members(organization_id: uuid.UUID) -> int:
    pending = Invitation.objects.filter(
        organization_id=organization_id,
        accepted_at__isnull=True,
        revoked_at__isnull=True,
        expires_at__gt=timezone.now(),
    ).count()
    return Membership.objects.filter(organization_id=organization_id).count() + pending


# metric -> how many the organization holds now. The domain apps register theirs
# (projects, storage_bytes, sites, webhook_endpoints) in their ``AppConfig.ready``:
# billing imports no domain model. Members belong to organizations, below billing.
COUNTERS: dict[str, Counter] = {
    "members": _counted_in_sql("members", _members),
}


def register_counter(metric: str, counter: Counter, *, counted_in_sql: bool = False) -> None:
    """Say how to count a counted metric; domain apps call it in their ``ready()``::

        register_counter("sites", count_sites)  # sites/apps.py

    The counter runs as the caller; if some rows are hidden from some roles by RLS,
    count them in ``app.billing_count`` and pass ``counted_in_sql=True``: the SQL
    function answers, and ``counter`` runs only where it answers NULL (the service
    context), as for projects.
    """
    if metric not in COUNTED_METRICS:
        raise ValueError(f"{metric!r} is not a counted metric")
    COUNTERS[metric] = _counted_in_sql(metric, counter) if counted_in_sql else counter


def quota_check_count(*, organization_id: uuid.UUID, metric: str, adding: int = 1) -> None:
    """Refuse (402 ``quota_exceeded``) unless the organization may hold ``adding`` more.

    Call inside the creating transaction, before the insert: the subscription row
    stays locked until that transaction ends.
    """
    if metric not in COUNTED_METRICS:
        raise ValueError(f"{metric!r} is not a counted metric")
    state = _quota_state(organization_id, metric, lock=True)
    if state.limit is None:
        return
    usage = state.usage if state.usage is not None else COUNTERS[metric](organization_id)
    if usage + adding > state.limit:
        raise QuotaExceeded(metric=metric, limit=state.limit, usage=usage, requested=adding)


# --- metered metrics ------------------------------------------------------------------


def period_start(now: datetime | None = None) -> date:
    """The first day of the current calendar month in UTC: metered usage resets then."""
    now = (now or timezone.now()).astimezone(UTC)
    return now.date().replace(day=1)


# The service role's copy of ``app.billing_usage_add`` (billing/migrations/0004): the
# app role has no INSERT/UPDATE on the counters; the function writes them for the
# caller's own organization only and answers no row for any other.
_UPSERT = """
INSERT INTO billing_usagecounter AS c
       (id, organization_id, metric, period_start, used, reported, created_at, updated_at)
VALUES (gen_random_uuid(), %(org)s, %(metric)s, %(period)s, %(amount)s, 0, now(), now())
ON CONFLICT (organization_id, metric, period_start)
DO UPDATE SET used = greatest(c.used + %(delta)s, 0), updated_at = now()
 WHERE %(limit)s::bigint IS NULL OR c.used + %(delta)s <= %(limit)s::bigint
RETURNING c.used
"""


def _usage_add(
    organization_id: uuid.UUID,
    metric: str,
    period: date,
    *,
    amount: int,
    delta: int,
    limit: int | None = None,
) -> int | None:
    """Add ``delta`` to a month's counter (a new row starts at ``amount``), only while
    ``used + delta <= limit`` if a limit is given. The new total, or None if refused.

    SECURITY: as the app role this is ``app.billing_usage_add``, which writes only the
    claimed organization's counters; the role itself may not write the table. Only
    when the function answers no row (the service context: no organization claimed)
    is the same upsert run directly, which the service role may do.
    """
    params = {
        "org": organization_id,
        "metric": metric,
        "period": period,
        "amount": amount,
        "delta": delta,
        "limit": limit,
    }
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT used FROM app.billing_usage_add("
            "%(org)s, %(metric)s, %(period)s, %(amount)s, %(delta)s, %(limit)s)",
            params,
        )
        row = cursor.fetchone()
        if row is None:
            cursor.execute(_UPSERT, params)
            row = cursor.fetchone()
    return None if row is None or row[0] is None else int(row[0])


def _used(organization_id: uuid.UUID, metric: str, period: date) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT used FROM billing_usagecounter"
            " WHERE organization_id = %s AND metric = %s AND period_start = %s",
            [organization_id, metric, period],
        )
        row = cursor.fetchone()
    return int(row[0]) if row else 0


def usage_consume(*, organization_id: uuid.UUID, metric: str, amount: int) -> int:
    """Take ``amount`` of a monthly metric, or refuse (402) if it would pass the limit.

    One statement: the upsert's ``WHERE used + n <= limit`` decides under the row
    lock, so two concurrent consumers cannot both take the last units. Answers the
    new total.
    """
    if metric not in METERED_METRICS:
        raise ValueError(f"{metric!r} is not a metered metric")
    if amount < 0:
        raise ValueError("amount must not be negative")
    state = _quota_state(organization_id, metric, lock=False)
    period = period_start()
    if state.limit is not None and amount > state.limit:
        raise QuotaExceeded(
            metric=metric,
            limit=state.limit,
            usage=_used(organization_id, metric, period),
            requested=amount,
        )
    row = _usage_add(
        organization_id, metric, period, amount=amount, delta=amount, limit=state.limit
    )
    if row is None:
        raise QuotaExceeded(
            metric=metric,
            limit=state.limit or 0,
            usage=_used(organization_id, metric, period),
            requested=amount,
        )
    return row


def record_usage(
    *, organization_id: uuid.UUID, metric: str, amount: int, period: date | None = None
) -> int:
    """Add ``amount`` (may be negative; the total never drops below 0) without a limit
    check: usage that already happened. Answers the new total."""
    if metric not in METERED_METRICS:
        raise ValueError(f"{metric!r} is not a metered metric")
    row = _usage_add(
        organization_id, metric, period or period_start(), amount=max(amount, 0), delta=amount
    )
    assert row is not None  # no limit: the upsert always applies
    return row


@dataclass(frozen=True)
class Reservation:
    organization_id: uuid.UUID
    metric: str
    period: date
    amount: int


def usage_reserve(
    *, organization_id: uuid.UUID, amount: int, metric: str = "ai_tokens"
) -> Reservation:
    """Reserve ``amount`` before a provider call (402 if the month's limit would pass)."""
    usage_consume(organization_id=organization_id, metric=metric, amount=amount)
    return Reservation(organization_id, metric, period_start(), amount)


def usage_settle(*, reservation: Reservation, actual: int) -> int:
    """Replace the reservation by the usage the provider reported (may exceed it: the
    tokens were spent)."""
    return record_usage(
        organization_id=reservation.organization_id,
        metric=reservation.metric,
        amount=actual - reservation.amount,
        period=reservation.period,
    )


def usage_release(*, reservation: Reservation) -> int:
    """Give a reservation back (the provider call failed)."""
    return record_usage(
        organization_id=reservation.organization_id,
        metric=reservation.metric,
        amount=-reservation.amount,
        period=reservation.period,
    )
