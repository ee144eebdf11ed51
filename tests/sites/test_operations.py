"""Sites in the operator commands: the demo seed, ``seed --scale``, export/erase/import,
backup verification and ``purge_versions``. The commands find tables generically;
these tests prove the sites tables are among them.

Commands commit, hence ``transaction=True``.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
import time_machine
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from organizations.models import Organization
from organizations.seeding import scale_slug
from organizations.tenancy import service_context
from sites.models import (
    Deployment,
    DeploymentPage,
    Page,
    PageComment,
    PageVersion,
    Site,
    Template,
)
from sites.services import sites as site_services
from tests.operations.support import org_exists, org_fingerprint
from tests.sites.makers import sites_world
from tests.sites.support import (
    audit_actions,
    count,
    deploy_now,
    get,
    make_page,
    public_get,
    publish,
)

pytestmark = pytest.mark.django_db(transaction=True)

SITES_TABLES = {
    "sites_site",
    "sites_page",
    "sites_pageversion",
    "sites_pagecomment",
    "sites_pageanalyticsdaily",
    "sites_deployment",
    "sites_deploymentpage",
    "sites_domain",
    "sites_component",
    "sites_section",
    "sites_template",
}


def test_the_demo_seed_publishes_and_deploys_the_acme_site():
    call_command("seed")
    call_command("seed")  # idempotent
    with service_context(reason="test read"):
        site = Site.objects.get(organization__slug="acme", slug="acme-studio")
        home = Page.objects.get(site=site, path="/")
        assert PageVersion.objects.filter(page=home).count() == 2
        assert Page.objects.filter(site=site).count() == 3
        live = Deployment.objects.get(id=site.live_deployment_id)
        assert (live.environment, live.status) == ("production", "ready")
        thread = PageComment.objects.filter(page=home)
        assert thread.filter(parent__isnull=False).count() == 1
        assert site.template.is_public
        # The shared Starter template is neutral: acme's text is only on acme's site.
        starter = Template.objects.get(organization__slug="acme", slug="starter")
        assert "acme" not in json.dumps(starter.pages).lower()
        triggers = Deployment.objects.filter(site=site).values_list("trigger", flat=True)
        assert list(triggers) == ["auto", "auto"]
    page = public_get("/p/acme/acme-studio/")
    assert page.status_code == 200
    assert b"rocket skates" in page.content and b"Order an anvil" in page.content
    assert public_get("/p/acme/acme-studio/about").status_code == 200


def test_seed_scale_fills_every_sites_table_and_the_scale_sites_are_live():
    call_command("seed", "--scale", "--orgs", "2", "--rows-per-org", "20", "--seed", "11")
    call_command("db_validate")
    with service_context(reason="test read"):
        org = Organization.objects.get(slug=scale_slug(11, 0))
    fingerprint = org_fingerprint(org.id)
    assert fingerprint.keys() >= SITES_TABLES
    assert all(fingerprint[table][0] > 0 for table in SITES_TABLES), fingerprint
    assert fingerprint["sites_page"][0] == fingerprint["sites_pageversion"][0] == 20
    page = public_get(f"/p/{org.slug}/site-0000/page-00002")
    assert page.status_code == 200 and b"Generated page 2" in page.content


def test_export_erase_import_carries_every_sites_table(personas, tmp_path: Path):
    sites_world(personas)
    public_get("/p/acme/matrix-site/")  # a day of analytics too
    before = org_fingerprint(personas.org.id)
    assert all(before[table][0] > 0 for table in SITES_TABLES), before

    archive = tmp_path / "acme.tar.gz"
    call_command("export_org", "acme", "--output", str(archive))
    call_command("erase_org", "acme", "--noinput")
    assert not org_exists("acme")
    assert all(before_rows == 0 for before_rows, _ in org_fingerprint(personas.org.id).values())
    assert public_get("/p/acme/matrix-site/").status_code == 404

    call_command("import_org", str(archive))
    after = org_fingerprint(personas.org.id)
    assert {t: after[t] for t in SITES_TABLES} == {t: before[t] for t in SITES_TABLES}
    assert public_get("/p/acme/matrix-site/").status_code == 200


def test_a_backup_covers_the_sites_tables_and_verifies(personas, tmp_path: Path):
    sites_world(personas)
    call_command("backup", "--output", str(tmp_path))
    (backup,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    manifest = json.loads((backup / "manifest.json").read_text())
    for table in SITES_TABLES - {"sites_pageanalyticsdaily"}:
        assert manifest["tables"][f"public.{table}"]["rows"] > 0, table
    assert manifest["rls"]["tables"]["public.sites_pageversion"]["forced"] is True
    call_command("backup_verify", str(backup))


@pytest.mark.django_db(transaction=True, databases=["default", "owner"])
def test_purge_keeps_live_scheduled_latest_and_deployed_versions(personas):
    owner = personas.users["owner"]
    world = sites_world(personas)  # home: v1, pinned by the live deployment
    site, home = world["site"], world["page"]
    with service_context(reason="test: production moves only when deployed here"):
        site = site_services.site_set_production_locked(actor=owner, site=site, locked=True)
    with time_machine.travel(timezone.now() - timedelta(days=40)):
        for _ in range(3):
            publish(site, home, owner)  # v2..v4, old
        other = make_page(site, owner, path="/old")
        publish(site, other, owner)  # v1, old
        publish(site, other, owner)  # v2, old, live + latest
    deploy_now(site, owner)  # pins home v4 and /old v2
    publish(site, home, owner)  # v5: live and latest, recent
    with time_machine.travel(timezone.now() - timedelta(days=35)):
        publish(site, other, owner, go_live_at=timezone.now() + timedelta(days=100))  # v3

    call_command("purge_versions", "--days", "30")

    def numbers(page):
        with service_context(reason="test read"):
            return sorted(PageVersion.objects.filter(page=page).values_list("number", flat=True))

    # home: v1 and v4 deployed, v5 live/latest; v2, v3 old and unneeded.
    assert numbers(home) == [1, 4, 5]
    # /old: v1 gone; v2 live and deployed; v3 scheduled and latest.
    assert numbers(other) == [2, 3]
    assert count(DeploymentPage, deployment__site=site) == 3
    assert get(Page, "live_version", id=other.id).live_version.number == 2
    assert audit_actions(personas.org, "page_version.") == ["page_version.purged"]


@pytest.mark.parametrize(
    "table, column", [("sites_page", "live_version_id"), ("sites_site", "live_deployment_id")]
)
def test_a_dangling_live_pointer_is_refused_at_once(personas, table, column):
    """sites 0004 lets a bulk load defer these checks to commit when it asks; any other
    transaction still gets the foreign-key error on the statement itself."""
    sites_world(personas)
    sql = (
        f"UPDATE {table} SET {column} = gen_random_uuid()"
        f" WHERE id = (SELECT id FROM {table} WHERE organization_id = %s LIMIT 1)"
    )
    with (
        service_context(reason="test"),
        connection.cursor() as cursor,
        pytest.raises(IntegrityError),
        transaction.atomic(),
    ):
        cursor.execute(sql, [str(personas.org.id)])
