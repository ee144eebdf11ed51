"""The OpenAPI document builds a typed client (issue 22): ``openapi-python-client``
generates a package from the served schema, every module of it imports, and the enums
clients rely on are typed — the webhook event types, a list's ``ordering`` values, an
error body. A schema change that breaks generation (an unnamed enum collision, a
component that does not resolve) fails here."""

from __future__ import annotations

import importlib
import os
import pkgutil
import shutil
import subprocess
import sys
from pathlib import Path

from django.core.management import call_command

from integrations.event_types import SUBSCRIBABLE

GENERATOR = Path(sys.executable).with_name("openapi-python-client")


def test_the_schema_generates_a_client_that_imports_and_types_the_enums(tmp_path, monkeypatch):
    schema = tmp_path / "schema.yaml"
    call_command("spectacular", "--file", str(schema))
    env = {**os.environ, "PATH": f"{GENERATOR.parent}{os.pathsep}{os.environ['PATH']}"}
    output = str(tmp_path / "saas_client")
    result = subprocess.run(  # noqa: S603 - fixed argv
        [
            str(GENERATOR),
            "generate",
            "--path",
            str(schema),
            "--meta",
            "none",
            "--output-path",
            output,
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr

    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        package = importlib.import_module("saas_client")
        modules = [
            importlib.import_module(info.name)
            for info in pkgutil.walk_packages(package.__path__, "saas_client.")
        ]
        assert len(modules) > 100  # every endpoint and model, all importable

        event_types = importlib.import_module("saas_client.models.event_type_enum")
        assert {member.value for member in event_types.EventTypeEnum} == set(SUBSCRIBABLE)
        ordering = importlib.import_module("saas_client.models.orgs_api_keys_list_ordering")
        assert {"name", "-name", "created_at", "-created_at"} <= {
            member.value for member in ordering.OrgsApiKeysListOrdering
        }
        error_body = importlib.import_module("saas_client.models.error_body")
        parsed = error_body.ErrorBody.from_dict(
            {"code": "validation_error", "message": "m", "details": {}, "request_id": "r"}
        )
        assert parsed.code == "validation_error"
    finally:
        for name in [name for name in sys.modules if name.startswith("saas_client")]:
            del sys.modules[name]
        shutil.rmtree(tmp_path / "saas_client", ignore_errors=True)
