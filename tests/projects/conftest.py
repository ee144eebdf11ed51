"""Fixtures shared by the project tests (builders and readers are in ``support.py``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from projects.models import Project
from tests.helpers import Personas
from tests.projects.support import make_project, use_fresh_media_root


@pytest.fixture
def project(personas: Personas) -> Project:
    """The org-visible project ``demo`` in ``acme``, created by its owner."""
    return make_project(personas.org, personas.users["owner"], "demo")


@pytest.fixture
def media_root(settings: Any, tmp_path: Path) -> Path:
    """A fresh directory for stored files (the suite's autouse one, made to exist)."""
    return use_fresh_media_root(settings, tmp_path)
