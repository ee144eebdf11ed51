"""PostgreSQL restarts while a live server is taking writes.

A dedicated embedded cluster (:class:`~tests.system.support.Cluster`, so the rest of the
run keeps its server) backs a real server process; four clients keep creating projects
(an audited write: the project and its ``project.created`` event in one transaction)
while the cluster is restarted (``pg_ctl restart -m fast``: in-flight transactions are
cut, new connections refused until it is back). Then:

* every answer is a 201 or a clean 503 ``database_unavailable`` in the error shape with
  ``Retry-After`` - never a 500 page, never a dropped connection, never a hang past the
  statement timeout;
* the server recovers by itself (same process, writes succeed again);
* no write is half-applied: every project has its audit event and every event its
  project, and every 201 the clients saw is in the database.

Run with persistent connections (the default) and with the pool (``DB_POOL=true``).
"""

from __future__ import annotations

import threading
import time
from collections import Counter

import httpx
import pytest

from accounts.seeding import DEMO_PASSWORD
from tests.system.support import DATA, Cluster, LiveServer, manage, sign_in

DATABASE = "saas_restart"
STATEMENT_TIMEOUT_S = 5
WRITERS = 4
ENV = {
    "DB_STATEMENT_TIMEOUT": f"{STATEMENT_TIMEOUT_S}s",
    "THROTTLE_USER": "100000/min",
    "THROTTLE_LOGIN": "100000/min",
}


@pytest.fixture(scope="module")
def cluster():
    cluster = Cluster()
    with cluster.admin() as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
    env = cluster.env(DATABASE) | ENV
    manage("db_setup", env=env)
    manage("seed", env=env)
    yield cluster
    cluster.stop()


def _write(http: httpx.Client, slug: str) -> dict:
    started = time.monotonic()
    try:
        response = http.post("/api/v1/orgs/acme/projects/", json={"name": slug, "slug": slug})
    except httpx.HTTPError as exc:  # a timeout or a dropped connection: both are failures
        return {"slug": slug, "status": type(exc).__name__, "seconds": time.monotonic() - started}
    return {
        "slug": slug,
        "status": response.status_code,
        "seconds": time.monotonic() - started,
        "at": time.monotonic(),
        "content_type": response.headers.get("content-type", ""),
        "retry_after": response.headers.get("Retry-After"),
        "body": response.text[:500],
    }


@pytest.mark.parametrize("pool", [False, True], ids=["persistent-connections", "pool"])
def test_a_database_restart_mid_request_answers_503_and_the_server_recovers(cluster, pool):
    env = cluster.env(DATABASE) | ENV | ({"DB_POOL": "true"} if pool else {})
    server = LiveServer(env, DATA / f"system-restart-{'pool' if pool else 'direct'}.log")
    try:
        token = sign_in(server.url, "owner@acme.test", DEMO_PASSWORD)
        results: list[dict] = []
        stop = threading.Event()
        prefix = f"restart-{'pool' if pool else 'direct'}"

        def writer(number: int) -> None:
            with httpx.Client(
                base_url=server.url,
                headers={"Authorization": f"Bearer {token}"},
                timeout=STATEMENT_TIMEOUT_S * 2,  # a hang past the statement timeout fails
            ) as http:
                sequence = 0
                while not stop.is_set():
                    results.append(_write(http, f"{prefix}-{number}-{sequence}"))
                    sequence += 1

        threads = [threading.Thread(target=writer, args=(n,)) for n in range(WRITERS)]
        for thread in threads:
            thread.start()
        _wait_for(lambda: sum(r["status"] == 201 for r in results) >= 10, "writes before")
        restart_started = time.monotonic()
        cluster.pg_ctl("restart", "-m", "fast")
        restarted = time.monotonic()
        _wait_for(
            lambda: sum(r["status"] == 201 and r["at"] > restarted for r in results) >= 10,
            "writes after the restart",
        )
        stop.set()
        for thread in threads:
            thread.join(timeout=STATEMENT_TIMEOUT_S * 3)

        statuses = Counter(r["status"] for r in results)
        print(
            f"\n{'pool' if pool else 'persistent connections'}: {dict(statuses)} in "
            f"{len(results)} writes; restart took {restarted - restart_started:.1f} s; "
            f"slowest answer {max(r['seconds'] for r in results):.2f} s"
        )
        assert set(statuses) <= {201, 503}, [r for r in results if r["status"] not in (201, 503)]
        if not pool:
            # Persistent connections break with the restart: at least one request finds
            # its connection gone, or the test proved nothing.
            assert statuses[503] >= 1, "the restart was not felt: the test proved nothing"
        # With the pool a borrowed connection is checked before use, so a fast restart
        # may be answered without any 503 (seen: 0-2); the writes waited for on both
        # sides of the restart show it happened mid-traffic.
        for answer in (r for r in results if r["status"] == 503):
            assert answer["content_type"].startswith("application/json"), answer
            assert '"code":"database_unavailable"' in answer["body"].replace(" ", ""), answer
            assert answer["retry_after"] and answer["retry_after"].isdigit(), answer
        assert max(r["seconds"] for r in results) < STATEMENT_TIMEOUT_S * 2
        assert server.process.poll() is None, "the server died"
        # Recovered: each writer's last answer is a success.
        last = {}
        for r in results:
            last[r["slug"].rsplit("-", 1)[0]] = r["status"]
        assert set(last.values()) == {201}, last

        created = {r["slug"] for r in results if r["status"] == 201}
        _assert_no_half_applied_write(cluster, prefix, created)
    finally:
        server.stop()


def _wait_for(condition, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def _assert_no_half_applied_write(cluster: Cluster, prefix: str, created: set[str]) -> None:
    with cluster.admin(DATABASE) as conn:  # the superuser: sees every row
        projects = dict(
            conn.execute(
                "SELECT p.slug, EXISTS (SELECT 1 FROM audit_auditevent a"
                " WHERE a.action = 'project.created' AND a.target_id = p.id::text)"
                " FROM projects_project p WHERE p.slug LIKE %s",
                [f"{prefix}-%"],
            ).fetchall()
        )
        orphan_events = conn.execute(
            "SELECT count(*) FROM audit_auditevent a WHERE a.action = 'project.created'"
            " AND a.changes->>'slug' LIKE %s AND NOT EXISTS"
            " (SELECT 1 FROM projects_project p WHERE p.id::text = a.target_id)",
            [f"{prefix}-%"],
        ).fetchone()[0]
    assert created <= set(projects), sorted(created - set(projects))
    assert all(projects.values()), [slug for slug, audited in projects.items() if not audited]
    assert orphan_events == 0
