"""Sign-up, tokens, the signed-in user and their sessions."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import authenticate
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle

from accounts import services
from accounts.api.serializers import (
    MeSerializer,
    MeUpdateSerializer,
    PasswordChangeSerializer,
    RefreshSerializer,
    SessionSerializer,
    SignupSerializer,
    TokenObtainSerializer,
    TokenPairSerializer,
)
from accounts.models import Session
from config.api.exceptions import error_body
from config.api.serializers import validated
from organizations.api.base import ListAPIMixin, UserScopedAPIView
from organizations.services import invitation_accept


def _session_ended(exc: Exception) -> Response:
    # Returned, not raised: raising would roll back a revocation made on the way.
    return Response(error_body("session_ended", str(exc)), status=status.HTTP_401_UNAUTHORIZED)


class _AnonymousAPIView(UserScopedAPIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [ScopedRateThrottle]


class SignupView(_AnonymousAPIView):
    """Create an account (optionally accepting an invitation) and sign in."""

    throttle_scope = "signup"
    declared_errors = {"POST": (403, 404, 409)}  # email_taken and the invitation's errors
    serializer_class = SignupSerializer

    @extend_schema(request=SignupSerializer, responses={201: TokenPairSerializer})
    def post(self, request: Request) -> Response:
        data = validated(SignupSerializer, request)
        token = data.pop("invitation_token", None)
        user = services.user_create(**data)
        if token:
            invitation_accept(user=user, token=token)
        return Response(services.session_create(user=user), status=status.HTTP_201_CREATED)


class TokenObtainView(_AnonymousAPIView):
    """Sign in with email and password: a new session and its token pair."""

    throttle_scope = "login"
    declared_errors = {"POST": (401,)}  # invalid_credentials, user_inactive
    serializer_class = TokenObtainSerializer

    @extend_schema(request=TokenObtainSerializer, responses=TokenPairSerializer)
    def post(self, request: Request) -> Response:
        data = validated(TokenObtainSerializer, request)
        user = authenticate(request, email=data["email"], password=data["password"])
        if user is None:
            return Response(
                error_body("invalid_credentials", "The email or password is wrong."),
                status=status.HTTP_401_UNAUTHORIZED,
            )
        return Response(services.session_create(user=user))


class TokenRefreshView(_AnonymousAPIView):
    """Trade a refresh token for a new pair. Each refresh token works once."""

    throttle_scope = "refresh"
    declared_errors = {"POST": (401,)}  # session_ended
    serializer_class = RefreshSerializer

    @extend_schema(request=RefreshSerializer, responses=TokenPairSerializer)
    def post(self, request: Request) -> Response:
        data = validated(RefreshSerializer, request)
        try:
            return Response(services.session_refresh(raw_refresh=data["refresh"]))
        except services.SessionEnded as exc:
            return _session_ended(exc)


class LogoutView(_AnonymousAPIView):
    """End the session the refresh token belongs to (its access tokens too)."""

    throttle_scope = "refresh"
    declared_errors = {"POST": (401,)}  # session_ended
    serializer_class = RefreshSerializer

    @extend_schema(request=RefreshSerializer, responses={204: None})
    def post(self, request: Request) -> Response:
        data = validated(RefreshSerializer, request)
        try:
            services.session_revoke_by_refresh(raw_refresh=data["refresh"])
        except services.SessionEnded as exc:
            return _session_ended(exc)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeView(UserScopedAPIView):
    declared_errors = {"PATCH": (409,)}  # email_taken
    serializer_class = MeSerializer

    def _render(self, request: Request) -> Response:
        user = type(request.user).objects.select_related("settings").get(id=request.user.id)
        return Response(MeSerializer(user).data)

    def get(self, request: Request) -> Response:
        return self._render(request)

    @extend_schema(request=MeUpdateSerializer, responses=MeSerializer)
    def patch(self, request: Request) -> Response:
        services.user_update(user=request.user, **validated(MeUpdateSerializer, request))
        return self._render(request)


class PasswordChangeView(UserScopedAPIView):
    """Change the password; every other session is signed out."""

    serializer_class = PasswordChangeSerializer

    @extend_schema(request=PasswordChangeSerializer, responses={204: None})
    def post(self, request: Request) -> Response:
        data = validated(PasswordChangeSerializer, request)
        services.password_change(
            user=request.user,
            current_password=data["current_password"],
            new_password=data["new_password"],
            keep_session_id=getattr(request, "session_id", None),
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class SessionListView(ListAPIMixin, UserScopedAPIView):
    """My open sessions (signed-in devices), the current one marked."""

    queryset = Session.objects.none()
    serializer_class = SessionSerializer

    def scoped_queryset(self) -> Any:
        return Session.objects.filter(
            user=self.request.user, revoked_at__isnull=True, expires_at__gt=timezone.now()
        )

    def get_serializer_context(self) -> dict[str, Any]:
        return {
            **super().get_serializer_context(),
            "current_session_id": getattr(self.request, "session_id", None),
        }


class SessionDetailView(UserScopedAPIView):
    serializer_class = SessionSerializer

    @extend_schema(responses={204: None})
    def delete(self, request: Request, session_id: Any) -> Response:
        """Sign that session out (its tokens stop working at once)."""
        if not services.session_revoke(user=request.user, session_id=session_id):
            return Response(error_body("not_found", "Not found."), status=status.HTTP_404_NOT_FOUND)
        return Response(status=status.HTTP_204_NO_CONTENT)
