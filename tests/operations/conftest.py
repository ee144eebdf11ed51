"""Fixtures for the operations tests: scratch databases that are always dropped."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator

import pytest
from django.db import connections

from organizations import roles
from organizations.operations.pg import current_database


@pytest.fixture
def scratch_db() -> Iterator[Callable[[], str]]:
    """A factory of fresh database names (``<test db>_s<hex>``); every database created
    under one of these names, by the test or by the code under test, is dropped afterwards."""
    names: list[str] = []

    def make() -> str:
        name = f"{current_database()}_s{secrets.token_hex(4)}"
        names.append(name)
        return name

    yield make
    for alias in ("default", "owner"):
        connections[alias].close()
    with roles.admin_connect() as conn:
        for name in names:
            roles.drop_database(conn, name)


@pytest.fixture
def databases_like_this_one() -> Callable[[], set[str]]:
    """Names of databases derived from the test database (to prove none is left behind)."""

    def names() -> set[str]:
        with roles.admin_connect() as conn:
            rows = conn.execute(
                "SELECT datname FROM pg_database WHERE datname LIKE %s",
                [f"{current_database()}\\_%"],
            ).fetchall()
        return {row[0] for row in rows}

    return names
