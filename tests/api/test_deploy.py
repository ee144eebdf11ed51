"""Production settings: refuse to start without secrets; `check --deploy` is clean."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

from django.conf import settings

MANAGE = str(Path(settings.BASE_DIR) / "manage.py")


def _check(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_"))}
    return subprocess.run(  # noqa: S603 - fixed argv
        [sys.executable, MANAGE, "check", "--deploy", "--fail-level", "WARNING"],
        env={**base, "DJANGO_SETTINGS_MODULE": "config.settings", **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


PRODUCTION = {
    "DJANGO_ENV": "production",
    "SECRET_KEY": secrets.token_urlsafe(64),
    "JWT_SIGNING_KEY": secrets.token_urlsafe(48),
    "ALLOWED_HOSTS": "api.example.com",
    "DATABASE_URL": "postgres://saas_app:pw@db.example.com:5432/saas",
    "INTEGRATIONS_ENCRYPTION_KEYS": "5jWk1bJ0xq3sFvLr0rj3a6B0mYQk1c3lq4Qm7n8o9pA=",
}


def test_check_deploy_is_clean_with_production_settings():
    result = _check(PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr


def test_production_refuses_to_start_without_a_secret_key():
    result = _check({k: v for k, v in PRODUCTION.items() if k != "SECRET_KEY"})
    assert result.returncode != 0 and "SECRET_KEY" in result.stderr


def test_production_refuses_to_start_without_integrations_encryption_keys():
    result = _check({k: v for k, v in PRODUCTION.items() if k != "INTEGRATIONS_ENCRYPTION_KEYS"})
    assert result.returncode != 0 and "INTEGRATIONS_ENCRYPTION_KEYS" in result.stderr
