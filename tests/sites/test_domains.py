"""Acceptance 4: domains verify through the replaced resolver; a verified hostname
belongs to one site in the installation; a verified domain serves its site by Host."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

from organizations.tenancy import service_context
from sites import dns
from sites.models import Domain
from tests.sites.makers import sites_world
from tests.sites.support import make_site, public_get

pytestmark = pytest.mark.django_db

ACME_DOMAINS = "/api/v1/orgs/acme/sites/matrix-site/domains/"


@pytest.fixture(autouse=True)
def _no_records():
    dns.STATIC_RECORDS.clear()
    yield
    dns.STATIC_RECORDS.clear()


def _add_and_verify(client, url, hostname):
    created = client.post(url, {"hostname": hostname}, format="json")
    assert created.status_code == 201, created.json()
    record = created.json()["verification"]
    dns.STATIC_RECORDS.setdefault(record["name"], []).append(record["value"])
    return created.json(), client.post(f"{url}{created.json()['id']}/verify/")


def test_a_domain_verifies_through_its_txt_record(personas):
    sites_world(personas)
    admin = personas.client("admin")
    created, verified = _add_and_verify(admin, ACME_DOMAINS, "Shop.Example.COM.")
    assert created["hostname"] == "shop.example.com"
    assert created["status"] == "pending"
    assert created["verification"]["name"] == "_saas-verify.shop.example.com"
    assert verified.status_code == 200, verified.json()
    assert verified.json()["status"] == "verified"
    assert verified.json()["verified_at"]


def test_a_missing_record_fails_verification(personas):
    sites_world(personas)
    admin = personas.client("admin")
    created = admin.post(ACME_DOMAINS, {"hostname": "nope.example.com"}, format="json").json()
    dns.STATIC_RECORDS["_saas-verify.nope.example.com"] = ["saas-verify=someone-elses-token"]
    response = admin.post(f"{ACME_DOMAINS}{created['id']}/verify/")
    assert response.json()["status"] == "failed"


def test_an_unicode_hostname_is_stored_as_idna(personas):
    sites_world(personas)
    response = personas.client("admin").post(
        ACME_DOMAINS, {"hostname": "bücher.example"}, format="json"
    )
    assert response.json()["hostname"] == "xn--bcher-kva.example"
    bad = personas.client("admin").post(ACME_DOMAINS, {"hostname": "no spaces"}, format="json")
    assert bad.status_code == 400


def test_a_second_org_cannot_claim_a_verified_hostname(personas):
    sites_world(personas)
    make_site(personas.other_org, personas.users["outsider"], "globex-site")
    globex_domains = "/api/v1/orgs/globex/sites/globex-site/domains/"
    outsider = personas.client("outsider")
    # globex adds it first (pending), acme verifies it, globex then tries to verify too.
    early = outsider.post(globex_domains, {"hostname": "shop.example.com"}, format="json")
    assert early.status_code == 201
    _, verified = _add_and_verify(personas.client("admin"), ACME_DOMAINS, "shop.example.com")
    assert verified.json()["status"] == "verified"

    again = outsider.post(globex_domains, {"hostname": "shop.example.com"}, format="json")
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "hostname_taken"
    record = early.json()["verification"]
    dns.STATIC_RECORDS[record["name"]].append(record["value"])  # globex proves DNS too
    stolen = outsider.post(f"{globex_domains}{early.json()['id']}/verify/")
    assert stolen.status_code == 409
    assert stolen.json()["error"]["code"] == "hostname_taken"
    with service_context(reason="test read"):
        assert Domain.objects.get(id=early.json()["id"]).status == "pending"


def test_the_database_refuses_two_verified_rows_for_one_hostname(personas):
    world = sites_world(personas)
    other = make_site(personas.other_org, personas.users["outsider"], "globex-site")
    with (
        service_context(reason="test: raw rows"),
        pytest.raises(IntegrityError),
        transaction.atomic(),
    ):
        for site in (world["site"], other):
            Domain.objects.create(
                organization_id=site.organization_id,
                site=site,
                hostname="twice.example.com",
                verification_token="t",
                status="verified",
            )


def test_a_verified_domain_serves_the_live_site_by_host(personas):
    sites_world(personas)
    _add_and_verify(personas.client("admin"), ACME_DOMAINS, "shop.example.com")
    page = public_get("/", HTTP_HOST="shop.example.com")
    assert page.status_code == 200
    assert b"<title>Matrix home</title>" in page.content
    assert b'href="/"' in page.content  # links are relative to the domain's root
    assert public_get("/nowhere", HTTP_HOST="shop.example.com").status_code == 404
    assert public_get("/", HTTP_HOST="unknown.example.com").status_code == 400


def test_a_pending_domain_serves_nothing(personas):
    sites_world(personas)  # has the pending matrix.example.test
    assert public_get("/", HTTP_HOST="matrix.example.test").status_code == 400
