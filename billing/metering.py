"""API calls: counted per request on org routes without a write per request.

Each process keeps a small buffer per organization. A request adds one call to
its organization's buffer; when the buffer holds ``BILLING_API_CALLS_FLUSH_EVERY``
calls or its oldest call is ``BILLING_API_CALLS_FLUSH_SECONDS`` old, that
request (already inside the organization's tenant context and transaction)
adds them to the month's ``UsageCounter`` with one upsert and learns the total.

How exact it is: the stored count lags by at most ``FLUSH_EVERY - 1`` calls
(or ``FLUSH_SECONDS``) per organization per process; calls still buffered when
a process exits are lost (an under-count, never an over-count); a request
whose transaction rolls back after flushing takes its batch with it (under-count).
The limit is enforced against stored + buffered calls of this process, so
with N processes an organization can overshoot by up to ``N * FLUSH_EVERY`` calls.
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction

from billing.errors import QuotaExceeded
from billing.quotas import _quota_state, period_start, record_usage


@dataclass
class _Buffer:
    pending: int = 0
    since: float = field(default_factory=time.monotonic)
    # Known after the first flush: stored total and limit of the period.
    stored: int | None = None
    limit: int | None = None
    period: object = None


_buffers: dict[uuid.UUID, _Buffer] = {}
_lock = threading.Lock()


def pending_api_calls(organization_id: uuid.UUID) -> int:
    with _lock:
        buffer = _buffers.get(organization_id)
        return buffer.pending if buffer else 0


def reset() -> None:
    """Forget every buffer (tests)."""
    with _lock:
        _buffers.clear()


def api_call(organization_id: uuid.UUID) -> None:
    """Count one API call of ``organization_id``; refuse (402) once the month's limit is
    used up. Flushes the organization's buffer when it is full or old."""
    period = period_start()
    with _lock:
        buffer = _buffers.setdefault(organization_id, _Buffer())
        if buffer.period != period:  # a new month: what was stored belongs to the last one
            buffer.stored, buffer.period = None, period
        known = buffer.stored is not None and buffer.limit is not None
        if known and buffer.stored + buffer.pending + 1 > buffer.limit:
            raise QuotaExceeded(
                metric="api_calls", limit=buffer.limit, usage=buffer.stored + buffer.pending
            )
        buffer.pending += 1
        due = (
            buffer.pending >= settings.BILLING_API_CALLS_FLUSH_EVERY
            or time.monotonic() - buffer.since >= settings.BILLING_API_CALLS_FLUSH_SECONDS
        )
        if not due:
            return
        batch, buffer.pending, buffer.since = buffer.pending, 0, time.monotonic()
    try:
        with transaction.atomic():
            stored = record_usage(
                organization_id=organization_id, metric="api_calls", amount=batch, period=period
            )
            limit = _quota_state(organization_id, "api_calls", lock=False).limit
    except Exception:
        with _lock:  # put the batch back: it is counted by the next flush
            _buffers[organization_id].pending += batch
        raise
    with _lock:
        buffer = _buffers[organization_id]
        buffer.stored, buffer.limit = stored, limit
