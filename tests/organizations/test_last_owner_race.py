"""Owners changing each other's roles at the same moment.

The interleaving is forced, not hoped for: the first change runs and its
transaction stays open until the second change has either finished (nothing
stopped it) or is seen waiting on a lock in ``pg_stat_activity``. Only then
does the first commit. Without the row lock taken by
``services._lock_owners`` the second change would read the owners as they
were before the first one and both would succeed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection, connections

from config.errors import DomainError
from organizations import services
from organizations.models import Membership
from organizations.permissions import Role
from organizations.tenancy import tenant_context
from tests.helpers import make_org, make_user
from tests.organizations.support import membership_of, roles_in

pytestmark = pytest.mark.django_db(transaction=True)

LOCK_WAIT_TIMEOUT = 5.0


def _backend_waits_on_a_lock(pid: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", [pid])
        row = cursor.fetchone()
    return row is not None and row[0] == "Lock"


def _change_role(actor: Any, membership: Membership, role: str) -> Callable[[], str]:
    """The service call an owner's PATCH makes, as ``actor`` in the tenant's transaction."""

    def change() -> str:
        try:
            services.member_change_role(
                actor=actor, actor_role=Role.OWNER, membership=membership, role=role
            )
        except DomainError as exc:
            return exc.code
        return "changed"

    return change


def _remove(actor: Any, membership: Membership) -> Callable[[], str]:
    """The service call an admin's DELETE of a member makes."""

    def remove() -> str:
        try:
            services.member_remove(actor=actor, actor_role=Role.ADMIN, membership=membership)
        except DomainError as exc:
            return exc.code
        return "removed"

    return remove


def race(
    first: tuple[Any, Callable[[], str]], second: tuple[Any, Callable[[], str]], org_slug: str
) -> tuple[str, str]:
    """Run ``first`` then ``second``, each as its user in its own thread and transaction,
    with ``first`` committing only once ``second`` has finished or is blocked on a lock."""
    outcome: dict[str, str] = {}
    errors: list[BaseException] = []
    first_done, first_may_commit = threading.Event(), threading.Event()
    second_pid: list[int] = []

    def in_thread(work: Callable[[], None]) -> threading.Thread:
        def run() -> None:
            try:
                work()
            except BaseException as exc:  # reported by the test, not lost in the thread
                errors.append(exc)
            finally:
                connections.close_all()

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        return thread

    def run_first() -> None:
        user, change = first
        with tenant_context(user_id=user.id, org_slug=org_slug):
            outcome["first"] = change()
            first_done.set()
            # Keep this transaction (and its locks) open until the second has tried.
            assert first_may_commit.wait(timeout=30), "the first change was never let commit"

    def run_second() -> None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            second_pid.append(cursor.fetchone()[0])
        user, change = second
        with tenant_context(user_id=user.id, org_slug=org_slug):
            outcome["second"] = change()

    threads = [in_thread(run_first)]
    try:
        assert first_done.wait(timeout=10), f"the first change did not run: {errors}"
        threads.append(in_thread(run_second))
        deadline = time.monotonic() + LOCK_WAIT_TIMEOUT
        while threads[1].is_alive() and time.monotonic() < deadline:
            if second_pid and _backend_waits_on_a_lock(second_pid[0]):
                break
            threads[1].join(timeout=0.02)
    finally:
        first_may_commit.set()
        for thread in threads:
            thread.join(timeout=10)

    assert not errors, errors
    assert not any(thread.is_alive() for thread in threads)
    return outcome["first"], outcome["second"]


def test_two_owners_demoting_each_other_at_once_leave_exactly_one_owner():
    a, b = make_user("a@race.test"), make_user("b@race.test")
    org = make_org("race", {a: Role.OWNER, b: Role.OWNER})
    membership_a, membership_b = membership_of(org, a), membership_of(org, b)

    outcome = race(
        (a, _change_role(a, membership_b, Role.ADMIN)),
        (b, _change_role(b, membership_a, Role.ADMIN)),
        org_slug="race",
    )

    # B is no longer an owner by the time its change may proceed: refused, as it
    # would have been had B's request simply arrived a moment later.
    assert outcome == ("changed", "permission_denied")
    assert roles_in(org) == {"a@race.test": Role.OWNER, "b@race.test": Role.ADMIN}


def test_an_owner_demoted_mid_request_cannot_demote_another_owner():
    a, b, c = make_user("a@race.test"), make_user("b@race.test"), make_user("c@race.test")
    org = make_org("race", {a: Role.OWNER, b: Role.OWNER, c: Role.OWNER})
    membership_b, membership_c = membership_of(org, b), membership_of(org, c)

    outcome = race(
        (a, _change_role(a, membership_b, Role.ADMIN)),
        (b, _change_role(b, membership_c, Role.ADMIN)),
        org_slug="race",
    )

    assert outcome == ("changed", "permission_denied")
    assert roles_in(org) == {
        "a@race.test": Role.OWNER,
        "b@race.test": Role.ADMIN,
        "c@race.test": Role.OWNER,
    }


def test_an_owner_demoted_mid_request_cannot_grant_the_owner_role():
    a, b, d = make_user("a@race.test"), make_user("b@race.test"), make_user("d@race.test")
    org = make_org("race", {a: Role.OWNER, b: Role.OWNER, d: Role.MEMBER})
    membership_b, membership_d = membership_of(org, b), membership_of(org, d)

    outcome = race(
        (a, _change_role(a, membership_b, Role.ADMIN)),
        (b, _change_role(b, membership_d, Role.OWNER)),
        org_slug="race",
    )

    assert outcome == ("changed", "permission_denied")
    assert roles_in(org)["d@race.test"] == Role.MEMBER


def test_two_admins_removing_the_same_member_at_once_one_removes_the_other_gets_404():
    owner, a, b, m = (make_user(f"{n}@race.test") for n in ("owner", "a", "b", "m"))
    org = make_org("race", {owner: Role.OWNER, a: Role.ADMIN, b: Role.ADMIN, m: Role.MEMBER})
    membership_m = membership_of(org, m)

    outcome = race((a, _remove(a, membership_m)), (b, _remove(b, membership_m)), org_slug="race")

    assert outcome == ("removed", "not_found")
    assert "m@race.test" not in roles_in(org)
