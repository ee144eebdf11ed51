"""The one way this application sends HTTP to a URL a tenant supplied (SSRF guard).

Webhooks, AI base URLs, provider and sync-source URLs all go through
:func:`request` / :func:`stream`, which:

* accept only ``http``/``https`` URLs without userinfo;
* resolve the host through :data:`resolver` (injectable: tests stub DNS) and refuse
  unless **every** address is global — no loopback, private, link-local, CGNAT
  (100.64/10), multicast, reserved, unspecified, nor IPv4-mapped or 6to4 IPv6
  forms of those, nor any Teredo address — except inside
  ``OUTBOUND_ALLOWED_NETWORKS`` (empty by default; ``127.0.0.1/32`` for local
  development and tests; an IPv4 network there also admits its IPv4-mapped form,
  never a 6to4 or Teredo address embedding it);
* connect to the vetted address itself (the URL's host is replaced by the IP, the
  original ``Host`` header and TLS SNI name are kept), so a DNS answer that changes
  between the check and the connection (rebinding) cannot redirect the request;
* never follow redirects, apply a timeout, and read at most a capped number of bytes.

:func:`vet_url` is also what services call when a URL is saved, so a bad URL is a
clear 400 (``url_not_allowed``) at save time as well as at every send.

``OUTBOUND_ENABLED=false`` turns all of it off (an air-gapped installation; the live
servers of ``make test-system``, which must not reach the network): every send is
refused before any connection, and a URL being saved is checked for its form only
(its host name is not resolved: no DNS query leaves the machine).
"""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
from django.conf import settings

from config.errors import Invalid

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class OutboundRefused(Invalid):
    """The URL may not be reached (400 ``url_not_allowed``); no connection was opened."""

    code = "url_not_allowed"


class OutboundError(Exception):
    """The request was sent (or tried) and failed: timeout, connection error, too large."""


def system_resolver(host: str, port: int) -> list[str]:
    """The addresses ``host`` resolves to, from the operating system's resolver."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(info[4][0] for info in infos))


# NOTE: replaced in tests (tests/conftest.py) so no test ever queries real DNS.
resolver: Callable[[str, int], list[str]] = system_resolver


def _allowed_networks() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [ipaddress.ip_network(n, strict=False) for n in settings.OUTBOUND_ALLOWED_NETWORKS]


def _embedded_ipv4(ip: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address names: IPv4-mapped (``::ffff:a.b.c.d``, the
    same host) or 6to4 (``2002:AABB:CCDD::/16``, the IPv4 of its relay)."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return ip.ipv4_mapped
        if ip.sixtofour is not None:
            return ip.sixtofour
    return None


def _is_public(ip: IPAddress) -> bool:
    if isinstance(ip, ipaddress.IPv6Address) and ip.teredo is not None:
        # SECURITY: a Teredo address (2001:0::/32) is reached through a relay and
        # embeds a server and an obfuscated client IPv4: nothing we can vet. Refused
        # outright, not left to the stdlib's view of 2001::/23 (non-global today).
        return False
    embedded = _embedded_ipv4(ip)
    if embedded is not None and not _is_public(embedded):
        # SECURITY: 2002:a9fe:a9fe:: is "global" to the stdlib, and embeds the cloud
        # metadata address 169.254.169.254.
        return False
    return not (
        not ip.is_global
        or ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or (isinstance(ip, ipaddress.IPv4Address) and ip in ipaddress.ip_network("100.64.0.0/10"))
    )


def address_allowed(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    # Only an IPv4-mapped address is the same host as the IPv4 it carries: a 6to4 or
    # Teredo address embedding 127.0.0.1 is another host (a relay) and stays refused
    # when OUTBOUND_ALLOWED_NETWORKS opens 127.0.0.1/32.
    mapped = ip.ipv4_mapped if isinstance(ip, ipaddress.IPv6Address) else None
    for net in _allowed_networks():
        if ip.version == net.version and ip in net:
            return True
        if mapped is not None and net.version == 4 and mapped in net:
            return True
    return _is_public(ip)


@dataclass(frozen=True)
class Target:
    """A URL that passed the guard, and the address to connect to."""

    url: httpx.URL
    host: str
    address: str
    addresses: tuple[str, ...] = field(default=())

    @property
    def pinned_url(self) -> httpx.URL:
        return self.url.copy_with(host=self.address)

    @property
    def host_header(self) -> str:
        default = {"http": 80, "https": 443}[self.url.scheme]
        port = self.url.port
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if port in (None, default) else f"{host}:{port}"


def vet_url(url: str) -> Target:
    """The URL's target if every address it resolves to may be reached; else
    :class:`OutboundRefused`. Nothing is connected to here."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError) as exc:
        raise OutboundRefused("The URL is not valid.", details={"url": ["Not a URL."]}) from exc
    if parsed.scheme not in ("http", "https"):
        raise OutboundRefused(
            "Only http and https URLs are allowed.", details={"url": ["Use http or https."]}
        )
    if parsed.userinfo:
        raise OutboundRefused(
            "URLs may not carry a user name or password.",
            details={"url": ["Remove the credentials from the URL."]},
        )
    host = parsed.host
    if not host:
        raise OutboundRefused("The URL has no host.", details={"url": ["No host."]})
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        addresses = [str(ipaddress.ip_address(host))]
    except ValueError:
        if not settings.OUTBOUND_ENABLED:
            return Target(url=parsed, host=host, address="", addresses=())  # never sent
        try:
            addresses = resolver(host, port)
        except (OSError, UnicodeError) as exc:
            raise OutboundRefused(
                "The URL's host does not resolve.", details={"url": ["The host does not resolve."]}
            ) from exc
    if not addresses:
        raise OutboundRefused(
            "The URL's host does not resolve.", details={"url": ["The host does not resolve."]}
        )
    refused = [a for a in addresses if not address_allowed(a)]
    if refused:
        # SECURITY: one non-global answer is enough to refuse (no "pick a good one").
        raise OutboundRefused(
            "The URL points to a private or reserved address.",
            details={"url": ["This address is not reachable from here."]},
        )
    return Target(url=parsed, host=host, address=addresses[0], addresses=tuple(addresses))


@dataclass
class Response:
    status_code: int
    headers: httpx.Headers
    content: bytes
    truncated: bool
    elapsed_ms: int

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")


def _client(timeout: float) -> httpx.Client:
    return httpx.Client(
        follow_redirects=False,
        timeout=httpx.Timeout(timeout),
        trust_env=False,  # no proxy from the environment: we connect where we checked
    )


def _prepare(url: str, headers: dict[str, str] | None) -> tuple[Target, dict[str, str], dict]:
    if not settings.OUTBOUND_ENABLED:
        raise OutboundRefused(
            "Outbound requests are turned off on this installation (OUTBOUND_ENABLED).",
            details={"url": ["Nothing is sent from this installation."]},
        )
    target = vet_url(url)
    merged = {**(headers or {}), "Host": target.host_header}
    extensions = {"sni_hostname": target.host} if target.url.scheme == "https" else {}
    return target, merged, extensions


def request(
    method: str,
    url: str,
    *,
    headers: dict[str, str] | None = None,
    content: bytes | None = None,
    json: Any = None,
    timeout: float | None = None,
    max_bytes: int | None = None,
) -> Response:
    """Send one request through the guard; read at most ``max_bytes`` of the body."""
    timeout = timeout if timeout is not None else settings.OUTBOUND_TIMEOUT_SECONDS
    max_bytes = max_bytes if max_bytes is not None else settings.OUTBOUND_MAX_RESPONSE_BYTES
    target, merged, extensions = _prepare(url, headers)
    started = time.monotonic()
    try:
        with (
            _client(timeout) as client,
            client.stream(
                method,
                target.pinned_url,
                headers=merged,
                content=content,
                json=json,
                extensions=extensions,
            ) as response,
        ):
            body = bytearray()
            truncated = False
            for chunk in response.iter_bytes():
                body.extend(chunk)
                if len(body) > max_bytes:
                    truncated = True
                    del body[max_bytes:]
                    break
            return Response(
                status_code=response.status_code,
                headers=response.headers,
                content=bytes(body),
                truncated=truncated,
                elapsed_ms=int((time.monotonic() - started) * 1000),
            )
    except httpx.TimeoutException as exc:
        raise OutboundError("The request timed out.") from exc
    except httpx.HTTPError as exc:
        raise OutboundError(f"The request failed: {type(exc).__name__}.") from exc


@contextmanager
def stream(
    method: str,
    url: str,
    *,
    headers: dict[str, str] | None = None,
    json: Any = None,
    timeout: float | None = None,
) -> Iterator[httpx.Response]:
    """A streamed response (e.g. server-sent events) through the same guard."""
    timeout = timeout if timeout is not None else settings.OUTBOUND_TIMEOUT_SECONDS
    target, merged, extensions = _prepare(url, headers)
    try:
        with (
            _client(timeout) as client,
            client.stream(
                method, target.pinned_url, headers=merged, json=json, extensions=extensions
            ) as response,
        ):
            yield response
    except httpx.TimeoutException as exc:
        raise OutboundError("The request timed out.") from exc
    except httpx.HTTPError as exc:
        raise OutboundError(f"The request failed: {type(exc).__name__}.") from exc
