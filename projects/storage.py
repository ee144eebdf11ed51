"""Files in Django's storage that live and die with the transaction that records them.

A file and its database row must not exist without each other. The row is
transactional; the file is not. So every file written for a row goes through
:func:`stage_save` *inside* the row's transaction, within a :func:`staging`
scope (a request, a task run):

* the file is registered in the scope and an ``on_commit`` callback marks it
  as kept when the transaction commits;
* when the scope ends, every registered file whose transaction rolled back
  (its callback was discarded with the transaction or savepoint) is deleted.

A file that fails half-way through being written is deleted on the spot.
Deleting a row deletes its file only once the deletion has committed
(:func:`delete_on_commit`): a rolled-back delete leaves both in place.

If a scope ends while the transaction is still open — only possible when the
scope is nested in a longer transaction, as in a test case — the file's fate
is not known yet and it is left alone.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import wraps
from typing import Any

from django.core.files.base import File
from django.core.files.storage import Storage, default_storage
from django.db import DEFAULT_DB_ALIAS, connections, transaction

logger = logging.getLogger(__name__)


class StagingError(RuntimeError):
    """A file was written outside a staging scope or outside a transaction."""


class _Staged:
    """One staged file; it is its own ``on_commit`` callback."""

    __slots__ = ("kept", "name", "storage", "using")

    def __init__(self, name: str, storage: Storage, using: str) -> None:
        self.name = name
        self.storage = storage
        self.using = using
        self.kept = False

    def __call__(self) -> None:
        self.kept = True


class _Scope:
    def __init__(self) -> None:
        self.staged: list[_Staged] = []

    def settle(self) -> None:
        """Delete the files whose transaction did not commit."""
        for entry in self.staged:
            if entry.kept:
                continue
            conn = connections[entry.using]
            pending = conn.in_atomic_block and any(
                func is entry for _, func, _ in conn.run_on_commit
            )
            if pending:
                # Still inside an enclosing transaction (a test case): undecided.
                logger.debug("staged file %s outlives its scope uncommitted", entry.name)
                continue
            _delete_quietly(entry.storage, entry.name)
        self.staged.clear()


_current: ContextVar[_Scope | None] = ContextVar("projects_storage_scope", default=None)


@contextmanager
def staging() -> Iterator[None]:
    """A unit of work (request, task run) whose uncommitted files are removed at its end.

    Nested scopes join the outermost one. Open it *outside* the transaction(s)
    that write files, so that their outcome is known when it ends.
    """
    if _current.get() is not None:
        yield
        return
    scope = _Scope()
    token = _current.set(scope)
    try:
        yield
    finally:
        _current.reset(token)
        scope.settle()


def staged(view: Callable[..., Any]) -> Callable[..., Any]:
    """Decorator: run ``view`` (a function or a ``dispatch`` method) in a staging scope."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with staging():
            return view(*args, **kwargs)

    return wrapper


def stage_save(
    name: str,
    content: File,
    *,
    storage: Storage | None = None,
    max_length: int | None = None,
    using: str = DEFAULT_DB_ALIAS,
) -> str:
    """Save ``content`` as ``name`` for a row being written in the current transaction.

    Returns the name the storage chose. The file is deleted when the scope ends
    unless the transaction commits.
    """
    scope = _current.get()
    if scope is None:
        raise StagingError("files must be saved inside projects.storage.staging()")
    if not connections[using].in_atomic_block:
        raise StagingError("files must be saved inside the transaction that records them")
    storage = storage or default_storage
    try:
        saved = storage.save(name, content, max_length=max_length)
    except BaseException:
        # A half-written file under the name we asked for is ours: remove it.
        _delete_quietly(storage, name)
        raise
    entry = _Staged(saved, storage, using)
    scope.staged.append(entry)
    transaction.on_commit(entry, using=using)
    return saved


def delete_on_commit(
    name: str, *, storage: Storage | None = None, using: str = DEFAULT_DB_ALIAS
) -> None:
    """Delete the file once the current transaction (deleting its row) commits."""
    if not name:
        return
    storage = storage or default_storage
    transaction.on_commit(lambda: _delete_quietly(storage, name), using=using, robust=True)


def _delete_quietly(storage: Storage, name: str) -> None:
    try:
        storage.delete(name)
    except Exception:  # an orphan file is logged, never a failed request
        logger.exception("could not delete %s from storage", name)
