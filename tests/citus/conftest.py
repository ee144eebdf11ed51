"""Cluster tests (``make test-citus``): collected only when ``tests/citus`` is named (see
``tests/conftest.py``). ``ops/citus.py`` starts the coordinator and two workers, migrates
and distributes the ``saas`` database, and passes the DSNs in the environment; these
tests use that database as it is (no per-run test database: a database would have to
be created, extended and registered on every node)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import psycopg
import pytest
from django.conf import settings

from organizations.operations.pg import owner_login


@pytest.fixture(scope="session")
def django_db_setup() -> Iterator[None]:
    if not settings.DATABASE_CITUS:
        pytest.exit("tests/citus runs on a Citus cluster: use `make test-citus`.", returncode=2)
    yield


def _url(name: str) -> list[str]:
    return [url for url in os.environ.get(name, "").split(",") if url]


@pytest.fixture
def owner() -> Iterator[psycopg.Connection]:
    """The schema owner on the coordinator (BYPASSRLS): seeds and inspects."""
    with owner_login().connect(autocommit=True) as conn:
        yield conn


@pytest.fixture
def app() -> Iterator[psycopg.Connection]:
    """The runtime role on the coordinator, RLS applies."""
    with psycopg.connect(os.environ["DATABASE_URL"]) as conn:
        yield conn


@pytest.fixture
def worker_urls() -> dict[str, str]:
    """``port -> the runtime role's DSN on that worker``."""
    return {url.rsplit(":", 1)[1].split("/")[0]: url for url in _url("CITUS_WORKER_URLS")}


@pytest.fixture
def worker_admin_urls() -> list[str]:
    """A superuser's DSN on each worker (to look inside a shard)."""
    return _url("CITUS_WORKER_ADMIN_URLS")
