from __future__ import annotations

from rest_framework import serializers

from config.api.serializers import InputSerializer
from organizations.models import Invitation, Membership, Organization
from organizations.permissions import Role


class OrganizationSerializer(serializers.ModelSerializer):
    suspended = serializers.BooleanField(source="is_suspended", read_only=True)

    class Meta:
        model = Organization
        fields = ["id", "name", "slug", "suspended", "require_mfa", "created_at", "updated_at"]
        read_only_fields = fields


class MyOrganizationSerializer(serializers.Serializer):
    """An organization as one of "my organizations": with my role in it."""

    id = serializers.UUIDField(source="organization.id")
    name = serializers.CharField(source="organization.name")
    slug = serializers.CharField(source="organization.slug")
    suspended = serializers.BooleanField(source="organization.is_suspended")
    role = serializers.CharField()
    joined_at = serializers.DateTimeField(source="created_at")


class OrganizationCreateSerializer(InputSerializer):
    name = serializers.CharField(max_length=120)
    slug = serializers.SlugField(max_length=50, required=False)


class OrganizationUpdateSerializer(InputSerializer):
    name = serializers.CharField(max_length=120, required=False)
    slug = serializers.SlugField(max_length=50, required=False)
    require_mfa = serializers.BooleanField(
        required=False, help_text="Refuse members without two-factor authentication."
    )


class MemberUserSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    email = serializers.EmailField()
    name = serializers.CharField()
    avatar_url = serializers.CharField()


class MembershipSerializer(serializers.ModelSerializer):
    user = MemberUserSerializer(read_only=True)

    class Meta:
        model = Membership
        fields = ["id", "user", "role", "created_at", "updated_at"]
        read_only_fields = fields


class MembershipUpdateSerializer(InputSerializer):
    role = serializers.ChoiceField(choices=Role.choices)


class InvitationSerializer(serializers.ModelSerializer):
    status = serializers.CharField(read_only=True)
    invited_by = serializers.EmailField(source="invited_by.email", read_only=True, default=None)

    class Meta:
        model = Invitation
        fields = [
            "id",
            "email",
            "role",
            "status",
            "invited_by",
            "expires_at",
            "sent_at",
            "send_count",
            "accepted_at",
            "revoked_at",
            "created_at",
        ]
        read_only_fields = fields


class InvitationCreateSerializer(InputSerializer):
    email = serializers.EmailField(max_length=254)
    role = serializers.ChoiceField(choices=Role.choices, default=Role.MEMBER)


class InvitationAcceptSerializer(InputSerializer):
    token = serializers.CharField(max_length=200)
