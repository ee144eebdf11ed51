"""A feed-sized world: every area's events in ``acme``, and the awkward personas.

Events come from the real services (as the audit trail records them in production):
projects and their files, chat and generations, jobs, a private project with one
project member, sites (the sites test world), keys, a member's own provider key, a
member's cost estimate, a role change, a webhook and an integration.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rest_framework.test import APIClient

from accounts.models import User
from billing.services import cost_estimate_create
from integrations.services import api_key_create, integration_create, user_integration_save
from organizations.models import Membership
from organizations.permissions import Role
from organizations.services import member_change_role
from organizations.tenancy import service_context
from projects.models import Project
from projects.services.ai import conversation_create, generation_create, message_create
from projects.services.jobs import job_create
from tests.helpers import Personas, client_for
from tests.projects.support import add_project_member, make_file, make_org_member, make_project
from tests.sites.makers import sites_world

COST_INPUTS = {"items": [{"quantity": 2, "unit_price": "10.00"}]}


@dataclass
class World:
    personas: Personas
    clients: dict[str, APIClient] = field(default_factory=dict)
    users: dict[str, User] = field(default_factory=dict)
    project_slugs: dict[str, str] = field(default_factory=dict)  # id -> slug


def key_client(secret: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


def build_world(personas: Personas) -> World:
    org, owner = personas.org, personas.users["owner"]
    member = personas.users["member"]
    world = World(personas)
    # A member of the org who is also a project member of the private project, and a
    # member who is not: the private project exists only for the first.
    insider = make_org_member(org, "insider@acme.test", Role.MEMBER)
    sites_world(personas)
    open_project = make_project(org, owner, "open")
    secret = make_project(org, owner, "secret", visibility=Project.Visibility.PRIVATE)
    add_project_member(secret, insider, "viewer", actor=owner)
    for project in (open_project, secret):
        world.project_slugs[str(project.id)] = project.slug
        make_file(project, "notes.md", "hello\n", actor=owner)
    with service_context(reason="test fixture: feed world"):
        for project in (open_project, secret):
            chat = conversation_create(actor=member, project=project, title="Chat")
            message_create(actor=owner, conversation=chat, role="user", content="Hi " * 300)
            generation_create(actor=owner, project=project, prompt="haiku", model="test-model")
            job_create(actor=owner, project=project, type="project.export", parameters={})
        cost_estimate_create(actor=member, organization_id=org.id, title="Mine", inputs=COST_INPUTS)
        user_integration_save(
            actor=member,
            organization_id=org.id,
            name="my-openai",
            provider="openai",
            credentials={"api_key": "sk-test-123"},
        )
        integration_create(
            actor=owner, organization_id=org.id, provider="openai", name="Team AI", config={}
        )
        temp = make_org_member(org, "temp@acme.test", Role.MEMBER)
        temp_membership = Membership.objects.get(organization=org, user=temp)
        member_change_role(
            actor=owner, actor_role="owner", membership=temp_membership, role="viewer"
        )
        _, full = api_key_create(
            actor=owner, organization_id=org.id, actor_role="owner", name="full", role="member"
        )
        _, narrow = api_key_create(
            actor=owner,
            organization_id=org.id,
            actor_role="owner",
            name="narrow",
            role="admin",
            scopes=["events.subscribe", "site.view"],
        )
    world.users = {**personas.users, "insider": insider}
    for name in ("owner", "admin", "member", "viewer", "billing", "insider"):
        world.clients[name] = client_for(world.users[name])
    world.clients["full_key"] = key_client(full)
    world.clients["narrow_key"] = key_client(narrow)
    return world
