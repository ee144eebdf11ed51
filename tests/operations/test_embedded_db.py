"""The embedded server's tuning file: written once, included once, rewritten on change."""

from pathlib import Path

import pytest

from config import embedded_db


@pytest.fixture
def pgdata(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "postgresql.conf").write_text("shared_buffers = 128MB\n")
    monkeypatch.setattr(embedded_db, "PGDATA", tmp_path)
    return tmp_path


def test_a_fresh_cluster_gets_the_settings_and_needs_a_restart(pgdata: Path) -> None:
    assert embedded_db._write_tuning() is True

    tuning = (pgdata / embedded_db.TUNING_FILE).read_text()
    assert f"shared_buffers = '{embedded_db.tuning()['shared_buffers']}'" in tuning
    assert "random_page_cost = '1.1'" in tuning
    conf = (pgdata / "postgresql.conf").read_text()
    assert conf.startswith("shared_buffers = 128MB\n")  # initdb's line stays, ours wins
    assert conf.count(f"include_if_exists = '{embedded_db.TUNING_FILE}'") == 1


def test_unchanged_settings_need_no_restart(pgdata: Path) -> None:
    embedded_db._write_tuning()
    conf = (pgdata / "postgresql.conf").read_text()

    assert embedded_db._write_tuning() is False
    assert (pgdata / "postgresql.conf").read_text() == conf


def test_changed_settings_are_rewritten_and_need_a_restart(
    pgdata: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    embedded_db._write_tuning()
    monkeypatch.setenv("EMBEDDED_DB_SHARED_BUFFERS", "256MB")

    assert embedded_db._write_tuning() is True
    assert "shared_buffers = '256MB'" in (pgdata / embedded_db.TUNING_FILE).read_text()
    conf = (pgdata / "postgresql.conf").read_text()
    assert conf.count(f"include_if_exists = '{embedded_db.TUNING_FILE}'") == 1
