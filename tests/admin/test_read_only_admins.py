"""``config.admin.ReadOnlyActionsAdmin``: every column read-only, hidden columns (secrets,
tokens, search vectors) never on the page, nothing a form could post."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.contrib.admin.utils import flatten_fieldsets
from django.test import RequestFactory

from config.admin import ReadOnlyActionsAdmin
from integrations.admin_base import SECRET_COLUMNS

READ_ONLY_ADMINS = sorted(
    (
        model_admin
        for model_admin in admin.site._registry.values()
        if isinstance(model_admin, ReadOnlyActionsAdmin)
    ),
    key=lambda model_admin: model_admin.model._meta.label,
)
# SECURITY: columns no staff screen may show, whichever app they are in.
NEVER_SHOWN = {*SECRET_COLUMNS, "verification_token", "search"}


def test_the_read_only_admins_of_sites_integrations_and_billing_share_the_base():
    apps = {model_admin.model._meta.app_label for model_admin in READ_ONLY_ADMINS}
    assert {"sites", "integrations", "billing"} <= apps


@pytest.mark.parametrize(
    "model_admin", READ_ONLY_ADMINS, ids=lambda model_admin: model_admin.model._meta.label
)
def test_a_read_only_admin_shows_every_column_but_the_hidden_ones_and_none_editable(
    model_admin,
):
    request = RequestFactory().get("/")
    columns = [f.name for f in model_admin.model._meta.fields]
    shown = flatten_fieldsets(model_admin.get_fieldsets(request, None))
    assert shown == [name for name in columns if name not in model_admin.hidden_fields]
    assert not set(shown) & NEVER_SHOWN
    assert set(model_admin.get_readonly_fields(request, None)) == set(shown)
    assert not model_admin.get_form(request, None).base_fields
