"""``seed --scale``: deterministic generated tenant data, loaded with COPY.

Each app contributes a ``seed_scale(ctx)`` function in its ``seeding`` module
(discovered like ``seed_demo``, in ``INSTALLED_APPS`` order), so an app added
later extends the load without editing a central list. A step receives a
:class:`ScaleContext` and writes its tables with :meth:`ScaleContext.copy`;
what later steps need (user ids, organizations, members) goes in ``ctx.data``.

Determinism: every random choice comes from :meth:`ScaleContext.rng` (a
``random.Random`` seeded from ``--seed`` and the step's own label, so adding a
step does not change the others' data), every id from :meth:`ScaleContext.uuid`
(uuid5 in a namespace derived from the seed) and every timestamp from
:meth:`ScaleContext.timestamp` (a fixed epoch). Same seed, same rows.

The whole load is one transaction in :func:`~organizations.tenancy.service_context`
(the service role bypasses RLS, which COPY requires). Audit events are loaded
through their BEFORE INSERT trigger, which chains them exactly as it chains
events written by the services (see ``docs/operations.md`` for its cost).
"""

from __future__ import annotations

import hashlib
import random
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import import_module
from importlib.util import find_spec
from typing import Any

from django.apps import apps
from django.db import connection
from psycopg import sql
from psycopg.copy import QueuedLibpqWriter
from tqdm import tqdm

from organizations.operations.pg import OperationError, quoted
from organizations.tenancy import service_context

EPOCH = datetime(2024, 1, 1, tzinfo=UTC)
_EPOCH_SECONDS = EPOCH.timestamp()
SCALE_DOMAIN = "scale.test"
_NAMESPACE = uuid.UUID("6f1c1d2e-52a4-4c47-9d0f-3b8f1a0c5e77")

Step = Callable[["ScaleContext"], None]


def seeding_steps(function: str) -> list[tuple[str, Step]]:
    """``(app label, <app>.seeding.<function>)`` for every installed app that defines it."""
    steps = []
    for config in apps.get_app_configs():
        name = f"{config.name}.seeding"
        if find_spec(name) is not None:
            step = getattr(import_module(name), function, None)
            if step is not None:
                steps.append((config.label, step))
    return steps


@dataclass
class ScaleContext:
    """What a ``seed_scale`` step gets: the sizes, deterministic sources and a COPY writer.

    ``cursor`` is the Django cursor of the load's transaction (service role, no
    statement timeout) for the reads a step needs; ``data`` carries what steps
    share (``"users"``: ``[(id, email)]`` from accounts).
    """

    seed: int
    orgs: int
    rows_per_org: int
    cursor: Any
    progress: Any
    data: dict[str, Any] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._namespace = uuid.uuid5(_NAMESPACE, str(self.seed)).bytes

    def rng(self, label: str) -> random.Random:
        """A random source of its own for ``label`` (e.g. the app label)."""
        return random.Random(f"{self.seed}:{label}")  # noqa: S311 - test data, not secrets

    def uuid(self, kind: str, *parts: object) -> str:
        """A stable id for the ``kind`` row identified by ``parts``: exactly
        ``str(uuid.uuid5(namespace of this seed, "kind:part:..."))``, computed without
        building ``UUID`` objects (ids are most of the generation time of a load)."""
        name = ":".join([kind, *map(str, parts)])
        digest = bytearray(hashlib.sha1(self._namespace + name.encode()).digest()[:16])  # noqa: S324 - uuid5 is sha1 by definition
        digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
        digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
        h = digest.hex()
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    def timestamp(self, seconds: float) -> str:
        """``seconds`` after the fixed epoch, as COPY text."""
        return datetime.fromtimestamp(_EPOCH_SECONDS + seconds, UTC).isoformat()

    def copy(self, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
        """COPY ``rows`` (sequences of COPY-ready values: str, int, bool, None) into ``table``."""
        statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
            sql.Identifier(table), quoted(columns)
        )
        count = 0
        started = time.monotonic()
        # The queued writer sends to the server from a thread: the server parses,
        # indexes and checks one batch while Python generates the next. (On the
        # psycopg cursor itself: Django's debug wrapper of copy() takes no writer.)
        raw = self.cursor.cursor
        with raw.copy(statement, writer=QueuedLibpqWriter(raw)) as copy:
            for row in rows:
                copy.write_row(row)
                count += 1
                if count % 5000 == 0:
                    self.progress.update(5000)
        self.progress.update(count % 5000)
        self.counts[table] = self.counts.get(table, 0) + count
        self.seconds[table] = self.seconds.get(table, 0.0) + time.monotonic() - started
        return count


@dataclass(frozen=True)
class ScaleResult:
    counts: dict[str, int]
    table_seconds: dict[str, float]
    seconds: float
    steps: list[str]

    @property
    def rows(self) -> int:
        return sum(self.counts.values())

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


def _advisory_lock_capacity() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_setting('max_locks_per_transaction')::int"
            " * (current_setting('max_connections')::int"
            " + current_setting('max_prepared_transactions')::int)"
        )
        return int(cursor.fetchone()[0])


def scale_seed(*, orgs: int, rows_per_org: int, seed: int = 1) -> ScaleResult:
    """Load generated data for ``orgs`` organizations with about ``rows_per_org`` rows per
    organization in each tenant table. Refused if this seed's data is already loaded."""
    if orgs < 1 or rows_per_org < 1:
        raise OperationError("--orgs and --rows-per-org must be at least 1.")
    # The audit trigger takes one advisory lock per organization, held until commit,
    # in the shared lock table: refuse a load that would exhaust it halfway.
    if orgs > _advisory_lock_capacity() // 2:
        raise OperationError(
            f"--orgs {orgs} needs more lock slots than this server has; raise "
            "max_locks_per_transaction or load in several runs with different --seed values."
        )
    steps = seeding_steps("seed_scale")
    started = time.monotonic()
    reason = f"seed --scale orgs={orgs} rows_per_org={rows_per_org} seed={seed}"
    with (
        tqdm(desc="seed --scale", unit="rows", unit_scale=True, disable=None) as progress,
        service_context(reason=reason),
        connection.cursor() as cursor,
    ):
        # A load of millions of rows outlives the app role's statement timeout.
        cursor.execute("SET LOCAL statement_timeout = 0")
        ctx = ScaleContext(
            seed=seed, orgs=orgs, rows_per_org=rows_per_org, cursor=cursor, progress=progress
        )
        for label, step in steps:
            progress.set_postfix_str(label)
            step(ctx)
    return ScaleResult(
        ctx.counts, ctx.seconds, time.monotonic() - started, [label for label, _ in steps]
    )
