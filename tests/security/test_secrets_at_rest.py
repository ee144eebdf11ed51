"""Raw SQL as the app role: secrets at rest (password hashes, TOTP secrets, recovery
codes, API key hashes) are not readable, with or without claims; the definer functions of
``accounts/migrations/0005`` give only the narrow answers (issue 17 §5)."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.db import DatabaseError, connection, transaction

from accounts import mfa
from accounts.models import RecoveryCode, TOTPDevice, User
from organizations.tenancy import enter_org, service_context, set_user_claim
from tests.helpers import PASSWORD

pytestmark = pytest.mark.django_db

# table -> its secret column (written by hand: not read from the models' secret_columns)
SECRETS = {
    "accounts_user": "password",
    "accounts_totpdevice": "secret",
    "accounts_recoverycode": "code_hash",
    "integrations_apikey": "hashed_key",
}


@pytest.fixture
def enrolled(personas):
    """The member has a TOTP device and recovery codes (the owner too)."""
    for name in ("member", "owner"):
        user = personas.user(name)
        with transaction.atomic():
            set_user_claim(user.id)
            TOTPDevice.objects.create(user=user, secret=f"SECRET{name.upper()}234567ABCDEFGHIJ")
            RecoveryCode.objects.bulk_create(
                [RecoveryCode(user=user, code_hash=f"{name}-hash-{n}") for n in range(3)]
            )
    return personas


def _statements(table: str, column: str) -> list[str]:
    return [
        f"SELECT {column} FROM {table}",
        f"SELECT * FROM {table}",
        f"SELECT row_to_json(t)::text FROM {table} t",
        f"SELECT count(*) FROM {table} WHERE {column} LIKE 'pbkdf2%%'",  # a WHERE probe
        f"SELECT count(*) FROM {table} WHERE {column} IS NOT NULL",
        f"UPDATE {table} SET {column} = {column} WHERE false RETURNING 1",
    ]


def _refused_everywhere(cursor) -> None:
    for table, column in SECRETS.items():
        for statement in _statements(table, column):
            with pytest.raises(DatabaseError, match="permission denied"), transaction.atomic():
                cursor.execute(statement)
                raise AssertionError(f"answered: {statement} -> {cursor.fetchall()}")


def test_without_claims_no_secret_column_is_readable(enrolled):
    with transaction.atomic(), connection.cursor() as cursor:
        _refused_everywhere(cursor)


@pytest.mark.parametrize("persona", ["owner", "member"])
def test_with_claims_not_even_your_own_secrets_are_readable(enrolled, persona):
    with transaction.atomic(), connection.cursor() as cursor:
        assert enter_org(enrolled.user(persona).id, "acme").role == persona
        _refused_everywhere(cursor)


def test_the_app_role_has_select_on_no_secret_column_and_the_service_role_has():
    app, service = settings.DB_APP_ROLE, settings.DB_SERVICE_ROLE
    with connection.cursor() as cursor:
        for table, column in SECRETS.items():
            cursor.execute(
                "SELECT has_column_privilege(%s, %s, %s, 'SELECT'),"
                " has_column_privilege(%s, %s, %s, 'SELECT'),"
                " has_column_privilege(%s, %s, 'created_at', 'SELECT')",
                [app, table, column, service, table, column, app, table],
            )
            assert cursor.fetchone() == (False, True, True), table


def test_the_orm_reads_users_without_their_hash_and_passwords_still_check(personas):
    owner = User.objects.get(pk=personas.user("owner").pk)
    assert owner.password.startswith("fingerprint$") and "md5" not in owner.password
    assert owner.check_password(PASSWORD) and not owner.check_password("wrong")
    members = list(User.objects.filter(email__endswith="acme.test").values_list("password"))
    assert members and all(p.startswith("fingerprint$") for (p,) in members)


def test_the_password_definers_answer_only_the_narrow_questions(personas):
    owner = personas.user("owner")
    with service_context(reason="test read: the real hash"), connection.cursor() as cursor:
        cursor.execute("SELECT password FROM accounts_user WHERE id = %s", [owner.id])
        (stored,) = cursor.fetchone()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT app.user_password_salt(%s)", [owner.id])
        (salt,) = cursor.fetchone()
        assert stored.startswith(salt + "$") and len(stored) > len(salt) + 8  # no digest
        cursor.execute("SELECT app.user_password_matches(%s, %s)", [owner.id, stored])
        assert cursor.fetchone() == (True,)
        cursor.execute(
            "SELECT app.user_password_matches(%s, %s)", [owner.id, make_password("guess")]
        )
        assert cursor.fetchone() == (False,)
        cursor.execute("SELECT app.user_password_fingerprint(%s)", [owner.id])
        (fingerprint,) = cursor.fetchone()
        assert stored not in fingerprint and stored.rsplit("$", 1)[1] not in fingerprint
        # The pepper behind the fingerprint is not the app role's to read.
        with pytest.raises(DatabaseError, match="permission denied"), transaction.atomic():
            cursor.execute("SELECT pepper FROM app.password_pepper")


def test_an_unusable_password_matches_nothing(personas):
    user = personas.user("viewer")
    user.set_unusable_password()
    user.save(update_fields=["password"])
    with service_context(reason="test read"), connection.cursor() as cursor:
        cursor.execute("SELECT password FROM accounts_user WHERE id = %s", [user.id])
        (stored,) = cursor.fetchone()
    reloaded = User.objects.get(pk=user.pk)
    assert not reloaded.has_usable_password()
    with connection.cursor() as cursor:
        cursor.execute("SELECT app.user_password_matches(%s, %s)", [user.id, stored])
        assert cursor.fetchone() == (False,)


def test_the_totp_definer_answers_only_the_claimed_users_secret(enrolled):
    member, owner = enrolled.user("member"), enrolled.user("owner")
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT app.totp_secret(%s)", [member.id])
        assert cursor.fetchone() == (None,)  # no claim: nothing
        set_user_claim(member.id)
        cursor.execute("SELECT app.totp_secret(%s)", [owner.id])
        assert cursor.fetchone() == (None,)  # someone else's: nothing
        cursor.execute("SELECT app.totp_secret(%s)", [member.id])
        assert cursor.fetchone() == ("SECRETMEMBER234567ABCDEFGHIJ",)


def test_the_recovery_definer_uses_only_a_known_code_of_the_claimed_user(enrolled):
    member, owner = enrolled.user("member"), enrolled.user("owner")
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT app.recovery_code_use(%s, %s)", [member.id, "member-hash-0"])
        assert cursor.fetchone() == (False,)  # no claim
        set_user_claim(member.id)
        cursor.execute("SELECT app.recovery_code_use(%s, %s)", [owner.id, "owner-hash-0"])
        assert cursor.fetchone() == (False,)  # not theirs
        cursor.execute("SELECT app.recovery_code_use(%s, %s)", [member.id, "member-hash-0"])
        assert cursor.fetchone() == (True,)
        cursor.execute("SELECT app.recovery_code_use(%s, %s)", [member.id, "member-hash-0"])
        assert cursor.fetchone() == (False,)  # single use


def test_mfa_verify_still_reads_the_secret_through_the_definer(enrolled):
    import pyotp

    member = enrolled.user("member")
    with transaction.atomic():
        set_user_claim(member.id)
        TOTPDevice.objects.filter(user=member).update(confirmed_at="2026-01-01T00:00:00Z")
    code = pyotp.TOTP("SECRETMEMBER234567ABCDEFGHIJ").now()
    with transaction.atomic():
        assert mfa.mfa_verify(user=member, code=code) == "totp"
