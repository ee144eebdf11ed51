"""TXT look-ups for domain verification, behind a replaceable resolver.

``settings.SITES_DNS_RESOLVER`` names a callable ``(name) -> list[str]`` (the
TXT strings found, ``[]`` when there are none). The default asks the system's
resolvers with dnspython; tests name a fake (they never query real DNS).
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.utils.module_loading import import_string

VERIFY_PREFIX = "_saas-verify"
TIMEOUT_SECONDS = 5.0


def dnspython_txt(name: str) -> list[str]:
    import dns.exception
    import dns.resolver

    resolver = dns.resolver.Resolver()
    resolver.lifetime = TIMEOUT_SECONDS
    try:
        answer = resolver.resolve(name, "TXT")
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer, dns.resolver.NoNameservers):
        return []
    except dns.exception.Timeout:
        return []
    return [b"".join(rdata.strings).decode("utf-8", "replace") for rdata in answer]


# Records answered by ``static_txt``: the resolver of the test settings (no real DNS).
STATIC_RECORDS: dict[str, list[str]] = {}


def static_txt(name: str) -> list[str]:
    return list(STATIC_RECORDS.get(name.lower(), []))


def txt_resolver() -> Callable[[str], list[str]]:
    return import_string(settings.SITES_DNS_RESOLVER)


def record_name(hostname: str) -> str:
    return f"{VERIFY_PREFIX}.{hostname}"


def record_value(token: str) -> str:
    return f"saas-verify={token}"
