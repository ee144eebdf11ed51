"""The isolation suite again, in the two pooled deployments the claims must survive.

* ``DB_POOL=true``: the whole of ``tests/security`` with Django's psycopg pool (a pool
  of at most four connections, so tests keep getting connections other tests used).
* PgBouncer in **transaction** mode with ``DB_PREPARED_STATEMENTS=false``: the route
  matrix and the raw-SQL isolation tests with the app role's connection going through
  PgBouncer (a server connection is shared between clients transaction by transaction);
  the admin and owner connections (creating and migrating the test database) go
  straight to the server, as migrations would in production.

Each run is a child pytest (settings are read once per process); its output's tail is
printed, and it must pass.
"""

from __future__ import annotations

import re

import pytest

from config import embedded_db
from tests.system.support import DATA, PgBouncer, direct_env, postmaster_port, run_pytest

SECURITY = "tests/security"
THROUGH_PGBOUNCER = ["tests/security/test_route_matrix.py", "tests/security/test_rls_raw_sql.py"]


def _passed(output: str) -> int:
    found = re.search(r"(\d+) passed", output)
    return int(found.group(1)) if found else 0


def test_isolation_suite_with_the_connection_pool():
    output = run_pytest(
        [SECURITY], {"DB_POOL": "true", "DB_POOL_MIN_SIZE": "1", "DB_POOL_MAX_SIZE": "4"}
    )
    assert _passed(output) >= 100
    assert " skipped" not in output


@pytest.fixture
def pgbouncer():
    bouncer = PgBouncer(
        embedded_db.socket_dir(), postmaster_port(embedded_db.PGDATA), DATA / "pgbouncer"
    )
    yield bouncer
    bouncer.stop()


def test_isolation_suite_through_pgbouncer_in_transaction_mode(pgbouncer):
    env = direct_env(embedded_db.PGDATA, embedded_db.socket_dir(), "saas")
    env |= {
        "DATABASE_URL": pgbouncer.url("saas"),
        "DB_PREPARED_STATEMENTS": "false",
        "DB_DISABLE_SERVER_SIDE_CURSORS": "true",
    }
    output = run_pytest(THROUGH_PGBOUNCER, env)
    assert _passed(output) >= 100
    assert " skipped" not in output

    # The app role's work really went through PgBouncer, in transaction mode.
    config = {row["key"]: row["value"] for row in pgbouncer.show("CONFIG")}
    assert config["pool_mode"] == "transaction"
    stats = [row for row in pgbouncer.show("STATS") if row["database"].startswith("test_saas")]
    assert stats, pgbouncer.log()
    assert sum(row["total_xact_count"] for row in stats) >= 100, stats
    assert sum(row["total_query_count"] for row in stats) >= 10_000, stats
