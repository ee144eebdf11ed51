"""The credentials vault's encryption: ``MultiFernet`` over ``INTEGRATIONS_ENCRYPTION_KEYS``.

The first key encrypts, every key decrypts, so rotating is: put a new key first,
run ``manage.py rotate_integration_keys`` (re-encrypts every stored secret with
the first key), then drop the old key. The keys are separate from ``SECRET_KEY``
and the backup key. Development and test derive a fixed key when none is set;
production refuses to start without one (``config/settings.py``).
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings

__all__ = ["InvalidToken", "decrypt", "decrypt_json", "encrypt", "encrypt_json", "hint", "rotate"]


@cache
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(key.encode()) for key in keys])


def vault() -> MultiFernet:
    return _fernet(tuple(settings.INTEGRATIONS_ENCRYPTION_KEYS))


def encrypt(value: str) -> str:
    return vault().encrypt(value.encode()).decode()


def decrypt(token: str) -> str:
    return vault().decrypt(token.encode()).decode()


def encrypt_json(value: dict[str, Any]) -> str:
    return encrypt(json.dumps(value, sort_keys=True)) if value else ""


def decrypt_json(token: str) -> dict[str, Any]:
    return json.loads(decrypt(token)) if token else {}


def rotate(token: str) -> str:
    """``token`` re-encrypted with the first key (``MultiFernet.rotate``)."""
    return vault().rotate(token.encode()).decode() if token else token


def hint(secret: str) -> str:
    """What the API shows of a secret: its first three and last four characters
    (``sk-…a1b2``), or only ``…`` for short ones."""
    secret = secret.strip()
    if len(secret) < 12:
        return "…"
    return f"{secret[:3]}…{secret[-4:]}"
