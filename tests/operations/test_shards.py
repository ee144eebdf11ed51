"""``isolate_org`` and ``rebalance`` on a single node (what ``make test`` runs): clear
refusals that change nothing. Their real moves are tested on a cluster
(``tests/citus/test_shard_operations.py``). Both read on the owner connection, which sees
only committed rows: hence ``transaction=True``."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from organizations.tenancy import service_context
from tests.operations.support import audit_events

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "owner"])


def _platform_events() -> int:
    with service_context(reason="test audit read"), connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM audit_auditevent WHERE organization_id IS NULL")
        return cursor.fetchone()[0]


def test_isolate_org_names_an_unknown_slug_and_changes_nothing(personas):
    before = audit_events(personas.org.id)
    with pytest.raises(
        CommandError, match=r"no organization with slug 'nobody'.*Nothing was changed"
    ):
        call_command("isolate_org", "nobody")
    assert audit_events(personas.org.id) == before


def test_isolate_org_on_a_single_node_says_it_is_not_a_citus_cluster(personas):
    before = audit_events(personas.org.id)
    with pytest.raises(CommandError, match=r"^not a Citus cluster: database \S+ has no citus"):
        call_command("isolate_org", "acme")
    assert audit_events(personas.org.id) == before


def test_rebalance_on_a_single_node_says_it_is_not_a_citus_cluster(personas):
    before = _platform_events()
    with pytest.raises(CommandError, match=r"^not a Citus cluster: .* rebalance moves shards"):
        call_command("rebalance")
    assert _platform_events() == before + 1  # the elevation that counted them, no other


def test_a_transfer_mode_citus_does_not_know_is_refused_by_the_parser():
    with pytest.raises(CommandError, match="invalid choice: 'fast'"):
        call_command("isolate_org", "acme", "--transfer-mode", "fast")
