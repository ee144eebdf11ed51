from __future__ import annotations

import zoneinfo
from functools import cache

from rest_framework import serializers

from accounts.models import Session, User, UserSettings
from accounts.tokens import TokenUserSerializer
from config.api.serializers import InputSerializer
from organizations.api.serializers import InvitationSerializer


@cache
def _time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())  # scans the disk: once per process


class SignupSerializer(InputSerializer):
    email = serializers.EmailField(max_length=254)
    password = serializers.CharField(max_length=128, write_only=True, trim_whitespace=False)
    name = serializers.CharField(max_length=150, required=False, allow_blank=True, default="")
    invitation_token = serializers.CharField(max_length=200, required=False)


class TokenObtainSerializer(InputSerializer):
    email = serializers.EmailField(max_length=254)
    password = serializers.CharField(max_length=128, write_only=True, trim_whitespace=False)


class RefreshSerializer(InputSerializer):
    refresh = serializers.CharField(max_length=2000)


class TokenPairSerializer(serializers.Serializer):
    access = serializers.CharField()
    refresh = serializers.CharField()
    access_expires_in = serializers.IntegerField(help_text="Seconds the access token is valid.")
    refresh_expires_in = serializers.IntegerField(help_text="Seconds the refresh token is valid.")
    user = TokenUserSerializer()


class MFAChallengeSerializer(serializers.Serializer):
    mfa_required = serializers.BooleanField()
    mfa_token = serializers.CharField(help_text="Send it with a code to /auth/token/mfa/.")


class MFATokenSerializer(InputSerializer):
    mfa_token = serializers.CharField(max_length=1000)
    code = serializers.CharField(max_length=32, help_text="A TOTP code or a recovery code.")


class MFACodeSerializer(InputSerializer):
    code = serializers.CharField(max_length=32)


class MFAConfirmSerializer(MFACodeSerializer):
    password = serializers.CharField(
        max_length=128, trim_whitespace=False, help_text="The current password."
    )


class TOTPStartSerializer(serializers.Serializer):
    secret = serializers.CharField()
    otpauth_uri = serializers.CharField()
    qr_svg = serializers.CharField(help_text="The otpauth URI as a QR code (inline SVG).")


class RecoveryCodesSerializer(serializers.Serializer):
    recovery_codes = serializers.ListField(child=serializers.CharField())


class PasswordResetSerializer(InputSerializer):
    email = serializers.EmailField(max_length=254)


class PasswordResetConfirmSerializer(InputSerializer):
    token = serializers.CharField(max_length=500)
    password = serializers.CharField(max_length=128, trim_whitespace=False)


class VerifyEmailSerializer(InputSerializer):
    token = serializers.CharField(max_length=1000)


class EmailChangeSerializer(InputSerializer):
    email = serializers.EmailField(max_length=254)
    password = serializers.CharField(max_length=128, trim_whitespace=False)


class InvitationOrganizationSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    slug = serializers.CharField()


class MyInvitationSerializer(InvitationSerializer):
    """An invitation as its invitee sees it: with the organization it is for."""

    organization = InvitationOrganizationSerializer(read_only=True)

    class Meta(InvitationSerializer.Meta):
        fields = [*InvitationSerializer.Meta.fields, "organization"]
        read_only_fields = fields


class DetailSerializer(serializers.Serializer):
    detail = serializers.CharField()


class UserSettingsSerializer(serializers.ModelSerializer):
    class Meta:
        model = UserSettings
        fields = ["theme", "locale", "timezone", "notifications"]


class MeSerializer(serializers.ModelSerializer):
    settings = UserSettingsSerializer(read_only=True)
    email_verified = serializers.BooleanField(read_only=True)

    class Meta:
        model = User
        fields = [
            "id",
            "email",
            "email_verified",
            "mfa_enabled",
            "name",
            "avatar_url",
            "is_staff",
            "created_at",
            "settings",
        ]
        read_only_fields = fields


class MeUpdateSerializer(InputSerializer):
    name = serializers.CharField(max_length=150, required=False, allow_blank=True)
    avatar_url = serializers.URLField(max_length=500, required=False, allow_blank=True)
    theme = serializers.ChoiceField(choices=UserSettings.Theme.choices, required=False)
    locale = serializers.RegexField(r"^[a-z]{2,3}(-[A-Za-z]{2,4})?$", max_length=20, required=False)
    timezone = serializers.CharField(max_length=64, required=False)
    notifications = serializers.DictField(child=serializers.BooleanField(), required=False)

    def validate_timezone(self, value: str) -> str:
        if value not in _time_zones():
            raise serializers.ValidationError("Unknown time zone.")
        return value


class PasswordChangeSerializer(InputSerializer):
    current_password = serializers.CharField(max_length=128, trim_whitespace=False)
    new_password = serializers.CharField(max_length=128, trim_whitespace=False)


class SessionSerializer(serializers.ModelSerializer):
    current = serializers.SerializerMethodField()

    class Meta:
        model = Session
        fields = [
            "id",
            "created_at",
            "last_used_at",
            "expires_at",
            "ip_address",
            "user_agent",
            "current",
        ]
        read_only_fields = fields

    def get_current(self, session: Session) -> bool:
        return str(session.id) == str(self.context.get("current_session_id"))
