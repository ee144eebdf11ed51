"""Dependencies point down (issue 18): the import-linter contracts of ``pyproject.toml``
hold for the tree, and an upward import planted in a copy of it is caught.

``lint-imports`` is also run by ``make lint`` (and so by ``.ci/run``); these tests keep
``make test`` failing on a violation too, and prove the contracts are not vacuous.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
APPS = (
    "config",
    "accounts",
    "organizations",
    "audit",
    "projects",
    "sites",
    "integrations",
    "billing",
    "realtime",
)
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - fixed argv
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=cwd,
        env={"PYTHONPATH": str(cwd), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture(scope="module")
def tree_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The apps and ``pyproject.toml`` copied (no caches, no data) into a scratch dir."""
    copy = tmp_path_factory.mktemp("tree")
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for app in APPS:
        shutil.copytree(ROOT / app, copy / app, ignore=ignore)
    shutil.copy(ROOT / "pyproject.toml", copy / "pyproject.toml")
    return copy


def test_the_tree_keeps_every_import_contract():
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_an_upward_import_planted_in_billing_is_caught(tree_copy: Path):
    """billing counting projects itself again (the arrow the metric registry removed)."""
    planted = tree_copy / "billing" / "planted.py"
    planted.write_text("from projects.models import Project  # upward\n")
    try:
        result = lint_imports(tree_copy)
    finally:
        planted.unlink()
    assert result.returncode != 0
    out = " ".join(result.stdout.split())
    assert "billing.planted -> projects.models" in out
    assert "billing imports no domain app (domain apps register their counters) BROKEN" in out
    assert "Layers: config <- accounts : organizations : audit" in out and "BROKEN" in out


def test_the_audit_trail_importing_a_consumer_is_caught(tree_copy: Path):
    """The audit trail fanning out webhooks itself again (the events seam removed it)."""
    services = tree_copy / "audit" / "services.py"
    original = services.read_text()
    services.write_text(original + "\nfrom integrations.webhooks import fan_out  # upward\n")
    try:
        result = lint_imports(tree_copy)
    finally:
        services.write_text(original)
    assert result.returncode != 0
    out = " ".join(result.stdout.split())
    assert "audit.services -> integrations.webhooks" in out
    assert "Tenancy, accounts and the audit trail know no domain app" in out
