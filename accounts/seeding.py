"""Demo users (``seed``) and the user pool of ``seed --scale``.

Every demo login uses the same password (printed by ``make run``).
"""

from __future__ import annotations

from typing import Any

from accounts.models import User, UserSettings
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


# --- seed --scale --------------------------------------------------------------------

# Each scale user belongs to about this many organizations.
SCALE_MEMBERSHIPS_PER_USER = 4
SCALE_PASSWORD_ITERATIONS = 1_000  # see seed_scale: the password is public
_FIRST = ["Ada", "Ben", "Cleo", "Dev", "Eli", "Fay", "Gil", "Hana", "Ivo", "Jun", "Kai", "Lea"]
_LAST = ["Ames", "Brook", "Chen", "Diaz", "Egan", "Fox", "Gray", "Hale", "Ito", "Jain", "Kerr"]


def scale_email(seed: int, index: int) -> str:
    return f"user{index:07d}.s{seed}@scale.test"


def seed_scale(ctx: Any) -> None:
    """One pool of users shared by the organizations (``ctx.data["users"]``: ``[(id, email)]``),
    with their settings. Every scale user signs in with the demo password."""
    from django.contrib.auth.hashers import PBKDF2PasswordHasher

    from organizations.operations.pg import OperationError

    count = max(ctx.rows_per_org, ctx.orgs * ctx.rows_per_org // SCALE_MEMBERSHIPS_PER_USER)
    if User.objects.filter(email__iexact=scale_email(ctx.seed, 0)).exists():
        raise OperationError(f"scale data for --seed {ctx.seed} is already loaded.")
    rng = ctx.rng("accounts")
    # One hash for everyone, and a cheap one: the password is public (printed by
    # `make run`), so a work factor protects nothing here, and the default's million
    # PBKDF2 rounds were 6% of a 150,000-row load. Django re-hashes it at the full
    # count on a user's first sign-in. The salt comes from the seed (determinism).
    password = PBKDF2PasswordHasher().encode(
        DEMO_PASSWORD, f"scale{ctx.seed}", iterations=SCALE_PASSWORD_ITERATIONS
    )
    users = [(ctx.uuid("user", i), scale_email(ctx.seed, i)) for i in range(count)]
    joined = [ctx.timestamp(rng.uniform(0, 400 * 86400)) for _ in users]

    def user_rows() -> Any:
        for (user_id, email), created in zip(users, joined, strict=True):
            name = f"{rng.choice(_FIRST)} {rng.choice(_LAST)}"
            active = rng.random() > 0.02
            yield (user_id, password, None, False, email, name, "", False, active, created, created)

    ctx.copy(
        User._meta.db_table,
        ["id", "password", "last_login", "is_superuser", "email", "name", "avatar_url",
         "is_staff", "is_active", "created_at", "updated_at"],
        user_rows(),
    )  # fmt: skip

    def settings_rows() -> Any:
        for (user_id, _), created in zip(users, joined, strict=True):
            theme = rng.choice(("system", "system", "light", "dark"))
            locale = rng.choice(("en", "en", "de", "fr", "ja"))
            yield (user_id, theme, locale, "UTC", "{}", created, created)

    ctx.copy(
        UserSettings._meta.db_table,
        ["user_id", "theme", "locale", "timezone", "notifications", "created_at", "updated_at"],
        settings_rows(),
    )
    ctx.data["users"] = users
