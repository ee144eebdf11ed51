"""Finding 7b of the hardening review: ``/admin/r/<content_type>/<id>/`` must not tell a
staff user without permissions whether an object exists.

Django's view answers every staff user, and says why it found nothing: "object
... doesn't exist" for a missing id, "... don't have a get_absolute_url()" for an
existing one (shown on the debug 404 page, and timed differently in production).
Now it answers only staff who may view the model; everyone else gets one bare 404.
"""

from __future__ import annotations

import re
import uuid

import pytest
from django.contrib.contenttypes.models import ContentType

from organizations.models import Organization
from organizations.tenancy import service_context
from tests.admin.support import staff_client, staff_with_permissions

pytestmark = pytest.mark.django_db


def _probe(client, content_type_id, object_id):
    response = client.get(f"/admin/r/{content_type_id}/{object_id}/")
    body = response.content.replace(str(object_id).encode(), b"<id>")
    return response.status_code, re.sub(rb'"request_id": ?"[^"]*"', b"", body)


@pytest.fixture
def organization_type():
    with service_context(reason="test lookup"):
        return ContentType.objects.get_for_model(Organization).id


@pytest.mark.parametrize("debug", [False, True])
def test_staff_without_permissions_cannot_tell_an_existing_id_from_a_missing_one(
    personas, settings, organization_type, debug
):
    settings.DEBUG = debug
    client = staff_client(staff_with_permissions("nobody@example.test", prefixes=()))

    existing = _probe(client, organization_type, personas.org.id)
    missing = _probe(client, organization_type, uuid.uuid4())

    assert existing[0] == missing[0] == 404
    assert existing[1] == missing[1]
    assert b"get_absolute_url" not in existing[1]


def test_staff_without_view_permission_on_that_model_get_the_same_404(
    personas, settings, organization_type
):
    settings.DEBUG = True
    client = staff_client(
        staff_with_permissions("projects-only@example.test", prefixes=("view_project",))
    )

    existing = _probe(client, organization_type, personas.org.id)
    missing = _probe(client, organization_type, uuid.uuid4())

    assert existing == missing
    assert existing[0] == 404


def test_staff_who_may_view_the_model_reach_djangos_view(personas, settings, organization_type):
    settings.DEBUG = True
    client = staff_client(
        staff_with_permissions("viewer@example.test", prefixes=("view_organization",))
    )

    status, body = _probe(client, organization_type, personas.org.id)

    # They could open the organization's page anyway: Django's own answer is fine here.
    assert status == 404 and b"get_absolute_url" in body


def test_an_unknown_content_type_is_the_same_404(personas, settings):
    settings.DEBUG = True
    client = staff_client(staff_with_permissions("nobody@example.test", prefixes=()))

    assert _probe(client, 999999, uuid.uuid4())[0] == 404
    assert _probe(client, "not-a-number", uuid.uuid4())[0] == 404
