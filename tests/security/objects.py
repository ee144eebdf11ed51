"""Objects for the isolation suite: a maker for every URL kwarg, and a way to
put rows in every tenant table.

Each app's tests contribute makers for the URL kwargs their routes introduce;
the route-matrix test fails on a kwarg with no maker, and the raw-SQL tests
fail on a guarded table left empty — so a new app is covered by extending
this file, not by remembering to.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.utils import timezone

from organizations.models import Invitation
from organizations.permissions import Role
from organizations.tenancy import service_context
from tests.accounts import makers as accounts_makers
from tests.billing import makers as billing_makers
from tests.billing.makers import BILLING_MAKERS
from tests.helpers import Personas
from tests.integrations import makers as integrations_makers
from tests.integrations.makers import INTEGRATIONS_MAKERS
from tests.projects.makers_activity import ACTIVITY_MAKERS
from tests.projects.makers_workspace import WORKSPACE_MAKERS
from tests.sites import makers as sites_makers
from tests.sites.makers import SITES_MAKERS


def _invitation(p: Personas) -> Invitation:
    with service_context(reason="test fixture"):
        invitation = Invitation.objects.filter(
            organization=p.org, email="invitee@example.test"
        ).first()
        return invitation or Invitation.objects.create(
            organization=p.org,
            email="invitee@example.test",
            role=Role.MEMBER,
            expires_at=timezone.now() + timezone.timedelta(days=3),
        )


def _merged(*groups: dict[str, Callable[[Personas], Any]]) -> dict[str, Callable[[Personas], Any]]:
    """One maker per URL kwarg: two apps naming the same kwarg is a mistake, not an override."""
    merged: dict[str, Callable[[Personas], Any]] = {}
    for group in groups:
        clash = merged.keys() & group.keys()
        assert not clash, f"URL kwargs claimed by two apps' makers: {sorted(clash)}"
        merged |= group
    return merged


OBJECT_MAKERS: dict[str, Callable[[Personas], Any]] = _merged(
    {
        "membership_id": lambda p: p.membership(Role.MEMBER).id,
        "invitation_id": lambda p: _invitation(p).id,
    },
    WORKSPACE_MAKERS,
    ACTIVITY_MAKERS,
    SITES_MAKERS,
    INTEGRATIONS_MAKERS,
    BILLING_MAKERS,
)


def fill_tenant_tables(personas: Personas) -> None:
    """Make every object a route can name, so every tenant table has rows."""
    for maker in OBJECT_MAKERS.values():
        maker(personas)
    for app_makers in (sites_makers, integrations_makers, billing_makers, accounts_makers):
        app_makers.fill_tables(personas)
