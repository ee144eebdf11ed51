"""The events seam: committed audit events, announced to whoever subscribed.

Every write records its ``AuditEvent`` in its own transaction (``audit_record``),
numbered per organization; that makes the audit trail the one place where
committed changes become events (design §6). Consumers — outbound webhooks
today, the realtime feed and metering later — subscribe here from their app's
``AppConfig.ready``; the trail knows no consumer (``lint-imports`` checks it)::

    from audit import events

    events.subscribe(fan_out_committed, when=events.org_event)

``fn(event, using=alias)`` is called with the event row once the recording
transaction has committed (never if it rolls back), one ``on_commit`` callback
per event and subscriber, in the order the events were recorded and the
subscribers registered. Callbacks are robust: one that raises is logged by
Django and does not stop the others, nor the caller. ``when(event)`` is asked at
record time, so events a subscriber does not want cost nothing after commit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.db import transaction

if TYPE_CHECKING:
    from audit.models import AuditEvent

Subscriber = Callable[..., Any]  # fn(event: AuditEvent, *, using: str) -> Any
Filter = Callable[["AuditEvent"], bool]


@dataclass(frozen=True)
class _Subscription:
    fn: Subscriber
    when: Filter | None


_subscriptions: list[_Subscription] = []


def subscribe(fn: Subscriber, *, when: Filter | None = None) -> Subscriber:
    """Call ``fn(event, using=...)`` after commit for every recorded event ``when``
    accepts (all events if ``when`` is None). Subscribing the same function again is a
    no-op. Answers ``fn`` (usable as a decorator)."""
    if not any(s.fn is fn for s in _subscriptions):
        _subscriptions.append(_Subscription(fn, when))
    return fn


def subscribers() -> tuple[Subscriber, ...]:
    return tuple(s.fn for s in _subscriptions)


def org_event(event: AuditEvent) -> bool:
    """A filter: events of an organization, except the ``system.*`` bookkeeping
    (elevation records) that no tenant-facing consumer announces."""
    return event.organization_id is not None and not event.action.startswith("system.")


def announce_on_commit(event: AuditEvent, *, using: str) -> None:
    """Schedule every interested subscriber for after the current transaction commits
    (``audit_record`` calls this right after the insert)."""
    for subscription in _subscriptions:
        if subscription.when is None or subscription.when(event):
            fn = subscription.fn
            transaction.on_commit(lambda fn=fn: fn(event, using=using), using=using, robust=True)
