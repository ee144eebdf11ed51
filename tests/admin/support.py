"""Staff users with chosen Django permissions, and a snapshot of everything staff could change."""

from __future__ import annotations

import hashlib
from typing import Any

from django.contrib.auth.models import Permission
from django.db import connection
from django.test import Client
from psycopg import sql

from accounts.models import User
from organizations.tenancy import service_context
from tests.helpers import make_user

# Tables whose rows change for reasons other than the action under test: the
# admin's own session and message storage.
IGNORED_TABLES = frozenset({"django_session"})


def staff_with_permissions(email: str, *, prefixes: tuple[str, ...]) -> User:
    """A staff user (not superuser) holding every permission whose codename starts with one
    of ``prefixes`` (``("view_",)``: the view-only staff of finding 1)."""
    user = make_user(email, is_staff=True)
    with service_context(reason="test fixture"):
        permissions = [
            p for p in Permission.objects.all() if p.codename.startswith(tuple(prefixes))
        ]
        user.user_permissions.set(permissions)
    return User.objects.get(pk=user.pk)  # no cached permissions


def staff_client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    client.staff = user
    return client


def database_state() -> dict[str, str]:
    """A checksum of every table in ``public``, read in the service context.

    Audit events of elevations are left out (each request by staff, and this
    read, adds one); every other audit event counts.
    """
    out: dict[str, str] = {}
    with service_context(reason="test snapshot"), connection.cursor() as cursor:
        cursor.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
        )
        tables = [row[0] for row in cursor.fetchall() if row[0] not in IGNORED_TABLES]
        for table in tables:
            where = (
                sql.SQL("WHERE t.action <> 'system.elevated'")
                if table == "audit_auditevent"
                else sql.SQL("")
            )
            cursor.execute(
                sql.SQL(
                    "SELECT count(*), coalesce(string_agg(t::text, '|' ORDER BY t::text), '')"
                    " FROM {} t {}"
                ).format(sql.Identifier(table), where)
            )
            count, text = cursor.fetchone()
            out[table] = f"{count}:{hashlib.sha256(text.encode()).hexdigest()}"
    return out


def changed_tables(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    return sorted(t for t in before.keys() | after.keys() if before.get(t) != after.get(t))
