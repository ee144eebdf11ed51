"""``export_org`` / ``erase_org`` / ``import_org``: one tenant out, gone, and back.

Commands commit (and one test uses a second database), hence ``transaction=True``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from accounts.models import User
from audit.services import audit_verify
from organizations import roles
from organizations.tenancy import service_context
from tests.operations.support import (
    archive_member,
    audit_events,
    org_exists,
    org_fingerprint,
    rewrite_archive,
    use_database,
)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def tenants(personas):
    """acme and globex with members, invitations and audit events written by the API."""
    owner = personas.client("owner")
    owner.post("/api/v1/orgs/acme/invitations/", {"email": "a@x.test"}, format="json")
    owner.patch("/api/v1/orgs/acme/", {"name": "Acme Renamed"}, format="json")
    personas.client("outsider").post(
        "/api/v1/orgs/globex/invitations/", {"email": "g@x.test"}, format="json"
    )
    return personas


def _export(tmp_path: Path, *args: str) -> Path:
    path = tmp_path / "acme.tar.gz"
    call_command("export_org", "acme", "--output", str(path), *args)
    return path


def _chain_is_intact() -> None:
    with service_context(reason="test verify"):
        _, problems = audit_verify()
    assert problems == []


def test_export_erase_import_restores_acme_exactly_and_never_touches_globex(tenants, tmp_path):
    acme, globex = tenants.org.id, tenants.other_org.id
    acme_before, globex_before = org_fingerprint(acme), org_fingerprint(globex)
    acme_events, globex_events = audit_events(acme), audit_events(globex)
    assert acme_before["organizations_membership"][0] == 5 and acme_events

    archive = _export(tmp_path)
    assert org_fingerprint(globex) == globex_before

    call_command("erase_org", "acme", "--noinput")
    assert not org_exists("acme")
    assert all(rows == 0 for rows, _ in org_fingerprint(acme).values())
    assert org_fingerprint(globex) == globex_before
    assert audit_events(globex) == globex_events

    call_command("import_org", str(archive))
    assert org_fingerprint(acme) == acme_before
    assert org_fingerprint(globex) == globex_before
    assert audit_events(globex) == globex_events
    # The audit trail survived the erase untouched, and records all three operations.
    events = audit_events(acme)
    assert {k: events[k] for k in acme_events} == acme_events
    added = sorted((seq, action) for seq, action, *_ in events.values() if seq > len(acme_events))
    assert [action for _, action in added] == ["org.exported", "org.erased", "org.imported"]
    _chain_is_intact()


def test_erase_dry_run_lists_every_table_and_changes_nothing(tenants, capsys):
    before = org_fingerprint(tenants.org.id)
    call_command("erase_org", "acme", "--dry-run")
    out = capsys.readouterr().out
    assert "organizations_membership" in out and "5  delete" in out
    assert "keep (append-only audit trail)" in out
    assert "Nothing changed" in out
    assert org_fingerprint(tenants.org.id) == before


def test_archive_leaves_password_hashes_out_unless_asked(tenants, tmp_path):
    manifest = archive_member(_export(tmp_path), "manifest.json")
    users = archive_member(tmp_path / "acme.tar.gz", "users/accounts_user.jsonl")
    assert manifest["users"]["password_hashes"] is False
    assert {u["email"] for u in users} >= {"owner@acme.test", "viewer@acme.test"}
    assert all("password" not in u for u in users)

    path = tmp_path / "with-hashes.tar.gz"
    call_command("export_org", "acme", "--output", str(path), "--include-password-hashes")
    assert all(u["password"] for u in archive_member(path, "users/accounts_user.jsonl"))


def test_import_refuses_a_slug_that_exists_and_changes_nothing(tenants, tmp_path):
    archive = _export(tmp_path)
    before = org_fingerprint(tenants.org.id)
    with pytest.raises(CommandError, match=r"slug 'acme'.*already exists here"):
        call_command("import_org", str(archive))
    assert org_fingerprint(tenants.org.id) == before


def _truncate(source: Path, target: Path) -> None:
    data = source.read_bytes()
    target.write_bytes(data[: len(data) * 2 // 3])


def _flip_a_byte(source: Path, target: Path) -> None:
    data = bytearray(source.read_bytes())
    data[len(data) // 2] ^= 0xFF
    target.write_bytes(bytes(data))


def _edit_a_row(source: Path, target: Path) -> None:
    def edit(name: str, data: bytes) -> bytes:
        if name == "tables/organizations_membership.jsonl":
            return data.replace(b'"viewer"', b'"admin"', 1)
        return data

    rewrite_archive(source, target, edit)


def _drop_the_manifest(source: Path, target: Path) -> None:
    rewrite_archive(source, target, lambda name, data: data if name != "manifest.json" else b"{")


def _from_a_newer_schema(source: Path, target: Path) -> None:
    def edit(name: str, data: bytes) -> bytes:
        if name != "manifest.json":
            return data
        manifest = json.loads(data)
        manifest["schema"]["organizations"].append("0099_from_the_future")
        return json.dumps(manifest).encode()

    rewrite_archive(source, target, edit)


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (_truncate, "truncated or corrupt"),
        (_flip_a_byte, "truncated or corrupt|is corrupt"),
        (_edit_a_row, "is corrupt: tables/organizations_membership.jsonl"),
        (_drop_the_manifest, "manifest.json is not valid JSON"),
        (_from_a_newer_schema, "newer schema: organizations.0099_from_the_future"),
    ],
)
def test_bad_archives_get_a_clear_error_and_change_nothing(tenants, tmp_path, damage, message):
    archive = _export(tmp_path)
    call_command("erase_org", "acme", "--noinput")
    before = org_fingerprint(tenants.org.id), org_fingerprint(tenants.other_org.id)
    users = User.objects.count()
    bad = tmp_path / "bad.tar.gz"
    damage(archive, bad)
    with pytest.raises(CommandError, match=message):
        call_command("import_org", str(bad))
    assert (org_fingerprint(tenants.org.id), org_fingerprint(tenants.other_org.id)) == before
    assert User.objects.count() == users
    call_command("import_org", str(archive))  # the intact archive still imports
    assert org_exists("acme")


def test_import_into_another_installation_preserves_ids_and_audit_hashes(
    tenants, tmp_path, scratch_db
):
    with service_context(reason="test setup"):
        User.objects.filter(email="admin@acme.test").update(is_staff=True, is_superuser=True)
    acme_before = org_fingerprint(tenants.org.id)
    events_before = audit_events(tenants.org.id)
    archive = _export(tmp_path)  # its own org.exported event is not in the archive

    other = scratch_db()
    with roles.admin_connect() as conn:
        roles.create_database(conn, other)
    with use_database(other):
        call_command("migrate", verbosity=0, interactive=False)
        # Someone else already uses one of acme's emails there: refused, nothing changed.
        with service_context(reason="test setup"):
            stranger = User.objects.create_user("member@acme.test", "x-password-123")
        with pytest.raises(CommandError, match="email that belongs to a different user"):
            call_command("import_org", str(archive))
        assert not org_exists("acme")
        with service_context(reason="test setup"):  # the stranger changes address
            User.objects.filter(pk=stranger.pk).update(email="stranger@elsewhere.test")

        call_command("import_org", str(archive))
        assert org_fingerprint(tenants.org.id) == acme_before
        events = audit_events(tenants.org.id)
        # Replayed into an empty chain, the trigger reproduced every sequence and hash.
        assert {k: events[k] for k in events_before} == events_before
        _chain_is_intact()
        with service_context(reason="test read"):
            admin = User.objects.get(email="admin@acme.test")
            assert not admin.is_staff and not admin.is_superuser  # staff rights stay home
            assert not admin.has_usable_password()
            assert User.objects.filter(email="owner@globex.test").exists() is False


def test_import_order_puts_every_referenced_table_first_or_defers_a_nullable_column():
    """Holds for every tenant table of every installed app, including later ones."""
    from organizations.operations.schema import parents_first, references, tenant_tables

    tables = tenant_tables()
    order, deferred = parents_first(tables)
    position = {t.table: i for i, t in enumerate(order)}
    assert order[0].table == "organizations_organization"
    assert sorted(position) == sorted(t.table for t in tables)
    for ref in references():
        if ref.table in position and ref.target_table in position and ref.table != ref.target_table:
            assert position[ref.target_table] < position[ref.table] or (
                ref in deferred and ref.nullable
            ), ref
