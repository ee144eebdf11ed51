"""``seed --scale``: generated data, loaded with COPY, the same for the same seed."""

from __future__ import annotations

import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from accounts.models import User
from accounts.seeding import DEMO_PASSWORD, SCALE_PASSWORD_ITERATIONS, scale_email
from organizations.operations.scale_seed import seeding_steps
from organizations.tenancy import service_context
from tests.accounts.support import sign_in
from tests.operations.support import database_fingerprint

pytestmark = pytest.mark.django_db(transaction=True)

SCALE = ("seed", "--scale", "--orgs", "3", "--rows-per-org", "20")


def _generated_data() -> dict[str, tuple[int, str]]:
    """Every table, less the rows that exist whatever the seed: the platform audit
    chain (each service_context records its elevation there) and Django's own tables."""
    fingerprint = database_fingerprint()
    for table in list(fingerprint):
        if not table.startswith(("public.accounts_", "public.organizations_", "public.projects_")):
            del fingerprint[table]
    with service_context(reason="test read"), connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*), md5(string_agg(x::text, '|' ORDER BY x::text))"
            " FROM audit_auditevent x WHERE organization_id IS NOT NULL"
        )
        fingerprint["public.audit_auditevent (tenants)"] = cursor.fetchone()
    return fingerprint


def test_same_seed_same_data_different_seed_different_data(capsys):
    call_command(*SCALE, "--seed", "7")
    first = _generated_data()
    assert first["public.organizations_organization"][0] == 3
    assert first["public.organizations_membership"][0] == 60
    assert first["public.organizations_invitation"][0] == 60
    assert first["public.audit_auditevent (tenants)"][0] == 63
    assert "rows/s" in capsys.readouterr().out

    call_command("flush", interactive=False, verbosity=0)
    call_command(*SCALE, "--seed", "7")
    assert _generated_data() == first

    call_command("flush", interactive=False, verbosity=0)
    call_command(*SCALE, "--seed", "8")
    assert _generated_data() != first


def test_scale_data_passes_db_validate_and_audit_verify():
    call_command(*SCALE, "--seed", "5")
    call_command("db_validate")
    call_command("audit_verify")  # the trigger chained every COPY'd event


def test_loading_the_same_seed_twice_is_refused():
    call_command(*SCALE, "--seed", "9")
    with pytest.raises(CommandError, match="already loaded"):
        call_command(*SCALE, "--seed", "9")


def test_each_app_contributes_its_own_step_in_installed_apps_order():
    labels = [label for label, _ in seeding_steps("seed_scale")]
    assert labels[:2] == ["accounts", "organizations"]
    assert [label for label, _ in seeding_steps("seed_demo")][:2] == ["accounts", "organizations"]


def test_scale_users_sign_in_with_the_demo_password_and_get_a_full_strength_hash(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]
    call_command(*SCALE, "--seed", "4")
    email = scale_email(4, 0)
    assert _stored_hash(email).startswith(f"pbkdf2_sha256${SCALE_PASSWORD_ITERATIONS}$")

    sign_in(email, DEMO_PASSWORD)

    assert _stored_hash(email).startswith(f"pbkdf2_sha256${PBKDF2PasswordHasher.iterations}$")
    assert User.objects.get(email=email).check_password(DEMO_PASSWORD)


def _stored_hash(email: str) -> str:
    """The real hash: the app role reads only its fingerprint (accounts/passwords.py)."""
    with service_context(reason="test read: the stored hash"), connection.cursor() as cursor:
        cursor.execute("SELECT password FROM accounts_user WHERE email = %s", [email])
        return cursor.fetchone()[0]
