"""The few pages this server renders for links in emails (``FRONTEND_URL``).

Each page is a thin view over the same services as the API. A GET never
changes anything (mail scanners follow links); the action is a POST of the
page's form.

- ``/verify-email?token=`` confirms an address;
- ``/reset-password?token=`` sets a new password (without a token: asks for
  the reset email);
- ``/invitations/accept?token=`` shows the organization and role of an
  invitation and lets a signed-out person sign up, or sign in, and accept.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from accounts import flows, mfa, services
from config.errors import DomainError
from organizations.models import Invitation
from organizations.services import hash_token, invitation_accept
from organizations.tenancy import service_context


def _page(request: HttpRequest, template: str, status: int = 200, **context: Any) -> HttpResponse:
    return render(request, template, context, status=status)


@require_http_methods(["GET", "POST"])
def verify_email(request: HttpRequest) -> HttpResponse:
    token = request.POST.get("token") or request.GET.get("token", "")
    if request.method == "GET":
        return _page(request, "accounts/verify_email.html", token=token)
    try:
        user = flows.email_verify(token=token)
    except DomainError as exc:
        transaction.set_rollback(True)
        return _page(request, "accounts/verify_email.html", status=400, error=exc.message)
    return _page(request, "accounts/verify_email.html", verified=user.email)


@require_http_methods(["GET", "POST"])
def reset_password(request: HttpRequest) -> HttpResponse:
    token = request.POST.get("token") or request.GET.get("token", "")
    template = "accounts/reset_password.html"
    if not token:
        if request.method == "POST" and request.POST.get("email"):
            flows.password_reset_request(email=request.POST["email"])
            return _page(request, template, requested=True)
        return _page(request, template)
    if request.method == "GET":
        try:
            flows.password_reset_check(token=token)
        except DomainError as exc:
            return _page(request, template, status=400, error=exc.message)
        return _page(request, template, token=token)
    try:
        flows.password_reset_confirm(token=token, password=request.POST.get("password", ""))
    except DomainError as exc:
        transaction.set_rollback(True)
        problems = [m for messages in exc.details.values() for m in messages] if exc.details else []
        return _page(
            request, template, status=400, token=token, error=exc.message, problems=problems
        )
    return _page(request, template, done=True)


def _invitation(token: str) -> Invitation | None:
    if not token:
        return None
    with service_context(reason="invitation page"):
        return (
            Invitation.objects.select_related("organization", "invited_by")
            .filter(token_hash=hash_token(token))
            .first()
        )


@require_http_methods(["GET", "POST"])
def invitation_page(request: HttpRequest) -> HttpResponse:
    token = request.POST.get("token") or request.GET.get("token", "")
    invitation = _invitation(token)
    template = "accounts/invitation.html"
    if invitation is None:
        return _page(request, template, status=404, error="This invitation link is not valid.")
    context: dict[str, Any] = {"invitation": invitation, "token": token}
    if invitation.status != Invitation.Status.PENDING:
        return _page(request, template, closed=invitation.status, **context)
    if request.method == "GET":
        return _page(request, template, **context)
    try:
        user = _invitee(request, invitation)
        invitation_accept(user=user, token=token)
    except DomainError as exc:
        transaction.set_rollback(True)
        problems = [m for messages in exc.details.values() for m in messages] if exc.details else []
        return _page(request, template, status=400, error=exc.message, problems=problems, **context)
    return _page(request, template, joined=user.email, **context)


def _invitee(request: HttpRequest, invitation: Invitation) -> Any:
    """Who accepts: a new account, the signed-in user, or one signing in on the page."""
    action = request.POST.get("action")
    if action == "signup":
        user = services.user_create(
            email=invitation.email,
            password=request.POST.get("password", ""),
            name=request.POST.get("name", ""),
        )
        flows.email_mark_verified(user=user, reason="invitation")
        return user
    if action == "accept" and request.user.is_authenticated:
        return request.user
    user = services.user_with_password(
        email=request.POST.get("email", ""), password=request.POST.get("password", "")
    )
    if user is None or not user.is_active:
        raise DomainError("The email or password is wrong.", code="invalid_credentials")
    if user.mfa_enabled:
        mfa.mfa_verify(user=user, code=request.POST.get("code", ""))
    return user
