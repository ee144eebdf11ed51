"""Acceptance: from ``manage.py shell`` (a separate process, default settings),
raw ``SELECT count(*)`` on every tenant table returns 0, and the role is
limited. The data exists: it is committed by this test before the shell runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection

from organizations.rls.checks import guarded_tables
from organizations.tenancy import service_context
from tests.security.objects import fill_tenant_tables

pytestmark = pytest.mark.django_db(transaction=True)

SHELL_CODE = """
import json
from django.db import connection
from organizations.rls.checks import guarded_tables
from organizations.tenancy import connection_role_facts
counts = {}
with connection.cursor() as cursor:
    for table in guarded_tables():
        cursor.execute(f'SELECT count(*) FROM "{table}"')
        counts[table] = cursor.fetchone()[0]
    cursor.execute(
        "SELECT array_agg(p ORDER BY p) FROM unnest(ARRAY['UPDATE','DELETE','TRUNCATE']) p"
        " WHERE has_table_privilege(session_user, 'audit_auditevent', p)"
    )
    audit_privileges = cursor.fetchone()[0]
print("RESULT" + json.dumps({"counts": counts, "facts": connection_role_facts(),
                             "audit_privileges": audit_privileges}))
"""


def _database_url() -> str:
    db = connection.settings_dict
    host = quote(db["HOST"], safe="") if db["HOST"].startswith("/") else db["HOST"]
    port = f":{db['PORT']}" if db["PORT"] else ""
    password = f":{quote(db['PASSWORD'], safe='')}" if db["PASSWORD"] else ""
    return f"postgres://{db['USER']}{password}@{host}{port}/{db['NAME']}"


def test_shell_as_the_default_role_sees_zero_rows_in_every_tenant_table(personas):
    fill_tenant_tables(personas)
    tables = guarded_tables()
    with service_context(reason="test: the data exists"), connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f'SELECT count(*) FROM "{table}"')
            assert cursor.fetchone()[0] > 0, table

    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_"))}
    env |= {"DJANGO_SETTINGS_MODULE": "config.settings", "DATABASE_URL": _database_url()}
    result = subprocess.run(  # noqa: S603 - fixed argv
        [sys.executable, str(Path(settings.BASE_DIR) / "manage.py"), "shell", "-c", SHELL_CODE],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout.split("RESULT", 1)[1])
    assert set(payload["counts"]) == set(tables)
    assert set(payload["counts"].values()) == {0}
    assert payload["facts"] == {
        "role": settings.DB_APP_ROLE,
        "superuser": False,
        "bypassrls": False,
        "owned_relations": 0,
    }
    assert payload["audit_privileges"] is None  # none of UPDATE, DELETE, TRUNCATE
