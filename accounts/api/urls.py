from django.urls import path

from accounts.api import views

urlpatterns = [
    path("auth/signup/", views.SignupView.as_view(), name="auth-signup"),
    path("auth/token/", views.TokenObtainView.as_view(), name="auth-token"),
    path("auth/token/mfa/", views.TokenMFAView.as_view(), name="auth-token-mfa"),
    path("auth/token/refresh/", views.TokenRefreshView.as_view(), name="auth-token-refresh"),
    path("auth/password-reset/", views.PasswordResetView.as_view(), name="auth-password-reset"),
    path(
        "auth/password-reset/confirm/",
        views.PasswordResetConfirmView.as_view(),
        name="auth-password-reset-confirm",
    ),
    path("auth/verify-email/", views.VerifyEmailView.as_view(), name="auth-verify-email"),
    path("auth/logout/", views.LogoutView.as_view(), name="auth-logout"),
    path("me/", views.MeView.as_view(), name="me"),
    path("me/password/", views.PasswordChangeView.as_view(), name="me-password"),
    path("me/email/", views.EmailChangeView.as_view(), name="me-email"),
    path(
        "me/email/verification/",
        views.VerifyEmailResendView.as_view(),
        name="me-email-verification",
    ),
    path("me/mfa/totp/", views.TOTPView.as_view(), name="me-mfa-totp"),
    path("me/mfa/totp/confirm/", views.TOTPConfirmView.as_view(), name="me-mfa-totp-confirm"),
    path("me/invitations/", views.MyInvitationListView.as_view(), name="me-invitations"),
    path(
        "me/invitations/<uuid:invitation_id>/decline/",
        views.MyInvitationDeclineView.as_view(),
        name="me-invitation-decline",
    ),
    path("me/sessions/", views.SessionListView.as_view(), name="me-sessions"),
    path(
        "me/sessions/<uuid:session_id>/",
        views.SessionDetailView.as_view(),
        name="me-session-detail",
    ),
]
