"""Where each provider's credentials are sent: the one declaration the vault's rule reads.

An integration's credentials go to a destination that its config decides: the base
URL of an AI or deployment provider, an HTTP JSON source's URL, the Netlify site or
the Vercel team and project a deploy lands in. Whoever may change that destination
must not inherit the credentials someone else stored for the old one (issue 17 §3:
an admin key pointed an integration's ``base_url`` at its own listener and called
``verify/``; the listener received the owner's secret).

**The rule** (applied by :mod:`integrations.services` to every update of an
``Integration`` or a ``UserIntegration``): when a destination field's value changes,
or the provider itself changes, the stored credentials are cleared, unless new
credentials arrive in the same request (they replace the old ones). The audit event
says which destination fields changed and whether the credentials were cleared or
replaced, never their values.

Each provider declares its destination fields in :data:`DESTINATION_FIELDS`; every
URL-valued config key (:data:`URL_CONFIG_KEYS`) counts for every provider as well,
so a URL key a provider forgot to declare still moves no credential.
"""

from __future__ import annotations

from typing import Any

from integrations.models import Provider

# Config keys that hold a URL this server will call: vetted by the SSRF guard at save,
# and destination fields of every provider.
URL_CONFIG_KEYS = ("base_url", "url", "api_url")

# SECURITY: a provider missing here fails tests/integrations/test_destinations.py;
# a field missing here lets a config change keep credentials stored for elsewhere.
DESTINATION_FIELDS: dict[str, tuple[str, ...]] = {
    Provider.OPENAI_COMPATIBLE: ("base_url",),
    Provider.GITHUB: ("base_url",),
    Provider.NETLIFY: ("base_url", "site_id"),
    Provider.VERCEL: ("base_url", "team_id", "project"),
    Provider.STRIPE: ("base_url",),
    Provider.HTTP_JSON: ("url",),
    Provider.WEBHOOK: ("url",),
}


def destination_fields(provider: str) -> tuple[str, ...]:
    """The config keys that decide where ``provider``'s credentials are sent."""
    declared = DESTINATION_FIELDS.get(provider, ())
    return tuple(dict.fromkeys((*URL_CONFIG_KEYS, *declared)))


def _normalized(value: Any) -> str:
    # A trailing slash does not move a base URL (every adapter strips it); anything
    # else that differs is a new destination. Missing, None and "" are all "unset".
    return "" if value is None else str(value).strip().rstrip("/")


def destination_changes(
    *,
    provider_before: str,
    config_before: dict[str, Any] | None,
    provider_after: str,
    config_after: dict[str, Any] | None,
) -> list[str]:
    """The names of what moved the destination (config keys, or ``provider``); ``[]``
    when the credentials would still go exactly where they went before."""
    before, after = config_before or {}, config_after or {}
    changed = ["provider"] if provider_before != provider_after else []
    fields = dict.fromkeys(
        (*destination_fields(provider_before), *destination_fields(provider_after))
    )
    changed += [
        name for name in fields if _normalized(before.get(name)) != _normalized(after.get(name))
    ]
    return changed
