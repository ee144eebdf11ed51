"""Job types: what ``Job.type`` names, and the code that runs it.

A job type is a name, a ``run(context)`` callable and a ``validate(parameters,
project)`` callable. ``validate`` runs in the request that creates the job (as
the caller, under RLS) and returns the cleaned parameters or raises
:class:`config.errors.Invalid`; ``run`` runs later in the task worker with a
:class:`projects.jobs.runner.JobContext` and returns the job's result (a
JSON-serialisable dict).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from config.errors import Invalid

if TYPE_CHECKING:
    from projects.jobs.runner import JobContext
    from projects.models import Project

Validator = Callable[[dict[str, Any], "Project"], dict[str, Any]]
Runner = Callable[["JobContext"], dict[str, Any] | None]


def no_parameters(parameters: dict[str, Any], project: Project) -> dict[str, Any]:
    if parameters:
        raise Invalid(
            "This job type takes no parameters.",
            details={"parameters": {name: ["Unknown parameter."] for name in sorted(parameters)}},
        )
    return {}


@dataclass(frozen=True)
class JobType:
    name: str
    run: Runner
    validate: Validator = no_parameters
    description: str = ""


_TYPES: dict[str, JobType] = {}


def register(
    name: str, *, validate: Validator = no_parameters, description: str = ""
) -> Callable[[Runner], Runner]:
    """Decorator: ``@register("project.export")`` on the job type's ``run`` function."""

    def decorate(run: Runner) -> Runner:
        if name in _TYPES:
            raise ValueError(f"job type {name!r} is already registered")
        _TYPES[name] = JobType(name=name, run=run, validate=validate, description=description)
        return run

    return decorate


def unregister(name: str) -> None:
    _TYPES.pop(name, None)


def get(name: str) -> JobType | None:
    return _TYPES.get(name)


def names() -> list[str]:
    return sorted(_TYPES)
