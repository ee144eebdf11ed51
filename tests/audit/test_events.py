"""The events seam (audit.events): subscribers get committed events, in order, and
the audit trail knows no consumer (outbound webhooks subscribe from integrations)."""

from __future__ import annotations

import pytest
from django.db import transaction

from audit import events
from audit.services import audit_record
from integrations.apps import fan_out_committed
from organizations.tenancy import tenant_context

pytestmark = pytest.mark.django_db


@pytest.fixture
def received():
    got: list[tuple[str, str]] = []

    def subscriber(event, *, using):
        got.append((event.action, using))

    events.subscribe(subscriber, when=events.org_event)
    yield got
    events._subscriptions[:] = [s for s in events._subscriptions if s.fn is not subscriber]


def test_outbound_webhooks_subscribe_to_organization_events():
    assert fan_out_committed in events.subscribers()


def test_a_subscriber_gets_each_event_after_commit_in_recording_order(
    personas, received, django_capture_on_commit_callbacks
):
    owner = personas.user("owner")
    with (
        django_capture_on_commit_callbacks(execute=True),
        tenant_context(user_id=owner.id, org_slug=personas.org.slug),
    ):
        audit_record(action="test.first", actor=owner, organization_id=personas.org.id)
        audit_record(action="test.second", actor=owner, organization_id=personas.org.id)
        assert received == []  # not before the commit
    assert received == [("test.first", "default"), ("test.second", "default")]


def test_a_rolled_back_event_is_never_announced(
    personas, received, django_capture_on_commit_callbacks
):
    owner = personas.user("owner")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(RuntimeError), transaction.atomic():
            with tenant_context(user_id=owner.id, org_slug=personas.org.slug):
                audit_record(action="test.undone", actor=owner, organization_id=personas.org.id)
            raise RuntimeError
        with tenant_context(user_id=owner.id, org_slug=personas.org.slug):
            audit_record(action="system.ignored", actor=owner, organization_id=personas.org.id)
    assert received == []
    assert callbacks == []  # neither the rolled-back event nor a system.* one is scheduled
