"""Test database and personas.

The test database is created through the admin connection and migrated as
the **owner**; every test then talks to it as the **app role** — the same
role production uses — so no RLS test can pass by connecting as the owner.
The suite refuses to start if its connection could bypass RLS.
"""

from __future__ import annotations

import io
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connections

from config import embedded_db
from config.logs import formatter
from organizations import roles
from organizations.tenancy import connection_role_facts
from tests.helpers import Personas, make_personas


def pytest_configure(config: pytest.Config) -> None:
    if settings.EMBEDDED_DB:
        embedded_db.start()


SYSTEM_TESTS = Path(__file__).parent / "system"
CITUS_TESTS = Path(__file__).parent / "citus"
SEPARATE_SUITES = (SYSTEM_TESTS, CITUS_TESTS)


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """``tests/system`` (live servers, pgbouncer, fuzzing: ``make test-system``) and
    ``tests/citus`` (a Citus cluster: ``make test-citus``) are collected only when named on
    the command line; ``pytest`` / ``make test`` leave them out entirely."""
    if collection_path not in SEPARATE_SUITES:
        return None
    named = [Path(arg.split("::")[0]).resolve() for arg in config.args]
    return not any(path == collection_path or collection_path in path.parents for path in named)


@pytest.fixture(scope="session")
def django_db_setup(django_db_blocker: pytest.FixtureRequest) -> Iterator[None]:
    if not settings.DATABASE_ADMIN:
        pytest.exit("The test suite needs DATABASE_ADMIN_URL to create its database.", returncode=2)
    base = settings.DATABASES["default"]["NAME"]
    test_name = f"test_{base}_{os.getpid()}"
    roles.ensure_roles_and_database()
    with roles.admin_connect() as conn:
        roles.drop_database(conn, test_name)
        roles.create_database(conn, test_name)
    for alias in ("default", "owner"):
        connections[alias].close()
        connections[alias].settings_dict["NAME"] = test_name
    with django_db_blocker.unblock():
        call_command("migrate", verbosity=0, interactive=False)
        facts = connection_role_facts()
        # SECURITY: every isolation test below is meaningless if this fails.
        assert not facts["superuser"], facts
        assert not facts["bypassrls"], facts
        assert facts["owned_relations"] == 0, facts
        assert facts["role"] == settings.DB_APP_ROLE, facts
    yield
    for alias in ("default", "owner"):
        connections[alias].close()
    with roles.admin_connect() as conn:
        roles.drop_database(conn, test_name)


@pytest.fixture
def log_text() -> Iterator[io.StringIO]:
    """Everything written at DEBUG and above, as JSON lines and as console lines."""
    stream = io.StringIO()
    handlers = []
    for name in ("json", "console"):
        handler = logging.StreamHandler(stream)
        handler.setFormatter(formatter(name))
        handlers.append(handler)
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.DEBUG)
    for handler in handlers:
        root.addHandler(handler)
    try:
        yield stream
    finally:
        for handler in handlers:
            root.removeHandler(handler)
        root.setLevel(level)


@pytest.fixture
def personas(db: None) -> Personas:
    """Org ``acme`` with one user per role, org ``globex`` whose owner is the outsider."""
    return make_personas()


@pytest.fixture(autouse=True)
def _media_root(settings: Any, tmp_path: Path) -> None:
    """Uploaded and produced files go to a per-test directory, never into .data/."""
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture(autouse=True)
def _clear_cache() -> None:
    from django.core.cache import cache

    cache.clear()


@pytest.fixture(autouse=True)
def _email_links_resolve(settings: Any) -> Iterator[None]:
    """Every link in every email a test sends must answer 200 on this server
    (followed when sent: tests/accounts/email_links.py)."""
    from tests.accounts import email_links

    settings.EMAIL_BACKEND = "tests.accounts.email_links.LinkFollowingBackend"
    seen = len(email_links.dead)
    yield
    broken = email_links.dead[seen:]
    assert not broken, f"dead links in emails sent by this test: {broken}"


@pytest.fixture(autouse=True)
def _no_real_dns(monkeypatch: pytest.MonkeyPatch) -> None:
    """SECURITY: no test resolves a real name. Outbound HTTP (integrations.outbound)
    resolves through a stub that knows no names; tests that need one map it
    explicitly (``tests/integrations/support.py``: ``stub_dns``)."""
    from integrations import outbound

    def refuse(host: str, port: int) -> list[str]:
        raise OSError(f"DNS is stubbed in tests: {host!r} is unknown")

    monkeypatch.setattr(outbound, "resolver", refuse)
