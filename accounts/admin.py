"""Staff screens for users. Creating and editing users goes through the
account services, and every staff change is audited."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.forms import AdminPasswordChangeForm
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Max, QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.html import format_html
from django.utils.http import urlencode

from accounts import doors, mfa, services
from accounts.models import RecoveryCode, Session, TOTPDevice, User, UserSettings
from accounts.throttling import attempt_allowed, normalise_email
from config.admin import ReadOnlyTabularInline, apply_to_each, apply_with_reason, configure_site
from config.api.client_ip import client_ip
from organizations.models import Membership
from organizations.selectors import organizations_only_owned_by
from organizations.services import user_delete

configure_site()


class AdminLoginForm(AdminAuthenticationForm):
    """The staff sign-in: throttled per address and per account, failures audited,
    and a TOTP (or recovery) code required from staff with MFA on, and from every
    staff member when ``ADMIN_REQUIRE_MFA`` is on (who must then have enrolled)."""

    otp_code = forms.CharField(
        label="Authentication code",
        required=False,
        max_length=32,
        strip=True,
        help_text="From your authenticator app (or a recovery code), if two-factor is on.",
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )
    error_messages = {
        **AdminAuthenticationForm.error_messages,
        "throttled": "Too many sign-in attempts. Wait a few minutes and try again.",
        "mfa_code": "The authentication code is wrong or was already used.",
        "mfa_enroll": (
            "Two-factor authentication is required for the staff console: turn it on "
            "for your account first (POST /api/v1/me/mfa/totp/)."
        ),
    }

    def clean(self) -> dict[str, Any]:
        email = normalise_email(self.cleaned_data.get("username"))
        address = (client_ip(self.request) if self.request else None) or "unknown"
        allowed = attempt_allowed("admin_login", address, settings.ADMIN_LOGIN_RATE)
        allowed = (
            attempt_allowed("admin_login_account", email, settings.ADMIN_LOGIN_ACCOUNT_RATE)
            and allowed
        )
        if not allowed:
            raise ValidationError(self.error_messages["throttled"], code="throttled")
        try:
            cleaned = super().clean()
        except ValidationError:
            doors.sign_in_failed(email=email, user=None, reason="invalid_credentials", via="admin")
            raise
        user = self.get_user()
        if user is not None and (user.mfa_enabled or settings.ADMIN_REQUIRE_MFA):
            self._check_mfa(user, email)
        return cleaned

    def _check_mfa(self, user: User, email: str) -> None:
        if not user.mfa_enabled:
            doors.sign_in_failed(email=email, user=user, reason="mfa_not_on", via="admin")
            raise ValidationError(self.error_messages["mfa_enroll"], code="mfa_enroll")
        try:
            mfa.mfa_verify(user=user, code=self.cleaned_data.get("otp_code") or "")
        except mfa.MFAInvalidCode:
            doors.sign_in_failed(email=email, user=user, reason="mfa_invalid_code", via="admin")
            raise ValidationError(self.error_messages["mfa_code"], code="mfa_code") from None


admin.site.login_form = AdminLoginForm
admin.site.login_template = "admin/login_mfa.html"


class UserCreationForm(forms.ModelForm):
    password = forms.CharField(widget=forms.PasswordInput, strip=False)

    class Meta:
        model = User
        fields = ["email", "name", "is_staff"]


class UserSettingsInline(admin.StackedInline):
    model = UserSettings
    can_delete = False
    fields = ["theme", "locale", "timezone", "notifications"]
    readonly_fields = fields


class MembershipInline(ReadOnlyTabularInline):
    model = Membership
    fk_name = "user"
    fields = ["organization", "role", "created_at"]
    related = ("user", "organization")


class SessionInline(ReadOnlyTabularInline):
    model = Session
    fields = ["created_at", "last_used_at", "expires_at", "ip_address", "user_agent", "revoked_at"]
    ordering = ["-last_used_at"]


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    add_form = UserCreationForm
    change_password_form = AdminPasswordChangeForm
    list_display = ["email", "name", "is_staff", "is_active", "last_seen", "created_at"]
    list_filter = ["is_staff", "is_superuser", "is_active", "created_at"]
    search_fields = ["email", "name"]
    ordering = ["email"]
    readonly_fields = ["id", "created_at", "updated_at", "last_login", "mfa_state", "support_links"]
    fieldsets = [
        (None, {"fields": ["id", "email", "password"]}),
        ("Profile", {"fields": ["name", "avatar_url"]}),
        (
            "Access",
            {"fields": ["is_active", "is_staff", "is_superuser", "user_permissions"]},
        ),
        ("Dates", {"fields": ["last_login", "created_at", "updated_at"]}),
        ("Support", {"fields": ["mfa_state", "support_links"]}),
    ]
    add_fieldsets = [
        (None, {"classes": ["wide"], "fields": ["email", "name", "password", "is_staff"]})
    ]
    filter_horizontal = ["user_permissions"]  # groups are not used (hidden)
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    inlines = [UserSettingsInline, MembershipInline, SessionInline]
    actions = ["deactivate", "reset_mfa", "end_sessions"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[User]:
        return super().get_queryset(request).annotate(last_seen=Max("sessions__last_used_at"))

    @admin.display(description="last seen", ordering="last_seen", empty_value="never")
    def last_seen(self, obj: User) -> Any:
        """The last time any of the user's sessions was used (API), else their last sign-in."""
        return getattr(obj, "last_seen", None) or obj.last_login

    @admin.display(description="Two-factor authentication")
    def mfa_state(self, obj: User) -> str:
        if obj.pk is None:
            return "-"
        device = TOTPDevice.objects.filter(user=obj).first()
        if obj.mfa_enabled and device is not None and device.confirmed_at:
            codes = RecoveryCode.objects.filter(user=obj, used_at__isnull=True).count()
            return f"On since {device.confirmed_at:%Y-%m-%d %H:%M} ({codes} recovery codes left)"
        if device is not None:
            return "Enrolment started, not confirmed"
        return "Off"

    @admin.display(description="Organizations and sessions")
    def support_links(self, obj: User) -> str:
        if obj.pk is None:
            return "-"
        memberships = reverse("admin:organizations_membership_changelist")
        return format_html(
            '<a href="{}?{}">Organizations ({})</a> · {} open sessions (listed below)',
            memberships,
            urlencode({"q": obj.email}),
            Membership.objects.filter(user=obj).count(),
            Session.objects.filter(user=obj, revoked_at__isnull=True).count(),
        )

    @admin.action(
        description="Reset two-factor authentication, with a reason", permissions=["change"]
    )
    def reset_mfa(self, request: HttpRequest, queryset: QuerySet[User]) -> Any:
        return apply_with_reason(
            self,
            request,
            queryset,
            title="Reset two-factor authentication",
            verb="Two-factor authentication reset",
            change=lambda user, reason: services.user_mfa_reset(
                actor=request.user, user=user, reason=reason
            ),
        )

    @admin.action(description="End all sessions, with a reason", permissions=["change"])
    def end_sessions(self, request: HttpRequest, queryset: QuerySet[User]) -> Any:
        return apply_with_reason(
            self,
            request,
            queryset,
            title="End all sessions",
            verb="Sessions ended",
            change=lambda user, reason: services.user_sessions_end(
                actor=request.user, user=user, reason=reason
            ),
        )

    @admin.action(description="Deactivate (signs them out everywhere)", permissions=["change"])
    def deactivate(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        apply_to_each(
            self,
            request,
            queryset,
            "Deactivated",
            lambda user: services.user_deactivate(actor=request.user, user=user),
        )

    def user_change_password(
        self, request: HttpRequest, id: str, form_url: str = ""
    ) -> HttpResponse:
        # The password form saves through User.save(), which ends the user's sessions;
        # this names the staff member as the actor of that ``user.password_changed``.
        token = services.password_change_actor.set(request.user)
        try:
            return super().user_change_password(request, id, form_url)
        finally:
            services.password_change_actor.reset(token)

    def get_inlines(self, request: HttpRequest, obj: Any) -> list[Any]:
        return self.inlines if obj else []

    def save_model(self, request: HttpRequest, obj: User, form: Any, change: bool) -> None:
        if not change:
            data = form.cleaned_data
            created = services.user_create(
                email=data["email"],
                password=data["password"],
                name=data.get("name", ""),
                is_staff=data.get("is_staff", False),
            )
            obj.pk = created.pk
            services.user_staff_update(actor=request.user, user=created, changes={"created": True})
            return
        changes = {
            name: form.cleaned_data[name] for name in form.changed_data if name != "password"
        }
        services.user_staff_update(actor=request.user, user=obj, changes=changes)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        if change:
            super().save_related(request, form, formsets, change)

    # Deleting: superusers only, through ``organizations.services.user_delete`` (the
    # last-owner rule, audit events); what the user wrote stays, without an author.

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.is_superuser

    def get_deleted_objects(self, objs: Any, request: HttpRequest) -> tuple[Any, Any, Any, Any]:
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        # Memberships end through the service, not through the membership screen.
        perms_needed.discard(Membership._meta.verbose_name)
        protected = [
            *protected,
            *(
                f"{user}: the only owner of {org}; make someone else owner first."
                for user in objs
                for org in organizations_only_owned_by(user=user)
            ),
        ]
        return deleted, counts, perms_needed, protected

    def delete_model(self, request: HttpRequest, obj: User) -> None:
        user_delete(actor=request.user, user=obj)

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        for user in queryset:
            user_delete(actor=request.user, user=user)
