"""Demo users. Every demo login uses the same password (printed by ``make run``)."""

from __future__ import annotations

from typing import Any

from accounts.models import User
from accounts.services import user_create

DEMO_PASSWORD = "demo-password-1"  # noqa: S105 - public demo credential, refused in production
DEMO_USERS = [
    ("owner@acme.test", "Olivia Owner"),
    ("admin@acme.test", "Adam Admin"),
    ("member@acme.test", "Mia Member"),
    ("viewer@acme.test", "Victor Viewer"),
    ("billing@acme.test", "Bill Billing"),
    ("owner@globex.test", "Grace Globex"),
    ("member@globex.test", "Gus Globex"),
]
STAFF_EMAIL = "staff@example.test"


def seed_demo(ctx: dict[str, Any]) -> None:
    users: dict[str, User] = {}
    for email, name in [*DEMO_USERS, (STAFF_EMAIL, "Sam Staff")]:
        user = User.objects.filter(email__iexact=email).first()
        if user is None:
            staff = email == STAFF_EMAIL
            user = user_create(
                email=email, password=DEMO_PASSWORD, name=name, is_staff=staff, is_superuser=staff
            )
        users[email] = user
    ctx["users"] = users
