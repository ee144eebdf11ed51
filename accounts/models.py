"""People: users (email login), their settings, and their sign-in sessions."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.core.exceptions import ImproperlyConfigured
from django.db import models, transaction
from django.db.models.functions import Lower
from django.utils import timezone

from accounts.passwords import (
    PasswordField,
    SecretField,
    is_fingerprint,
    password_fingerprint,
    password_matches,
)


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def get_by_natural_key(self, email: str) -> User:
        return self.get(email__iexact=email)

    def create_user(self, email: str, password: str | None = None, **extra: Any) -> User:
        """Low-level constructor; application code uses ``accounts.services.user_create``."""
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **extra: Any) -> User:
        return self.create_user(email, password, is_staff=True, is_superuser=True, **extra)


# What ``User.save`` runs, in the transaction that stores a new password hash:
# ``accounts.services.password_changed_sessions_end``, registered by
# ``AccountsConfig.ready`` (the model names the hook point; the service layer above
# it registers, so models do not import services: that was a cycle).
PASSWORD_CHANGED: list[Callable[..., Any]] = []


class User(AbstractBaseUser, PermissionsMixin):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # SECURITY: the hash is never read into Python; reads get its fingerprint
    # (accounts/passwords.py, which says why and how a password is checked).
    password = PasswordField("password", max_length=128)
    email = models.EmailField(max_length=254)
    name = models.CharField(max_length=150, blank=True)
    avatar_url = models.URLField(max_length=500, blank=True)
    is_staff = models.BooleanField(default=False, help_text="May sign in to the admin.")
    is_active = models.BooleanField(default=True)
    email_verified_at = models.DateTimeField(
        null=True, blank=True, help_text="When the current email address was verified."
    )
    mfa_enabled = models.BooleanField(
        default=False,
        db_default=False,
        help_text="A confirmed TOTP authenticator is required at sign-in.",
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    objects = UserManager()

    # Not readable by the app role (grant_runtime_privileges; accounts/passwords.py).
    secret_columns = ("password",)

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        constraints = [
            models.UniqueConstraint(Lower("email"), name="accounts_user_email_ci_unique"),
        ]
        ordering = ["email"]

    def __str__(self) -> str:
        return self.email

    def clean(self) -> None:
        super().clean()
        self.email = self.__class__.objects.normalize_email(self.email).lower()

    def save(self, *args: Any, **kwargs: Any) -> None:
        """Save; a changed password also ends every session of the user.

        SECURITY: every way a password changes (the API, the password reset,
        the admin's password form, ``manage.py changepassword``, a shell)
        ends in ``set_password()`` followed by ``save()``; Django itself runs
        its ``password_changed`` hook here for the same reason. Doing the
        revocation here, in the same transaction as the new hash, is the one
        place no path can skip (a ``post_save`` signal could not tell a new
        password from any other save). The work itself is a service.
        """
        in_memory = self.__dict__.get("password")  # not loaded: nothing to write
        if not self._state.adding and is_fingerprint(in_memory):
            # SECURITY: a fingerprint read from the database is not a hash: never
            # write it back over the real one.
            kwargs["update_fields"] = self._fields_without_password(kwargs.get("update_fields"))
        update_fields = kwargs.get("update_fields")
        writes_hash = (
            bool(in_memory)
            and not is_fingerprint(in_memory)
            and (update_fields is None or "password" in update_fields)
        )
        password_changed = (
            self._password is not None
            and not self._state.adding
            and (update_fields is None or "password" in update_fields)
        )
        if not password_changed:
            super().save(*args, **kwargs)
        else:
            if not PASSWORD_CHANGED:
                # SECURITY: fail closed: never store a new password without ending sessions.
                raise ImproperlyConfigured("No password-changed hook is registered (accounts)")
            with transaction.atomic():
                super().save(*args, **kwargs)
                for hook in PASSWORD_CHANGED:
                    hook(user=self)
        if writes_hash:
            # What every other read of this user sees (session auth hash, reset
            # tokens): the fingerprint, not the hash this process just wrote.
            self.password = password_fingerprint(user_id=self.pk)

    def _fields_without_password(self, update_fields: Any) -> list[str]:
        if update_fields is None:
            deferred = self.get_deferred_fields()
            update_fields = [
                f.attname
                for f in self._meta.concrete_fields
                if not f.primary_key and f.attname not in deferred
            ]
        return [name for name in update_fields if name != "password"]

    def check_password(self, raw_password: str | None) -> bool:
        """Whether ``raw_password`` is this user's password, checked by the database.

        A hash set in this process (``set_password``, not read back) is checked in
        Python as Django does. An outdated hash (fewer iterations than the current
        hasher's) is replaced on success, as Django's ``check_password`` does.
        """
        if not is_fingerprint(self.password) or self.pk is None:
            return super().check_password(raw_password)
        matches, candidate = password_matches(user_id=self.pk, raw_password=raw_password)
        if matches and candidate is not None:
            from django.contrib.auth.hashers import get_hasher, identify_hasher

            hasher = identify_hasher(candidate)
            if hasher.algorithm != get_hasher().algorithm or hasher.must_update(candidate):
                self.set_password(raw_password)
                self._password = None  # a rehash is not a password change: sessions stay
                self.save(update_fields=["password"])
        return matches

    @property
    def email_verified(self) -> bool:
        return self.email_verified_at is not None


class UserSettings(models.Model):
    class Theme(models.TextChoices):
        SYSTEM = "system"
        LIGHT = "light"
        DARK = "dark"

    user = models.OneToOneField(
        User, on_delete=models.CASCADE, primary_key=True, related_name="settings"
    )
    theme = models.CharField(max_length=10, choices=Theme.choices, default=Theme.SYSTEM)
    locale = models.CharField(max_length=20, default="en")
    timezone = models.CharField(max_length=64, default="UTC")
    notifications = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "user settings"

    def __str__(self) -> str:
        return f"settings of {self.user.email}"


class Session(models.Model):
    """One signed-in device: a chain of rotating refresh tokens sharing this id.

    Access and refresh tokens carry it as the ``sid`` claim; revoking the
    session makes both unusable at once (authentication checks it on every
    request in the same query that loads the user).
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="sessions")
    user_agent = models.CharField(max_length=300, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    # Refresh rotation (docs/decisions/0009): the jti of the refresh token now
    # valid, when its pair was issued, and the jti it replaced (honoured again
    # for REFRESH_REUSE_GRACE so that two tabs refreshing at once both succeed).
    refresh_jti = models.CharField(max_length=64, blank=True, db_default="")
    refresh_issued_at = models.DateTimeField(null=True, blank=True)
    previous_refresh_jti = models.CharField(max_length=64, blank=True, db_default="")

    class Meta:
        indexes = [models.Index(fields=["user", "-last_used_at"])]

    def __str__(self) -> str:
        where = f" from {self.ip_address}" if self.ip_address else ""
        return f"signed in {self.created_at:%Y-%m-%d %H:%M}{where}"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None and self.expires_at > timezone.now()


class TOTPDevice(models.Model):
    """A user's TOTP authenticator (RFC 6238, 30 s steps, 6 digits).

    ``confirmed_at`` is empty until the user proved they can produce codes;
    ``last_used_step`` refuses a code replayed within its step (or an older one).
    SECURITY: the secret is shown once, at enrollment, and never again.
    """

    user = models.OneToOneField(
        User, on_delete=models.CASCADE, primary_key=True, related_name="totp_device"
    )
    # SECURITY: read only through app.totp_secret (accounts/migrations/0005).
    secret = SecretField(max_length=64)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    last_used_step = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    secret_columns = ("secret",)

    class Meta:
        verbose_name = "TOTP device"

    def __str__(self) -> str:
        return f"authenticator of {self.user_id}"


class RecoveryCode(models.Model):
    """One single-use MFA recovery code, stored as a keyed hash (never in clear)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="recovery_codes")
    # SECURITY: never read back; app.recovery_code_use matches it in SQL.
    code_hash = SecretField(max_length=64)
    used_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    secret_columns = ("code_hash",)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "code_hash"], name="recoverycode_user_hash_uq")
        ]

    def __str__(self) -> str:
        return f"recovery code of {self.user_id}"
