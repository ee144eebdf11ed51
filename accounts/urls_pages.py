"""Pages behind the links in emails (served at the site root, under ``FRONTEND_URL``)."""

from django.urls import path

from accounts import pages

urlpatterns = [
    path("verify-email", pages.verify_email, name="page-verify-email"),
    path("reset-password", pages.reset_password, name="page-reset-password"),
    path("invitations/accept", pages.invitation_page, name="page-invitation"),
]
