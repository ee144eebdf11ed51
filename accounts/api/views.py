"""Sign-up, tokens, the signed-in user and their sessions."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from drf_spectacular.utils import PolymorphicProxySerializer, extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response

from accounts import doors, flows, mfa, services
from accounts.api.serializers import (
    DetailSerializer,
    EmailChangeSerializer,
    MeSerializer,
    MeUpdateSerializer,
    MFAChallengeSerializer,
    MFACodeSerializer,
    MFAConfirmSerializer,
    MFATokenSerializer,
    MyInvitationSerializer,
    PasswordChangeSerializer,
    PasswordResetConfirmSerializer,
    PasswordResetSerializer,
    RecoveryCodesSerializer,
    RefreshSerializer,
    SessionSerializer,
    SignupSerializer,
    TokenObtainSerializer,
    TokenPairSerializer,
    TOTPStartSerializer,
    VerifyEmailSerializer,
)
from accounts.models import Session, User
from accounts.throttling import AccountRateThrottle, DoorRateThrottle, normalise_email
from config.api.exceptions import error_body
from config.api.serializers import validated
from organizations.api.base import ListAPIMixin, UserScopedAPIView
from organizations.models import Invitation
from organizations.services import invitation_accept, invitation_decline, invitations_for_invitee


def _session_ended(exc: Exception) -> Response:
    # Returned, not raised: raising would roll back a revocation made on the way.
    return Response(error_body("session_ended", str(exc)), status=status.HTTP_401_UNAUTHORIZED)


def _token_not_valid(exc: Exception) -> Response:
    return Response(error_body("token_not_valid", str(exc)), status=status.HTTP_401_UNAUTHORIZED)


def _invalid_credentials() -> Response:
    return Response(
        error_body("invalid_credentials", "The email or password is wrong."),
        status=status.HTTP_401_UNAUTHORIZED,
    )


class _AnonymousAPIView(UserScopedAPIView):
    """Counted by :mod:`accounts.throttling` in the buckets the pages count in too."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [DoorRateThrottle]


class _AccountThrottledView(_AnonymousAPIView):
    """Throttled per client address (``throttle_scope``) and per account
    (``account_throttle_scope``, keyed by the normalised ``email`` of the body)."""

    throttle_classes = [DoorRateThrottle, AccountRateThrottle]
    account_throttle_scope: str = ""

    def throttle_account(self, request: Request) -> str | None:
        data = request.data if isinstance(request.data, dict) else {}
        return normalise_email(data.get("email")) or None


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
            # The invitation link reached this address: that verifies it (a token
            # for another address fails the accept, and the whole sign-up with it).
            flows.email_mark_verified(user=user, reason="invitation")
            invitation_accept(user=user, token=token)
        else:
            flows.email_verification_send(user=user)
        return Response(services.session_create(user=user), status=status.HTTP_201_CREATED)


class TokenObtainView(_AccountThrottledView):
    """Sign in with email and password: a new session and its token pair.

    With MFA on, the answer is a short-lived challenge instead (``mfa_required``,
    ``mfa_token``); ``POST /auth/token/mfa/`` with a code completes the sign-in.
    A disabled account is told so, but only after the right password.
    """

    throttle_scope = "login"
    declared_errors = {"POST": (401, 403)}  # invalid_credentials; account_disabled
    account_throttle_scope = "login_account"
    serializer_class = TokenObtainSerializer

    @extend_schema(
        request=TokenObtainSerializer,
        responses={
            200: PolymorphicProxySerializer(
                component_name="SignInResult",
                serializers=[TokenPairSerializer, MFAChallengeSerializer],
                resource_type_field_name=None,
            )
        },
    )
    def post(self, request: Request) -> Response:
        data = validated(TokenObtainSerializer, request)
        email = normalise_email(data["email"])
        user = services.user_with_password(email=email, password=data["password"])
        if user is None:
            doors.sign_in_failed(email=email, user=None, reason="invalid_credentials", via="api")
            return _invalid_credentials()
        if not user.is_active:
            doors.sign_in_failed(email=email, user=user, reason="disabled", via="api")
            return Response(
                error_body("account_disabled", "This account is disabled."),
                status=status.HTTP_403_FORBIDDEN,
            )
        if user.mfa_enabled:
            return Response({"mfa_required": True, "mfa_token": mfa.mfa_challenge_token(user)})
        return Response(services.session_create(user=user))


class TokenMFAView(_AnonymousAPIView):
    """Complete an MFA sign-in: the challenge token and a TOTP or recovery code."""

    throttle_classes = [DoorRateThrottle, AccountRateThrottle]
    throttle_scope = "mfa"
    account_throttle_scope = "mfa"
    serializer_class = MFATokenSerializer

    def throttle_account(self, request: Request) -> str | None:
        data = request.data if isinstance(request.data, dict) else {}
        user_id = mfa.mfa_challenge_user_id(str(data.get("mfa_token") or ""))
        return doors.mfa_account(user_id) if user_id else None

    @extend_schema(request=MFATokenSerializer, responses=TokenPairSerializer)
    def post(self, request: Request) -> Response:
        data = validated(MFATokenSerializer, request)
        user = mfa.mfa_challenge_user(data["mfa_token"])
        if user is None:
            return Response(
                error_body("invalid_credentials", "The sign-in challenge is invalid or expired."),
                status=status.HTTP_401_UNAUTHORIZED,
            )
        try:
            mfa.mfa_verify(user=user, code=data["code"])
        except mfa.MFAInvalidCode:
            doors.sign_in_failed(email=user.email, user=user, reason="mfa_invalid_code", via="api")
            return Response(
                error_body("mfa_invalid_code", "The code is wrong or was already used."),
                status=status.HTTP_400_BAD_REQUEST,
            )
        return Response(services.session_create(user=user, mfa=True))


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
        except services.TokenNotValid as exc:
            return _token_not_valid(exc)
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
        except services.TokenNotValid as exc:
            return _token_not_valid(exc)
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
    ordering_fields = ("created_at", "last_used_at", "expires_at")

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


# --- password reset, email verification ------------------------------------------


class PasswordResetView(_AccountThrottledView):
    """Email a password reset link. The answer is the same whether or not the account exists."""

    throttle_scope = "password_reset"
    account_throttle_scope = "password_reset_account"
    serializer_class = PasswordResetSerializer

    @extend_schema(request=PasswordResetSerializer, responses={202: DetailSerializer})
    def post(self, request: Request) -> Response:
        data = validated(PasswordResetSerializer, request)
        flows.password_reset_request(email=data["email"])
        return Response(
            {"detail": "If an account has this address, a reset link is on its way."},
            status=status.HTTP_202_ACCEPTED,
        )


class PasswordResetConfirmView(_AnonymousAPIView):
    """Set a new password with the emailed token: every session of the account ends."""

    throttle_scope = "password_reset"
    serializer_class = PasswordResetConfirmSerializer

    @extend_schema(request=PasswordResetConfirmSerializer, responses={204: None})
    def post(self, request: Request) -> Response:
        data = validated(PasswordResetConfirmSerializer, request)
        flows.password_reset_confirm(token=data["token"], password=data["password"])
        return Response(status=status.HTTP_204_NO_CONTENT)


class VerifyEmailView(_AnonymousAPIView):
    """Verify an address with the emailed token (after a change of address: switch to it)."""

    throttle_scope = "verify_email"
    serializer_class = VerifyEmailSerializer

    @extend_schema(request=VerifyEmailSerializer, responses=MeSerializer)
    def post(self, request: Request) -> Response:
        data = validated(VerifyEmailSerializer, request)
        user = flows.email_verify(token=data["token"])
        user = User.objects.select_related("settings").get(id=user.id)
        return Response(MeSerializer(user).data)


class VerifyEmailResendView(UserScopedAPIView):
    """Send the verification email for my current address again."""

    serializer_class = DetailSerializer
    throttle_classes = [DoorRateThrottle]
    throttle_scope = "verify_email"

    @extend_schema(request=None, responses={202: DetailSerializer})
    def post(self, request: Request) -> Response:
        if not request.user.email_verified:
            flows.email_verification_send(user=request.user)
        return Response({"detail": "Check your inbox."}, status=status.HTTP_202_ACCEPTED)


class EmailChangeView(UserScopedAPIView):
    """Ask to change my address: it changes when the new one is verified."""

    serializer_class = EmailChangeSerializer

    @extend_schema(request=EmailChangeSerializer, responses={202: DetailSerializer})
    def post(self, request: Request) -> Response:
        data = validated(EmailChangeSerializer, request)
        email = flows.email_change_request(
            user=request.user, email=data["email"], password=data["password"]
        )
        return Response(
            {"detail": f"A confirmation link was sent to {email}."},
            status=status.HTTP_202_ACCEPTED,
        )


# --- MFA -------------------------------------------------------------------------------


class TOTPView(UserScopedAPIView):
    """Start TOTP enrollment (``POST``) or turn MFA off with a code (``DELETE``)."""

    serializer_class = TOTPStartSerializer
    throttle_classes = [DoorRateThrottle]
    throttle_scope = "mfa"

    @extend_schema(request=None, responses={201: TOTPStartSerializer})
    def post(self, request: Request) -> Response:
        return Response(mfa.totp_start(user=request.user), status=status.HTTP_201_CREATED)

    @extend_schema(request=MFACodeSerializer, responses={204: None})
    def delete(self, request: Request) -> Response:
        data = validated(MFACodeSerializer, request)
        mfa.totp_disable(user=request.user, code=data["code"])
        return Response(status=status.HTTP_204_NO_CONTENT)


class TOTPConfirmView(UserScopedAPIView):
    """Confirm enrollment with a code and the current password: MFA is on, every other
    session ends; the recovery codes are shown this once."""

    serializer_class = MFAConfirmSerializer
    throttle_classes = [DoorRateThrottle]
    throttle_scope = "mfa"

    @extend_schema(request=MFAConfirmSerializer, responses={200: RecoveryCodesSerializer})
    def post(self, request: Request) -> Response:
        data = validated(MFAConfirmSerializer, request)
        codes = mfa.totp_confirm(
            user=request.user,
            code=data["code"],
            password=data["password"],
            keep_session_id=getattr(request, "session_id", None),
        )
        return Response({"recovery_codes": codes})


# --- invitations for the invitee ---------------------------------------------------------


class MyInvitationListView(UserScopedAPIView):
    """Open invitations to my address (once it is verified)."""

    queryset = Invitation.objects.none()
    serializer_class = MyInvitationSerializer

    @extend_schema(responses=MyInvitationSerializer(many=True))
    def get(self, request: Request) -> Response:
        invitations = invitations_for_invitee(user=request.user)
        return Response(MyInvitationSerializer(invitations, many=True).data)


class MyInvitationDeclineView(UserScopedAPIView):
    queryset = Invitation.objects.none()
    serializer_class = MyInvitationSerializer

    @extend_schema(request=None, responses={204: None})
    def post(self, request: Request, invitation_id: Any) -> Response:
        """Decline an invitation sent to my (verified) address."""
        invitation_decline(user=request.user, invitation_id=invitation_id)
        return Response(status=status.HTTP_204_NO_CONTENT)
