"""The client's address, trusting ``X-Forwarded-For`` only as far as configured.

``TRUSTED_PROXY_COUNT`` proxies in front of the app each append the address
they received the request from; the client's address is therefore the
``TRUSTED_PROXY_COUNT``-th entry from the right. Anything further left was
written by the client and is ignored. With 0 (the default) the header is
ignored entirely. DRF's throttles use the same rule (``NUM_PROXIES`` is set
from the same setting), so throttling and the audit trail agree.
"""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str | None:
    remote_addr = request.META.get("REMOTE_ADDR") or None
    trusted = settings.TRUSTED_PROXY_COUNT
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if trusted <= 0 or not forwarded.strip():
        return remote_addr
    hops = [hop.strip() for hop in forwarded.split(",")]
    candidate = hops[-min(trusted, len(hops))]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:  # not an address: our proxy did not write it
        return remote_addr
