"""Finding 1 of the hardening review: admin actions need the permission they declare.

Admin requests run in the service context, so an action is as strong as the
service it calls, for every tenant. The walk below takes **every action of every
registered model admin** (site-wide ones such as ``delete_selected`` included,
wherever they are enabled) and runs it as a staff user who holds only ``view_*``
permissions: each must be refused and change nothing. An admin added later is
walked too, without editing this file.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib import admin
from django.contrib.auth.models import AnonymousUser
from django.core import checks
from django.test import RequestFactory
from django.urls import reverse

from config.admin import action_permission_problems
from organizations.tenancy import service_context
from tests.admin.support import (
    changed_tables,
    database_state,
    staff_client,
    staff_with_permissions,
)
from tests.helpers import make_user
from tests.security.objects import fill_tenant_tables

pytestmark = pytest.mark.django_db


def _request_as(user: Any) -> Any:
    request = RequestFactory().get("/admin/")
    request.user = user or AnonymousUser()
    return request


def _registered_actions(superuser: Any) -> list[tuple[Any, str]]:
    """(model admin, action name) for every action a superuser is offered."""
    found = []
    for model_admin in admin.site._registry.values():
        for name in model_admin.get_actions(_request_as(superuser)):
            found.append((model_admin, name))
    return found


def _all_pks(model: Any) -> list[str]:
    with service_context(reason="test lookup"):
        return [str(pk) for pk in model._default_manager.values_list("pk", flat=True)[:50]]


def test_every_admin_action_is_refused_to_view_only_staff_and_changes_nothing(personas):
    fill_tenant_tables(personas)
    superuser = make_user("root@example.test", is_staff=True, is_superuser=True)
    viewer = staff_with_permissions("viewer-staff@example.test", prefixes=("view_",))
    client = staff_client(viewer)
    walked, offenders, empty = [], [], []
    for model_admin, name in _registered_actions(superuser):
        model = model_admin.model
        pks = _all_pks(model)
        if not pks:
            empty.append(f"{model._meta.label}.{name}")
            continue
        if name in model_admin.get_actions(_request_as(viewer)):
            offenders.append(f"{model._meta.label}.{name}: offered to view-only staff")
        url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        before = database_state()
        response = client.post(
            url,
            {
                "action": name,
                "_selected_action": pks,
                "index": "0",
                "post": "yes",  # the confirmation step of delete-style actions
                "confirmation": "",
            },
        )
        after = database_state()
        walked.append(f"{model._meta.label}.{name}")
        # Refused: a redirect back with "no action selected" (302), or the list page
        # itself when the user is offered no action at all (200); never a change.
        if response.status_code not in (200, 302, 403) or changed_tables(before, after):
            offenders.append(
                f"{model._meta.label}.{name}: {response.status_code},"
                f" changed {changed_tables(before, after)}"
            )
    assert not empty, f"no rows to run these actions on (add them to the makers): {empty}"
    assert not offenders, offenders
    # The walk reached the actions this suite knows exist (it is not vacuous).
    assert {"organizations.Membership.make_owner", "projects.Job.cancel"} <= set(walked)


def test_every_admin_action_declares_the_permission_it_needs():
    assert action_permission_problems() == []


def test_the_system_check_reports_an_action_without_permissions():
    site = admin.AdminSite(name="probe")

    class ProbeAdmin(admin.ModelAdmin):
        actions = ["loose"]

        @admin.action(description="Loose")
        def loose(self, request: Any, queryset: Any) -> None:  # pragma: no cover
            pass

    from organizations.models import Organization

    site.register(Organization, ProbeAdmin)
    assert action_permission_problems(site) == [
        "organizations.Organization action 'loose' declares no allowed_permissions"
    ]
    errors = [m for m in checks.run_checks(tags=[checks.Tags.admin]) if m.id == "saas.E001"]
    assert errors == []  # the real site is clean


def test_the_declared_permissions_can_be_granted(personas):
    """Staff holding the model permissions (not superusers) are offered every action: the
    permissions the actions declare are real ones, not impossible ones."""
    superuser = make_user("root@example.test", is_staff=True, is_superuser=True)
    operator = staff_with_permissions(
        "operator@example.test", prefixes=("view_", "change_", "delete_")
    )
    missing = [
        f"{model_admin.model._meta.label}.{name}"
        for model_admin, name in _registered_actions(superuser)
        if name not in model_admin.get_actions(_request_as(operator))
    ]
    # Deleting a user is for superusers only (``UserAdmin.has_delete_permission``).
    assert missing == ["accounts.User.delete_selected"]


def test_no_admin_form_writes_a_row_directly(personas):
    """Where staff holding every model permission may add, change or delete a row
    through a form, the model admin routes that write to a service (it overrides
    ``save_model`` / ``delete_model`` / ``delete_queryset``); otherwise the form is
    refused. ``ModelAdmin``'s own hooks would write past the service and its audit."""
    fill_tenant_tables(personas)
    operator = staff_with_permissions(
        "operator@example.test", prefixes=("add_", "view_", "change_", "delete_")
    )
    request = _request_as(operator)
    base = admin.ModelAdmin
    problems = []
    for model, model_admin in admin.site._registry.items():
        with service_context(reason="test lookup"):
            obj = model._default_manager.first()
        kind = type(model_admin)
        writes = {
            "add": model_admin.has_add_permission(request),
            "change": obj is not None and model_admin.has_change_permission(request, obj),
            "delete": obj is not None and model_admin.has_delete_permission(request, obj),
        }
        hooks = {
            "add": ["save_model"],
            "change": ["save_model"],
            "delete": ["delete_model", "delete_queryset"],
        }
        for write, allowed in writes.items():
            for hook in hooks[write] if allowed else []:
                if getattr(kind, hook) is getattr(base, hook):
                    problems.append(f"{model._meta.label}: {write} uses ModelAdmin.{hook}")
    assert problems == []


def test_posting_a_read_only_change_form_is_refused(personas):
    operator = staff_with_permissions("operator@example.test", prefixes=("view_", "change_"))
    client = staff_client(operator)
    membership = personas.membership("member")
    url = reverse("admin:organizations_membership_change", args=[membership.id])
    assert client.get(url).status_code == 200
    before = database_state()
    assert client.post(url, {}).status_code == 403
    assert changed_tables(before, database_state()) == []
