"""``backup`` / ``restore`` / ``backup_verify`` against real PostgreSQL databases.

Backups read committed data through another login, hence ``transaction=True``.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connections
from django.db.migrations.loader import MigrationLoader

from organizations.operations.backup import (
    BACKUP_FORMAT,
    ENCRYPTED_DUMP,
    MANIFEST,
    OperationError,
    decrypt_dump,
    encryption_keys,
)
from organizations.operations.pg import (
    Table,
    check_program_compatible,
    current_database,
    pin_output_settings,
    table_checksum,
)
from tests.operations.support import database_fingerprint, owner_connect, rls_snapshot

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def data(personas):
    """Demo-shaped data in every core table, plus a small generated load."""
    personas.client("owner").post(
        "/api/v1/orgs/acme/invitations/", {"email": "new@acme.test"}, format="json"
    )
    call_command("seed", "--scale", "--orgs", "2", "--rows-per-org", "5", "--seed", "3")
    return personas


def _backup(tmp_path: Path, *args: str) -> Path:
    call_command("backup", "--output", str(tmp_path), *args)
    (path,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    return path


def test_backup_then_restore_into_a_new_database_reproduces_every_table_and_rls(
    data, tmp_path, scratch_db
):
    backup = _backup(tmp_path)
    manifest = json.loads((backup / MANIFEST).read_text())
    assert manifest["tables"]["public.organizations_membership"]["rows"] >= 10 + 6
    (latest,) = MigrationLoader(None).graph.leaf_nodes("organizations")
    assert manifest["migrations"]["organizations"][-1] == latest[1]
    assert {"pg_dump", "python", "django", "psycopg"} <= manifest["tools"].keys()
    assert manifest["rls"]["tables"]["public.audit_auditevent"]["forced"] is True
    assert manifest["format"] == BACKUP_FORMAT
    assert all(
        len(t["checksum"]) == 16 and int(t["checksum"], 16) >= 0
        for t in manifest["tables"].values()
    )

    target = scratch_db()
    call_command("restore", str(backup), "--database", target)

    # Independently of the manifest: same rows and same RLS as the source.
    source_rows, restored_rows = database_fingerprint(), database_fingerprint(target)
    assert restored_rows == source_rows
    assert restored_rows["public.audit_auditevent"][0] > 0
    assert rls_snapshot(target) == rls_snapshot()
    forced = {name for name, enabled, force in rls_snapshot(target)["flags"] if enabled and force}
    assert {"organizations_membership", "audit_auditevent", "accounts_usersettings"} <= forced


def test_backup_as_the_app_role_fails_loudly_and_leaves_no_file(data, tmp_path, monkeypatch):
    # What happens when DATABASE_OWNER_URL points at the runtime role.
    monkeypatch.setitem(connections["owner"].settings_dict, "USER", settings.DB_APP_ROLE)
    with pytest.raises(CommandError, match="subject to row level security"):
        call_command("backup", "--output", str(tmp_path))
    assert list(tmp_path.iterdir()) == []


def test_encrypted_backup_verifies_with_its_key_and_a_wrong_key_changes_nothing(
    data, tmp_path, monkeypatch, databases_like_this_one
):
    monkeypatch.setenv("BACKUP_ENCRYPTION_KEY", Fernet.generate_key().decode())
    backup = _backup(tmp_path, "--encrypt")
    dump = backup / ENCRYPTED_DUMP
    assert b"PGDMP" not in dump.read_bytes()[:4096]  # pg_dump's custom-format magic
    call_command("backup_verify", str(backup))

    before = databases_like_this_one()
    monkeypatch.setenv("BACKUP_ENCRYPTION_KEY", Fernet.generate_key().decode())
    with pytest.raises(CommandError, match="wrong BACKUP_ENCRYPTION_KEY"):
        call_command("backup_verify", str(backup))
    assert databases_like_this_one() == before


def test_key_rotation_decrypts_with_an_older_key(data, tmp_path, monkeypatch):
    old = Fernet.generate_key().decode()
    monkeypatch.setenv("BACKUP_ENCRYPTION_KEY", old)
    backup = _backup(tmp_path, "--encrypt")
    monkeypatch.setenv("BACKUP_ENCRYPTION_KEY", f"{Fernet.generate_key().decode()},{old}")
    call_command("backup_verify", str(backup))


@pytest.mark.parametrize("damage", ["flip a byte", "truncate"])
def test_damaged_dump_is_refused_before_any_database_is_touched(
    data, tmp_path, scratch_db, damage, databases_like_this_one
):
    backup = _backup(tmp_path)
    dump = backup / "database.dump"
    content = bytearray(dump.read_bytes())
    if damage == "truncate":
        del content[len(content) // 2 :]
    else:
        content[len(content) // 2] ^= 0xFF
    dump.write_bytes(bytes(content))
    before = databases_like_this_one()
    with pytest.raises(CommandError, match=r"truncated or damaged|is damaged"):
        call_command("restore", str(backup), "--database", scratch_db())
    assert databases_like_this_one() == before


def test_truncated_or_reordered_encrypted_frames_are_detected(tmp_path, monkeypatch):
    """Below the manifest's sha256 check: the frame format itself catches damage."""
    from organizations.operations.backup import EncryptingWriter

    monkeypatch.setenv("BACKUP_ENCRYPTION_KEY", Fernet.generate_key().decode())
    fernet = encryption_keys()
    source = tmp_path / "x.enc"
    with source.open("wb") as fh:
        writer = EncryptingWriter(fh, fernet)
        writer.write(b"x" * (5 << 20))  # two frames
        writer.close()
    decrypt_dump(source, tmp_path / "ok", fernet)
    assert (tmp_path / "ok").read_bytes() == b"x" * (5 << 20)
    data = source.read_bytes()
    (tmp_path / "cut").write_bytes(data[: len(data) - 200])
    with pytest.raises(OperationError, match="truncated"):
        decrypt_dump(tmp_path / "cut", tmp_path / "out", fernet)


def test_missing_manifest_is_refused(data, tmp_path, scratch_db):
    backup = _backup(tmp_path)
    (backup / MANIFEST).unlink()
    with pytest.raises(CommandError, match=r"has no manifest\.json"):
        call_command("restore", str(backup), "--database", scratch_db())


def test_restore_refuses_a_non_empty_database_unless_forced(data, tmp_path, scratch_db):
    backup = _backup(tmp_path)
    with pytest.raises(CommandError, match="is not empty"):
        call_command("restore", str(backup))  # the current, migrated database
    target = scratch_db()
    call_command("restore", str(backup), "--database", target)
    with pytest.raises(CommandError, match="is not empty"):
        call_command("restore", str(backup), "--database", target)
    call_command("restore", str(backup), "--database", target, "--force")
    assert database_fingerprint(target) == database_fingerprint()


def test_backup_verify_fails_when_the_data_does_not_match_the_manifest(
    data, tmp_path, databases_like_this_one
):
    backup = _backup(tmp_path)
    path = backup / MANIFEST
    manifest = json.loads(path.read_text())
    manifest["tables"]["public.organizations_membership"]["rows"] += 1
    checksum = manifest["tables"]["public.organizations_organization"]["checksum"]
    manifest["tables"]["public.organizations_organization"]["checksum"] = checksum[::-1]
    del manifest["rls"]["tables"]["public.audit_auditevent"]["policies"]["audit_select"]
    path.write_text(json.dumps(manifest))
    before = databases_like_this_one()
    stderr = io.StringIO()
    with pytest.raises(CommandError, match="does NOT match"):
        call_command("backup_verify", str(backup), stderr=stderr)
    assert databases_like_this_one() == before  # the scratch database was dropped
    assert "public.organizations_membership: " in stderr.getvalue()
    assert (
        "public.organizations_organization: same row count but different content"
        in stderr.getvalue()
    )
    assert "public.audit_auditevent: unexpected policy audit_select" in stderr.getvalue()


def test_a_manifest_of_the_previous_format_is_refused_before_anything_is_touched(
    data, tmp_path, scratch_db, databases_like_this_one
):
    backup = _backup(tmp_path)
    path = backup / MANIFEST
    manifest = json.loads(path.read_text())
    manifest["format"] = "saas-backup/1"
    for entry in manifest["tables"].values():
        entry["sha256"] = hashlib.sha256(entry.pop("checksum").encode()).hexdigest()
    path.write_text(json.dumps(manifest))
    before = databases_like_this_one()
    for args in (["restore", "--database", scratch_db()], ["backup_verify"]):
        with pytest.raises(CommandError, match=r"saas-backup/1 manifest, made by an older"):
            call_command(args[0], str(backup), *args[1:])
    assert databases_like_this_one() == before


ROWS = [
    "(1, 'plain', '2001-02-03 04:05:06+00', 1.5::float8, '\\x00ff'::bytea,"
    " '{\"a\": [1, 2]}'::jsonb, '1 day')",
    "(2, 'quote \" comma , paren ) backslash \\ newline ' || chr(10) || 'é', "
    "'2024-02-29 23:59:59.123456+05:30', 0.1::float8, NULL, 'null'::jsonb, '-1 mon 2 s')",
    "(3, '', '-infinity', 'NaN'::float8, '\\x'::bytea, NULL, NULL)",
    "(4, NULL, NULL, -0.0::float8, NULL, '{}'::jsonb, NULL)",
]


def _temp_table(conn, name: str, rows: list[str]) -> Table:
    conn.execute(
        f"CREATE TEMP TABLE {name} (id int, label text, at timestamptz, x float8, b bytea,"
        " j jsonb, span interval)"
    )
    for row in rows:
        conn.execute(f"INSERT INTO {name} VALUES {row}")
    return Table("pg_temp", name)


def test_table_checksum_ignores_row_order_but_sees_every_row_and_value():
    with owner_connect() as conn:
        pin_output_settings(conn, local=False)
        forward = table_checksum(conn, _temp_table(conn, "forward", ROWS))
        backward = table_checksum(conn, _temp_table(conn, "backward", ROWS[::-1]))
        assert forward == backward
        assert forward[0] == 4

        # Independently: md5 of each row's text, first 64 bits signed, summed mod 2**64.
        total = 0
        for (text,) in conn.execute("SELECT t::text FROM forward t"):
            total += int.from_bytes(
                hashlib.md5(text.encode(), usedforsecurity=False).digest()[:8], signed=True
            )
        assert forward[1] == f"{total % 2**64:016x}"

        # One changed value, a duplicated row, a missing row: all different.
        conn.execute("UPDATE backward SET x = 1.5000000000000002 WHERE id = 1")
        changed = table_checksum(conn, Table("pg_temp", "backward"))
        assert changed[0] == 4 and changed[1] != forward[1]
        conn.execute("INSERT INTO forward SELECT * FROM forward WHERE id = 3")
        doubled = table_checksum(conn, Table("pg_temp", "forward"))
        assert doubled[0] == 5 and doubled[1] != forward[1]
        assert table_checksum(conn, _temp_table(conn, "fewer", ROWS[1:]))[1] != forward[1]
        assert table_checksum(conn, _temp_table(conn, "empty", [])) == (0, "0" * 16)


def test_table_checksum_does_not_depend_on_the_session_settings_it_pins():
    with owner_connect() as conn:
        table = _temp_table(conn, "pinned", ROWS[:2])
        conn.execute("SET TimeZone = 'Asia/Kolkata'")
        conn.execute("SET DateStyle = 'SQL, DMY'")
        conn.execute("SET extra_float_digits = -3")
        conn.execute("SET bytea_output = 'escape'")
        conn.execute("SET IntervalStyle = 'iso_8601'")
        unpinned = table_checksum(conn, table)
        pin_output_settings(conn, local=False)
        pinned = table_checksum(conn, table)
        conn.execute("RESET ALL")
        pin_output_settings(conn, local=False)
        assert table_checksum(conn, table) == pinned != unpinned


def test_retention_keeps_the_newest_backups_and_nothing_else_is_touched(data, tmp_path):
    (tmp_path / "notes").mkdir()
    for _ in range(3):
        call_command("backup", "--output", str(tmp_path), "--keep", "2")
    backups = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(current_database()))
    assert len(backups) == 2
    assert (tmp_path / "notes").is_dir()
    shutil.rmtree(tmp_path / "notes")


def test_a_client_program_older_than_the_server_is_refused():
    with pytest.raises(OperationError, match="older than the PostgreSQL 18 server"):
        check_program_compatible("pg_dump", 15, 18)
    check_program_compatible("pg_dump", 18, 18)
    check_program_compatible("pg_dump", 19, 18)
