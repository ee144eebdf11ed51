"""The demo seed gives each demo org projects with history, a chat and a finished job."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from organizations.tenancy import service_context
from projects.models import Asset, Conversation, FileRevision, Job, Project, Snapshot

pytestmark = pytest.mark.django_db


def test_each_demo_org_gets_projects_with_history_a_chat_and_a_finished_job():
    call_command("seed")
    call_command("seed")  # idempotent
    with service_context(reason="test read"):
        for slug in ("acme", "globex"):
            projects = Project.objects.filter(organization__slug=slug)
            assert projects.exists()
            for model in (Snapshot, Conversation):
                assert model.objects.filter(organization__slug=slug).exists(), model
            revisions = FileRevision.objects.filter(organization__slug=slug)
            assert revisions.filter(number__gte=2).exists()
            jobs = Job.objects.filter(organization__slug=slug)
            assert set(jobs.values_list("status", flat=True)) == {"completed"}
            assert Asset.objects.filter(
                organization__slug=slug, kind="output", job__in=jobs
            ).exists()
        assert Project.objects.filter(slug="website").count() == 1


def test_the_demo_owner_sees_the_demo_projects_but_not_the_private_one_as_a_member(client):
    from accounts.models import User
    from tests.helpers import client_for

    call_command("seed")
    owner = client_for(User.objects.get(email="owner@acme.test"))
    member = client_for(User.objects.get(email="member@acme.test"))
    slugs = {p["slug"] for p in owner.get("/api/v1/orgs/acme/projects/").json()["results"]}
    assert len(slugs) == 2 and "website" in slugs  # and the private one, with a random suffix
    assert any(slug.startswith("roadrunner-") for slug in slugs)
    slugs = {p["slug"] for p in member.get("/api/v1/orgs/acme/projects/").json()["results"]}
    assert slugs == {"website"}
