"""Background tasks that carry the id of the request that queued them.

``TASKS`` uses :class:`DatabaseBackend`, django-tasks-db's backend whose
``task_class`` is :class:`TracedTask`: every ``@task()`` of every app is one,
with nothing to change in the task code. ``enqueue()`` adds the current request
id as the keyword argument ``_request_id`` (stored with the task's arguments);
``call()`` takes it out again and runs the function with that request id
current — on every log line (with ``task_id`` and ``task``) and in the audit
events the task writes. A task queued by a task passes the same id on.
"""

from __future__ import annotations

from typing import Any

import structlog
from django_tasks import signals as task_signals
from django_tasks.base import Task, TaskResult
from django_tasks_db import DatabaseBackend as _DatabaseBackend

from config.api.request_context import (
    current_request_id,
    reset_request_id,
    safe_request_id,
    use_request_id,
)

REQUEST_ID_KWARG = "_request_id"

logger = structlog.get_logger(__name__)


class TracedTask(Task):
    def enqueue(self, *args: Any, **kwargs: Any) -> TaskResult:
        request_id = safe_request_id(current_request_id())
        if request_id is not None:
            kwargs[REQUEST_ID_KWARG] = request_id
        return super().enqueue(*args, **kwargs)

    async def aenqueue(self, *args: Any, **kwargs: Any) -> TaskResult:
        request_id = safe_request_id(current_request_id())
        if request_id is not None:
            kwargs[REQUEST_ID_KWARG] = request_id
        return await super().aenqueue(*args, **kwargs)

    def call(self, *args: Any, **kwargs: Any) -> Any:
        request_id = safe_request_id(kwargs.pop(REQUEST_ID_KWARG, None))
        if request_id is None:
            return super().call(*args, **kwargs)
        token = use_request_id(request_id)
        try:
            with structlog.contextvars.bound_contextvars(request_id=request_id):
                return super().call(*args, **kwargs)
        finally:
            reset_request_id(token)


class DatabaseBackend(_DatabaseBackend):
    task_class = TracedTask


def _bind_task(sender: Any, task_result: TaskResult, **kwargs: Any) -> None:
    structlog.contextvars.bind_contextvars(
        task_id=str(task_result.id),
        task=task_result.task.module_path,
        request_id=safe_request_id(task_result.kwargs.get(REQUEST_ID_KWARG)) or "-",
    )
    logger.info("task_started")


def _unbind_task(sender: Any, task_result: TaskResult, **kwargs: Any) -> None:
    status = str(task_result.status)
    if task_result.errors:
        logger.error(
            "task_failed", status=status, error=task_result.errors[-1].exception_class_path
        )
    else:
        logger.info("task_finished", status=status)
    structlog.contextvars.unbind_contextvars("task_id", "task", "request_id")


task_signals.task_started.connect(_bind_task, dispatch_uid="config.tasks.bind")
task_signals.task_finished.connect(_unbind_task, dispatch_uid="config.tasks.unbind")
