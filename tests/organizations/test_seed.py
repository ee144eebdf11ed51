"""``manage.py seed``: the demo the README promises, idempotent, never in production."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from rest_framework.test import APIClient

from accounts.models import User
from accounts.seeding import DEMO_PASSWORD
from organizations.models import Invitation, Membership
from organizations.tenancy import service_context

pytestmark = pytest.mark.django_db


def _snapshot() -> dict[str, object]:
    with service_context(reason="test read"):
        return {
            "members": sorted(
                Membership.objects.values_list("organization__slug", "user__email", "role")
            ),
            "invitations": sorted(Invitation.objects.values_list("organization__slug", "email")),
            "users": User.objects.count(),
        }


def test_seed_builds_the_documented_demo_and_is_idempotent():
    call_command("seed")
    first = _snapshot()
    call_command("seed")
    assert _snapshot() == first
    acme = {(email, role) for slug, email, role in first["members"] if slug == "acme"}
    assert acme == {
        ("owner@acme.test", "owner"),
        ("admin@acme.test", "admin"),
        ("member@acme.test", "member"),
        ("viewer@acme.test", "viewer"),
        ("billing@acme.test", "billing"),
    }
    globex = {(email, role) for slug, email, role in first["members"] if slug == "globex"}
    assert globex == {("owner@globex.test", "owner"), ("member@globex.test", "member")}
    assert len(first["invitations"]) == 3
    assert User.objects.get(email="staff@example.test").is_staff


def test_demo_owner_signs_in_with_the_printed_password():
    call_command("seed")
    response = APIClient().post(
        "/api/v1/auth/token/",
        {"email": "owner@acme.test", "password": DEMO_PASSWORD},
        format="json",
    )
    assert response.status_code == 200 and response.json()["access"]


def test_seed_refuses_production_settings(settings):
    settings.PRODUCTION = True
    with pytest.raises(CommandError, match="production"):
        call_command("seed")
