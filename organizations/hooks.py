"""Hook points of the tenancy layer: lower layers announce, higher layers register.

When a step of an organizations service belongs to a higher app (billing
answering "an organization was created" with its free subscription, or
"a member is being added" with its quota check), organizations names a hook
point here and calls whatever is registered for it — explicitly, in
registration order, inside the service's own transaction, so a hook that
raises (``QuotaExceeded``) rolls the whole write back. The higher app
registers in its ``AppConfig.ready`` (conventions, habit 11; wagtail's
``hooks.register`` / ``hooks.get_hooks``)::

    from organizations import hooks

    hooks.register(hooks.ORGANIZATION_CREATED, subscription_start)

organizations itself never imports the apps that register (``lint-imports``
checks it). Registration order is ``INSTALLED_APPS`` order, since each app
registers once in its ``ready()``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

# fn(*, organization, actor) -> None: inside ``organization_create``'s transaction, after
# the organization and its first owner exist and before ``org.created`` is recorded.
ORGANIZATION_CREATED = "organization_created"
# fn(*, organization_id, adding) -> None: inside ``invitation_create``'s (and an expired
# invitation's ``invitation_resend``'s) transaction,
# before the insert; raise (a 4xx ``ApiError``) to refuse the new member.
MEMBERS_ADDING = "members_adding"
# fn(*, base_url) -> list[str]: lines ``manage.py serve`` prints in its banner (the
# development server's demo credentials of higher apps: the demo API key, ...).
SERVE_BANNER = "serve_banner"

HOOK_POINTS = (ORGANIZATION_CREATED, MEMBERS_ADDING, SERVE_BANNER)

_registry: dict[str, list[Callable[..., Any]]] = {name: [] for name in HOOK_POINTS}


def register(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    """Add ``fn`` to hook point ``name`` (once: registering it again is a no-op, so a
    repeated ``ready()`` cannot run a step twice). Answers ``fn``."""
    if name not in _registry:
        raise ValueError(f"{name!r} is not a hook point of organizations")
    if fn not in _registry[name]:
        _registry[name].append(fn)
    return fn


def get_hooks(name: str) -> tuple[Callable[..., Any], ...]:
    """What is registered for ``name``, in registration order."""
    return tuple(_registry[name])


def run(name: str, **kwargs: Any) -> list[Any]:
    """Call every function registered for ``name`` with ``kwargs``, in order; answers
    their results. An exception propagates (and rolls back the caller's transaction)."""
    return [fn(**kwargs) for fn in get_hooks(name)]
