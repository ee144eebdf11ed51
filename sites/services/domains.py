"""Custom domains: add (pending), verify by a TXT record, remove.

A hostname is stored lower-case and IDNA-encoded (``bücher.example`` ->
``xn--bcher-kva.example``). Verification looks up ``_saas-verify.<host>`` and
expects ``saas-verify=<token>``. A *verified* hostname belongs to one site in
the whole installation (``domain_verified_hostname_unique``): a second org can
neither add nor verify it (409 ``hostname_taken``).
"""

from __future__ import annotations

import re
import secrets

import idna
from django.db import connection, transaction
from django.utils import timezone

from accounts.models import User
from audit.services import audit_record
from config.errors import Conflict, Invalid, conflict_on_duplicate
from sites import dns
from sites.errors import conflict
from sites.models import Domain, Site

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


def normalize_hostname(hostname: str) -> str:
    if not isinstance(hostname, str):
        raise Invalid("Invalid hostname.", details={"hostname": ["A string."]})
    host = hostname.strip().rstrip(".").lower()
    try:
        host = idna.encode(host, uts46=True).decode("ascii")
    except idna.IDNAError as exc:
        raise Invalid("Invalid hostname.", details={"hostname": [str(exc)]}) from exc
    labels = host.split(".")
    if len(host) > 253 or len(labels) < 2 or not all(_LABEL.match(label) for label in labels):
        raise Invalid(
            "Invalid hostname.", details={"hostname": ["A domain name such as www.example.com."]}
        )
    return host


def _verified_elsewhere(hostname: str) -> bool:
    """Whether any site of the installation serves ``hostname`` (through the public
    read path: the caller's RLS would hide another org's domain)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM app.public_site_for_host(%s)", [hostname])
        return cursor.fetchone() is not None


def _taken() -> Conflict:
    return conflict("hostname_taken", "This hostname is already verified for another site.")


@transaction.atomic
def domain_create(*, actor: User, site: Site, hostname: str) -> Domain:
    hostname = normalize_hostname(hostname)
    if _verified_elsewhere(hostname):
        raise _taken()
    with conflict_on_duplicate(
        conflict("hostname_taken", "This organization already has this hostname.")
    ):
        domain = Domain.objects.create(
            organization_id=site.organization_id,
            site=site,
            hostname=hostname,
            verification_token=secrets.token_urlsafe(24),
            created_by=actor,
            is_primary=not Domain.objects.filter(
                organization_id=site.organization_id, site=site
            ).exists(),
        )
    audit_record(
        action="domain.created",
        actor=actor,
        organization_id=site.organization_id,
        target=domain,
        changes={"hostname": hostname, "site": site.slug},
    )
    return domain


@transaction.atomic
def domain_verify(*, actor: User, domain: Domain) -> Domain:
    """Look up the TXT record; ``verified`` if it carries the token, else ``failed``."""
    domain = Domain.objects.select_for_update().get(
        organization_id=domain.organization_id, id=domain.id
    )
    found = dns.txt_resolver()(dns.record_name(domain.hostname))
    ok = dns.record_value(domain.verification_token) in found
    now = timezone.now()
    domain.last_checked_at = now
    if ok and domain.status != Domain.Status.VERIFIED:
        if _verified_elsewhere(domain.hostname):
            raise _taken()
        domain.status = Domain.Status.VERIFIED
        domain.verified_at = now
    elif not ok:
        domain.status = Domain.Status.FAILED
        domain.verified_at = None
    with conflict_on_duplicate(_taken()):  # a concurrent verification elsewhere won
        domain.save(update_fields=["status", "verified_at", "last_checked_at", "updated_at"])
    audit_record(
        action="domain.verified" if ok else "domain.verification_failed",
        actor=actor,
        organization_id=domain.organization_id,
        target=domain,
        changes={"hostname": domain.hostname},
    )
    return domain


@transaction.atomic
def domain_set_primary(*, actor: User, domain: Domain) -> Domain:
    Domain.objects.filter(organization_id=domain.organization_id, site_id=domain.site_id).exclude(
        id=domain.id
    ).update(is_primary=False)
    domain.is_primary = True
    domain.save(update_fields=["is_primary", "updated_at"])
    audit_record(
        action="domain.primary",
        actor=actor,
        organization_id=domain.organization_id,
        target=domain,
    )
    return domain


@transaction.atomic
def domain_delete(*, actor: User, domain: Domain) -> None:
    audit_record(
        action="domain.deleted",
        actor=actor,
        organization_id=domain.organization_id,
        target=domain,
        changes={"hostname": domain.hostname},
    )
    Domain.objects.filter(organization_id=domain.organization_id, id=domain.id).delete()
