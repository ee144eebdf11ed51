"""Organizations, members and invitations: thin views over services and selectors."""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import F
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from config.api.filters import FilterSet
from config.api.serializers import validated
from organizations import selectors, services
from organizations.api.base import ListAPIMixin, OrgScopedAPIView, UserScopedAPIView
from organizations.api.serializers import (
    InvitationAcceptSerializer,
    InvitationCreateSerializer,
    InvitationSerializer,
    MembershipSerializer,
    MembershipUpdateSerializer,
    MyOrganizationSerializer,
    OrganizationCreateSerializer,
    OrganizationSerializer,
    OrganizationUpdateSerializer,
)
from organizations.models import Invitation, Membership
from organizations.permissions import Role


class OrganizationListView(ListAPIMixin, UserScopedAPIView):
    """My organizations, with my role in each; create one (you become its owner)."""

    declared_errors = {"POST": (409,)}  # slug_taken
    ordering_fields = {
        "created_at": "created_at",
        "name": F("organization__name"),
        "slug": F("organization__slug"),
    }
    search_fields = ("organization__name", "organization__slug")

    queryset = Membership.objects.none()
    serializer_class = MyOrganizationSerializer

    def scoped_queryset(self) -> Any:
        return selectors.memberships_of_user(user=self.request.user)

    @extend_schema(request=OrganizationCreateSerializer, responses={201: OrganizationSerializer})
    def post(self, request: Request) -> Response:
        data = validated(OrganizationCreateSerializer, request)
        org = services.organization_create(actor=request.user, **data)
        return Response(OrganizationSerializer(org).data, status=status.HTTP_201_CREATED)


class OrganizationDetailView(OrgScopedAPIView):
    scope_map = {"GET": "org.view", "PATCH": "org.update", "DELETE": "org.delete"}
    declared_errors = {"PATCH": (409,)}  # slug_taken
    serializer_class = OrganizationSerializer

    def get(self, request: Request, org_slug: str) -> Response:
        return Response(
            OrganizationSerializer(selectors.organization_get(self.organization_id)).data
        )

    @extend_schema(request=OrganizationUpdateSerializer, responses=OrganizationSerializer)
    def patch(self, request: Request, org_slug: str) -> Response:
        data = validated(OrganizationUpdateSerializer, request)
        org = services.organization_update(
            actor=request.user,
            organization=selectors.organization_get(self.organization_id),
            **data,
        )
        return Response(OrganizationSerializer(org).data)

    def delete(self, request: Request, org_slug: str) -> Response:
        services.organization_delete(
            actor=request.user, organization=selectors.organization_get(self.organization_id)
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class MembershipFilter(FilterSet):
    role = django_filters.ChoiceFilter(choices=Role.choices)
    email = django_filters.CharFilter(field_name="user__email", lookup_expr="icontains")

    class Meta:
        model = Membership
        fields = ["role", "email"]


class MemberListView(ListAPIMixin, OrgScopedAPIView):
    scope_map = {"GET": "member.list"}
    queryset = Membership.objects.none()
    serializer_class = MembershipSerializer
    filterset_class = MembershipFilter
    ordering_fields = {
        "created_at": "created_at",
        "role": "role",
        "email": F("user__email"),
        "name": F("user__name"),
    }
    search_fields = ("user__email", "user__name")

    def scoped_queryset(self) -> Any:
        return selectors.members_of(organization_id=self.organization_id)


class MemberDetailView(OrgScopedAPIView):
    scope_map = {"GET": "member.list", "PATCH": "member.change_role", "DELETE": "member.remove"}
    declared_errors = {"PATCH": (409,), "DELETE": (409,)}  # last_owner
    serializer_class = MembershipSerializer

    def get_membership(self, membership_id: Any) -> Membership:
        return self.get_org_object(
            selectors.members_of(organization_id=self.organization_id), id=membership_id
        )

    def get(self, request: Request, org_slug: str, membership_id: Any) -> Response:
        return Response(MembershipSerializer(self.get_membership(membership_id)).data)

    @extend_schema(request=MembershipUpdateSerializer, responses=MembershipSerializer)
    def patch(self, request: Request, org_slug: str, membership_id: Any) -> Response:
        data = validated(MembershipUpdateSerializer, request)
        membership = services.member_change_role(
            actor=request.user,
            actor_role=self.org.role,
            membership=self.get_membership(membership_id),
            role=data["role"],
        )
        return Response(MembershipSerializer(membership).data)

    def delete(self, request: Request, org_slug: str, membership_id: Any) -> Response:
        services.member_remove(
            actor=request.user,
            actor_role=self.org.role,
            membership=self.get_membership(membership_id),
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class MemberLeaveView(OrgScopedAPIView):
    """Leave the organization (refused for its last owner)."""

    scope_map = {"POST": "member.leave"}
    declared_errors = {"POST": (409,)}  # last_owner

    @extend_schema(request=None, responses={204: None})
    def post(self, request: Request, org_slug: str) -> Response:
        services.member_leave(user=request.user, organization_id=self.organization_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class InvitationFilter(FilterSet):
    email = django_filters.CharFilter(lookup_expr="icontains")
    role = django_filters.ChoiceFilter(choices=Role.choices)
    pending = django_filters.BooleanFilter(method="filter_pending")

    class Meta:
        model = Invitation
        fields = ["email", "role", "pending"]

    def filter_pending(self, queryset: Any, name: str, value: bool) -> Any:
        pending = Invitation.objects.pending().values("id")
        return queryset.filter(id__in=pending) if value else queryset.exclude(id__in=pending)


class InvitationListView(ListAPIMixin, OrgScopedAPIView):
    scope_map = {"GET": "invitation.list", "POST": "invitation.create"}
    declared_errors = {"POST": (409,)}  # already_member, invitation_exists
    queryset = Invitation.objects.none()
    serializer_class = InvitationSerializer
    filterset_class = InvitationFilter
    ordering_fields = ("created_at", "email", "expires_at")
    search_fields = ("email",)

    def scoped_queryset(self) -> Any:
        return selectors.invitations_of(organization_id=self.organization_id)

    @extend_schema(request=InvitationCreateSerializer, responses={201: InvitationSerializer})
    def post(self, request: Request, org_slug: str) -> Response:
        data = validated(InvitationCreateSerializer, request)
        invitation = services.invitation_create(
            actor=request.user,
            actor_role=self.org.role,
            organization_id=self.organization_id,
            **data,
        )
        return Response(InvitationSerializer(invitation).data, status=status.HTTP_201_CREATED)


class _InvitationObjectView(OrgScopedAPIView):
    declared_errors = {"POST": (409,), "DELETE": (409,)}  # invitation_closed

    serializer_class = InvitationSerializer

    def get_invitation(self, invitation_id: Any) -> Invitation:
        return self.get_org_object(
            selectors.invitations_of(organization_id=self.organization_id), id=invitation_id
        )


class InvitationDetailView(_InvitationObjectView):
    scope_map = {"GET": "invitation.list", "DELETE": "invitation.revoke"}

    def get(self, request: Request, org_slug: str, invitation_id: Any) -> Response:
        return Response(InvitationSerializer(self.get_invitation(invitation_id)).data)

    def delete(self, request: Request, org_slug: str, invitation_id: Any) -> Response:
        """Revoke the invitation; its link stops working. The record stays."""
        invitation = services.invitation_revoke(
            actor=request.user, invitation=self.get_invitation(invitation_id)
        )
        return Response(InvitationSerializer(invitation).data)


class InvitationResendView(_InvitationObjectView):
    scope_map = {"POST": "invitation.resend"}

    @extend_schema(request=None, responses=InvitationSerializer)
    def post(self, request: Request, org_slug: str, invitation_id: Any) -> Response:
        invitation = services.invitation_resend(
            actor=request.user, invitation=self.get_invitation(invitation_id)
        )
        return Response(InvitationSerializer(invitation).data)


class InvitationAcceptView(UserScopedAPIView):
    """Accept an invitation as the signed-in user (whose email must match it)."""

    # invitation_email_mismatch, invitation_invalid, invitation_closed
    declared_errors = {"POST": (403, 404, 409)}

    serializer_class = InvitationAcceptSerializer

    @extend_schema(request=InvitationAcceptSerializer, responses={201: MyOrganizationSerializer})
    def post(self, request: Request) -> Response:
        data = validated(InvitationAcceptSerializer, request)
        membership = services.invitation_accept(user=request.user, token=data["token"])
        membership = selectors.memberships_of_user(user=request.user).get(id=membership.id)
        return Response(MyOrganizationSerializer(membership).data, status=status.HTTP_201_CREATED)
