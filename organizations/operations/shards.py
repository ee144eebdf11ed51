"""Moving tenants on a Citus cluster: ``isolate_org`` and ``rebalance`` (docs/scaling.md).

Both run on the **owner** connection of the coordinator (the tables' owner, which
Citus's shard functions require; BYPASSRLS) and record their audit events on it,
in the same transaction as the change, like ``purge_versions``:

* :func:`organization_isolate` — ``isolate_tenant_to_new_shard(..., 'CASCADE')``
  splits the shard group holding the organization so that its rows, in every
  colocated tenant table, live in shards whose hash range is the organization's
  value alone; one ``system.org_isolated`` event in the organization's chain.
* :func:`shards_rebalance` — the rebalancer's own plan
  (``get_rebalance_table_shards_plan``), carried out one shard group at a time with
  ``citus_move_shard_placement`` (a progress bar over the moves); each move and its
  ``system.shard_group_moved`` event commit together, so an interrupted rebalance
  leaves only audited moves behind. Platform events: on the cluster they go to the
  reserved platform organization's chain (ADR 0013).

Neither runs on a single node: "not a Citus cluster", nothing changed.
"""

from __future__ import annotations

import uuid
from argparse import ArgumentParser
from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import connections, transaction
from django.db.backends.utils import CursorWrapper
from psycopg import sql
from tqdm import tqdm

from audit.services import audit_record
from organizations.operations.pg import OperationError
from organizations.tenancy import OWNER_DB_ALIAS

# block_writes by default: writes to the shard group being copied wait (reads go on). On
# this cluster an ``auto`` (logical replication) move of a table with a generated column
# hung until cancelled (not investigated further; docs/scaling.md).
TRANSFER_MODES = ("block_writes", "auto", "force_logical")


def add_transfer_mode_argument(parser: ArgumentParser) -> None:
    """``--transfer-mode`` of the commands that move shards (``isolate_org``, ``rebalance``)."""
    parser.add_argument(
        "--transfer-mode",
        choices=TRANSFER_MODES,
        default="block_writes",
        help="Citus shard transfer mode (default block_writes: writes to the moving shards"
        " wait; auto/force_logical: online, through logical replication)",
    )


# The table whose shards stand for the colocation group (every tenant table is in it).
ANCHOR_TABLE = "organizations_membership"


@dataclass(frozen=True)
class IsolateResult:
    organization_id: uuid.UUID
    slug: str
    shard_id: int
    node: str
    already: bool


@dataclass(frozen=True)
class ShardMove:
    shard_id: int
    tables: int
    source: str
    target: str


@dataclass
class RebalanceResult:
    strategy: str
    moves: list[ShardMove] = field(default_factory=list)
    shards_per_node: dict[str, int] = field(default_factory=dict)


def _cursor() -> CursorWrapper:
    """A cursor on the owner alias (the tables' owner: Citus's shard functions need it)."""
    return connections[OWNER_DB_ALIAS].cursor()


def _require_citus(command: str) -> None:
    with _cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_extension WHERE extname = 'citus'")
        if cursor.fetchone() is None:
            name = connections[OWNER_DB_ALIAS].settings_dict["NAME"]
            raise OperationError(
                f"not a Citus cluster: database {name} has no citus extension, and {command}"
                " moves shards of a Citus coordinator (docs/scaling.md). Nothing was changed."
            )
        cursor.execute(
            "SELECT 1 FROM pg_dist_partition WHERE logicalrelid = %s::regclass", [ANCHOR_TABLE]
        )
        if cursor.fetchone() is None:
            raise OperationError(
                f"the tenant tables are not distributed yet (manage.py citus_distribute);"
                f" {command} changed nothing."
            )


def _organization(slug: str) -> tuple[uuid.UUID, str]:
    # organizations_organization is a reference table (global): the owner reads it by slug.
    with _cursor() as cursor:
        cursor.execute("SELECT id, slug FROM organizations_organization WHERE slug = %s", [slug])
        row = cursor.fetchone()
    if row is None:
        raise OperationError(f"no organization with slug {slug!r}. Nothing was changed.")
    return row[0], row[1]


def _shard_of(org_id: uuid.UUID) -> tuple[int, bool, str]:
    """``(shard id, whether its hash range is one value, node)`` of the org's anchor shard."""
    with _cursor() as cursor:
        cursor.execute(
            """
            SELECT s.shardid, s.shardminvalue = s.shardmaxvalue, p.nodename || ':' || p.nodeport
              FROM pg_dist_shard s JOIN pg_dist_shard_placement p USING (shardid)
             WHERE s.shardid = get_shard_id_for_distribution_column(%s, %s)
            """,
            [ANCHOR_TABLE, str(org_id)],
        )
        shard_id, single, node = cursor.fetchone()
    return shard_id, single, node


# SECURITY (availability): Citus 14.0.1's shard split (``worker_split_copy``, which
# ``isolate_tenant_to_new_shard`` runs on the source worker) crashes that worker with a
# segmentation fault - every session on it is cut, then crash recovery - when the shard
# holds rows of a table with a STORED generated column that is not its last column
# (projects_project.search, sites_page.search, ...: organization_id was added after it).
# Found on this cluster (docs/scaling.md); shard *moves* copy such tables correctly.
UNSPLITTABLE_TABLES = """
SELECT c.relname FROM pg_dist_partition p JOIN pg_class c ON c.oid = p.logicalrelid
 WHERE p.colocationid = (SELECT colocationid FROM pg_dist_partition
                          WHERE logicalrelid = %s::regclass)
   AND EXISTS (SELECT 1 FROM pg_attribute g
                WHERE g.attrelid = c.oid AND g.attgenerated = 's' AND NOT g.attisdropped
                  AND EXISTS (SELECT 1 FROM pg_attribute a
                               WHERE a.attrelid = c.oid AND a.attnum > g.attnum
                                 AND NOT a.attisdropped AND a.attgenerated = ''))
 ORDER BY 1
"""


def splitting_would_crash(shard_id: int) -> list[str]:
    """The tables that hold rows in the shard group of ``shard_id`` and that Citus 14.0.1
    cannot split (a stored generated column before another column); empty: safe."""
    with _cursor() as cursor:
        cursor.execute(UNSPLITTABLE_TABLES, [ANCHOR_TABLE])
        tables = [row[0] for row in cursor.fetchall()]
        cursor.execute(
            "SELECT shardminvalue::int, shardmaxvalue::int FROM pg_dist_shard WHERE shardid = %s",
            [shard_id],
        )
        low, high = cursor.fetchone()
        holding = []
        for table in tables:
            cursor.execute(
                sql.SQL(
                    "SELECT EXISTS (SELECT 1 FROM {} WHERE worker_hash(organization_id)"
                    " BETWEEN %s AND %s)"
                ).format(sql.Identifier(table)),
                [low, high],
            )
            if cursor.fetchone()[0]:
                holding.append(table)
    return holding


def organization_isolate(*, slug: str, transfer_mode: str = "block_writes") -> IsolateResult:
    """Put organization ``slug`` on shards of its own (every colocated tenant table).

    Refused, changing nothing, for an unknown slug or a database that is not a Citus
    coordinator. An organization already alone on its shards is left as it is (no event).
    """
    if transfer_mode not in TRANSFER_MODES:
        raise OperationError(f"transfer mode must be one of {', '.join(TRANSFER_MODES)}")
    org_id, slug = _organization(slug)
    _require_citus("isolate_org")
    before, single, node = _shard_of(org_id)
    if single:
        return IsolateResult(org_id, slug, before, node, already=True)
    crashing = splitting_would_crash(before)
    if crashing:
        raise OperationError(
            f"refused: splitting shard {before} would crash its worker ({node}). Citus 14.0.1's"
            " shard split segfaults on rows of a table whose stored generated column is not"
            f" its last column, and this shard group holds rows of {', '.join(crashing)}"
            " (docs/scaling.md, 'isolate_org'). Nothing was changed."
        )
    with transaction.atomic(using=OWNER_DB_ALIAS):
        with _cursor() as cursor:
            cursor.execute(
                "SELECT isolate_tenant_to_new_shard(%s, %s::uuid, 'CASCADE', %s)",
                [ANCHOR_TABLE, str(org_id), transfer_mode],
            )
            (shard_id,) = cursor.fetchone()
        _, _, node = _shard_of(org_id)
        audit_record(
            action="system.org_isolated",
            organization_id=org_id,
            target_type="organizations.organization",
            target_id=str(org_id),
            changes={"shard": shard_id, "previous_shard": before, "node": node},
            using=OWNER_DB_ALIAS,
        )
    return IsolateResult(org_id, slug, shard_id, node, already=False)


def shards_per_node() -> dict[str, int]:
    """Shard groups of the tenant tables per worker (``host:port`` -> count)."""
    with _cursor() as cursor:
        cursor.execute(
            """
            SELECT n.nodename || ':' || n.nodeport, count(p.shardid)
              FROM pg_dist_node n
              LEFT JOIN pg_dist_placement p ON p.groupid = n.groupid AND p.shardid IN (
                    SELECT shardid FROM pg_dist_shard WHERE logicalrelid = %s::regclass)
             WHERE n.noderole = 'primary' AND n.shouldhaveshards
             GROUP BY 1 ORDER BY 1
            """,
            [ANCHOR_TABLE],
        )
        return dict(cursor.fetchall())


def _plan(strategy: str | None) -> list[ShardMove]:
    """The rebalancer's plan, one move per shard group (it lists every colocated shard)."""
    with _cursor() as cursor:
        cursor.execute(
            """
            SELECT min(p.shardid) FILTER (WHERE p.table_name = %s::regclass), count(*),
                   p.sourcename || ':' || p.sourceport, p.targetname || ':' || p.targetport
              FROM get_rebalance_table_shards_plan(rebalance_strategy => %s) p
              JOIN pg_dist_shard s ON s.shardid = p.shardid
             GROUP BY s.shardminvalue, s.shardmaxvalue, 3, 4
             ORDER BY 1
            """,
            [ANCHOR_TABLE, strategy],
        )
        return [ShardMove(*row) for row in cursor.fetchall()]


def _strategy(strategy: str | None) -> str:
    with _cursor() as cursor:
        if strategy is None:
            cursor.execute("SELECT name FROM pg_dist_rebalance_strategy WHERE default_strategy")
        else:
            cursor.execute(
                "SELECT name FROM pg_dist_rebalance_strategy WHERE name = %s", [strategy]
            )
        row = cursor.fetchone()
        if row is None:
            cursor.execute(
                "SELECT string_agg(name, ', ' ORDER BY name) FROM pg_dist_rebalance_strategy"
            )
            raise OperationError(
                f"no rebalance strategy {strategy!r} (there are: {cursor.fetchone()[0]})."
                " Nothing was changed."
            )
        return row[0]


def shards_rebalance(
    *,
    strategy: str | None = None,
    transfer_mode: str = "block_writes",
    say: Callable[[str], None] = lambda line: None,
) -> RebalanceResult:
    """Spread the tenant shard groups over the workers as the rebalancer plans it.

    ``strategy``: a row of ``pg_dist_rebalance_strategy`` (default: the cluster's
    default, ``by_disk_size`` unless changed; ``by_shard_count`` evens out counts).
    """
    if transfer_mode not in TRANSFER_MODES:
        raise OperationError(f"transfer mode must be one of {', '.join(TRANSFER_MODES)}")
    _require_citus("rebalance")
    result = RebalanceResult(strategy=_strategy(strategy))
    moves = _plan(result.strategy)
    say(f"  {len(moves)} shard group move(s) planned ({result.strategy})")
    for move in tqdm(moves, desc="rebalance", unit="shard group", disable=None):
        source_host, source_port = move.source.rsplit(":", 1)
        target_host, target_port = move.target.rsplit(":", 1)
        with transaction.atomic(using=OWNER_DB_ALIAS):
            with _cursor() as cursor:
                cursor.execute(
                    "SELECT citus_move_shard_placement(%s, %s, %s, %s, %s, %s)",
                    [
                        move.shard_id,
                        source_host,
                        int(source_port),
                        target_host,
                        int(target_port),
                        transfer_mode,
                    ],
                )
            audit_record(
                action="system.shard_group_moved",
                target_type="citus.shard",
                target_id=str(move.shard_id),
                changes={
                    "strategy": result.strategy,
                    "tables": move.tables,
                    "from": move.source,
                    "to": move.target,
                },
                using=OWNER_DB_ALIAS,
            )
        result.moves.append(move)
    result.shards_per_node = shards_per_node()
    return result
