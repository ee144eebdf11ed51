"""Isolation-suite hooks for accounts: no URL kwargs of org routes; rows in the
per-user MFA tables (``accounts_totpdevice``, ``accounts_recoverycode``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.utils import timezone

from accounts.models import RecoveryCode, TOTPDevice
from organizations.tenancy import service_context
from tests.helpers import Personas

ACCOUNTS_MAKERS: dict[str, Callable[[Personas], Any]] = {}


def fill_tables(personas: Personas) -> None:
    """A confirmed authenticator and a recovery code for the member (idempotent)."""
    member = personas.user("member")
    with service_context(reason="test fixture"):
        TOTPDevice.objects.get_or_create(
            user=member,
            defaults={"secret": "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP", "confirmed_at": timezone.now()},
        )
        RecoveryCode.objects.get_or_create(user=member, code_hash="0" * 64)
