"""The outbound guard and IPv6 transition addresses (issue 17 §6): 6to4 (2002::/16)
and Teredo (2001:0::/32) addresses embed an IPv4 address; the guard must refuse them
when that address is not public (``2002:a9fe:a9fe::`` is the cloud metadata address
169.254.169.254), and no connection may open. DNS is stubbed; the
``connections_made`` fixture records (and refuses) every socket connect.

The stdlib calls ``2002:a9fe:a9fe::`` global: only the guard's own 6to4 check refuses
it. Teredo sits in 2001::/23, which the stdlib already calls non-global, so the guard
refuses every Teredo address outright (a relay, nothing to vet) and does not rely on
that. ``OUTBOUND_ALLOWED_NETWORKS = 127.0.0.1/32`` opens loopback and its IPv4-mapped
form only: a 6to4 or Teredo address embedding 127.0.0.1 is a relay elsewhere.
"""

from __future__ import annotations

import ipaddress

import pytest

from integrations import outbound
from tests.integrations.support import stub_dns

pytestmark = pytest.mark.django_db

HOST = "tunnel.example.com"

SIX_TO_FOUR_INSIDE = {
    "2002:a9fe:a9fe::": "169.254.169.254",  # cloud metadata
    "2002:a9fe:a9fe:1::1": "169.254.169.254",
    "2002:0a00:0001::1": "10.0.0.1",
    "2002:c0a8:0101::": "192.168.1.1",
    "2002:7f00:0001::": "127.0.0.1",
    "2002:6440:0001::": "100.64.0.1",  # CGNAT
    "2002:0000:0000::": "0.0.0.0",  # noqa: S104 - an address, not a bind
}
TEREDO = {
    # server 65.54.227.120; client (obfuscated) 169.254.169.254 / 127.0.0.1
    "2001:0:4136:e378:8000:ffff:5601:5601": "169.254.169.254",
    "2001:0:4136:e378:8000:ffff:80ff:fffe": "127.0.0.1",
    # server 169.254.169.254, client 8.8.8.8
    "2001:0:a9fe:a9fe:8000:ffff:f7f7:f7f7": "8.8.8.8",
    # server 93.184.216.34, client 8.8.8.8: both public, still a relay: refused
    "2001:0:5db8:d822:8000:ffff:f7f7:f7f7": "8.8.8.8",
}


def test_the_addresses_are_what_they_say():
    """Written independently of the guard: the stdlib's decoding of each address."""
    for address, embedded in SIX_TO_FOUR_INSIDE.items():
        assert str(ipaddress.ip_address(address).sixtofour) == embedded
    for address, client in TEREDO.items():
        assert str(ipaddress.ip_address(address).teredo[1]) == client
    # Why the 6to4 check matters: the stdlib alone would let the metadata form through.
    assert ipaddress.ip_address("2002:a9fe:a9fe::").is_global


@pytest.mark.parametrize("address", [*SIX_TO_FOUR_INSIDE, *TEREDO])
def test_a_url_resolving_to_a_6to4_or_teredo_address_is_refused_at_save(
    personas, monkeypatch, connections_made, address
):
    stub_dns(monkeypatch, {HOST: [address]})
    response = personas.client("admin").post(
        "/api/v1/orgs/acme/webhooks/",
        {"url": f"https://{HOST}/x", "event_types": ["*"]},
        format="json",
    )
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == "url_not_allowed"
    assert connections_made == []


@pytest.mark.parametrize("address", [*SIX_TO_FOUR_INSIDE, *TEREDO])
@pytest.mark.parametrize("send", ["request", "stream"])
def test_a_send_to_a_6to4_or_teredo_address_opens_no_connection(
    monkeypatch, connections_made, address, send
):
    stub_dns(monkeypatch, {HOST: [address]})
    with pytest.raises(outbound.OutboundRefused):
        if send == "request":
            outbound.request("GET", f"http://{HOST}/latest/meta-data/")
        else:
            with outbound.stream("POST", f"http://{HOST}/v1/chat/completions", json={}):
                pass
    assert connections_made == []


@pytest.mark.parametrize("address", ["2002:7f00:0001::", "2001:0:4136:e378:8000:ffff:80ff:fffe"])
def test_allowing_loopback_does_not_allow_a_tunnel_address_that_embeds_it(
    settings, monkeypatch, connections_made, address
):
    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    stub_dns(monkeypatch, {HOST: [address]})
    with pytest.raises(outbound.OutboundRefused):
        outbound.request("GET", f"http://{HOST}/")
    assert connections_made == []
    # The IPv4-mapped form is the same host: the allow-list still admits it.
    assert outbound.address_allowed("::ffff:127.0.0.1")


def test_a_6to4_address_of_a_public_ipv4_is_not_refused_for_its_form(monkeypatch):
    """The refusals above come from what is embedded, not from refusing 2002::/16."""
    stub_dns(monkeypatch, {HOST: ["2002:5db8:d822::1"]})  # 93.184.216.34
    assert outbound.vet_url(f"https://{HOST}/").address == "2002:5db8:d822::1"
