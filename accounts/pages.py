"""The few pages this server renders for links in emails (``FRONTEND_URL``).

Each page is a thin view over the same services as the API. A GET never
changes anything (mail scanners follow links); the action is a POST of the
page's form, which sends the token in its body, to the page's bare path (the
request line of a POST, which is logged, holds no token).

- ``/verify-email?token=`` confirms an address;
- ``/reset-password?token=`` sets a new password (without a token: asks for
  the reset email);
- ``/invitations/accept?token=`` shows the organization and role of an
  invitation and lets a signed-out person sign up, or sign in, and accept.

Each page is a door like the API's (``docs/design`` §5): every POST counts in the
API's throttle buckets through :mod:`accounts.doors` (a refused one answers 429
with the page), and a refused sign-in is audited like the API's. The pages do
not run in one request transaction (``non_atomic_requests``): each step commits
on its own, so the audit of a failure and a TOTP code spent on the page survive
the refusal that follows them.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from accounts import doors, flows, mfa, services
from accounts.models import User
from accounts.throttling import Refused, normalise_email
from config.errors import DomainError
from organizations.models import Invitation
from organizations.services import hash_token, invitation_accept
from organizations.tenancy import service_context

THROTTLED = "Too many attempts. Wait a few minutes and try again."
# SECURITY: one answer for every refused sign-in on the invitation page (a wrong
# password, another account's email, a disabled account, a missing or wrong code),
# so the page tells an attacker no more than the API's sign-in does.
SIGN_IN_REFUSED = "The email, password or authentication code is wrong."


def _page(request: HttpRequest, template: str, status: int = 200, **context: Any) -> HttpResponse:
    return render(request, template, context, status=status)


def _throttled(
    request: HttpRequest, template: str, refused: Refused, **context: Any
) -> HttpResponse:
    response = _page(request, template, status=429, error=THROTTLED, throttled=True, **context)
    response["Retry-After"] = str(refused.wait)
    return response


def _problems(exc: DomainError) -> list[str]:
    return [m for messages in exc.details.values() for m in messages] if exc.details else []


@transaction.non_atomic_requests
@require_http_methods(["GET", "POST"])
def verify_email(request: HttpRequest) -> HttpResponse:
    token = request.POST.get("token") or request.GET.get("token", "")
    template = "accounts/verify_email.html"
    if request.method == "GET":
        return _page(request, template, token=token)
    if refused := doors.door_check(doors.by_address(request, "verify_email")):
        return _throttled(request, template, refused, token=token)
    try:
        user = flows.email_verify(token=token)  # one transaction, rolled back on refusal
    except DomainError as exc:
        return _page(request, template, status=400, error=exc.message)
    return _page(request, template, verified=user.email)


@transaction.non_atomic_requests
@require_http_methods(["GET", "POST"])
def reset_password(request: HttpRequest) -> HttpResponse:
    token = request.POST.get("token") or request.GET.get("token", "")
    template = "accounts/reset_password.html"
    if not token:
        email = request.POST.get("email", "") if request.method == "POST" else ""
        if not email:
            return _page(request, template)
        # The same buckets as POST /auth/password-reset/: at most that many emails.
        buckets = doors.by_address(request, "password_reset")
        buckets += doors.by_email("password_reset_account", email)
        if refused := doors.door_check(buckets):
            return _throttled(request, template, refused)
        with transaction.atomic():
            flows.password_reset_request(email=email)
        return _page(request, template, requested=True)
    if request.method == "GET":
        try:
            flows.password_reset_check(token=token)
        except DomainError as exc:
            return _page(request, template, status=400, error=exc.message)
        return _page(request, template, token=token)
    if refused := doors.door_check(doors.by_address(request, "password_reset")):
        return _throttled(request, template, refused, token=token)
    try:
        flows.password_reset_confirm(token=token, password=request.POST.get("password", ""))
    except DomainError as exc:
        return _page(
            request, template, status=400, token=token, error=exc.message, problems=_problems(exc)
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


@transaction.non_atomic_requests
@require_http_methods(["GET", "POST"])
def invitation_page(request: HttpRequest) -> HttpResponse:
    token = request.POST.get("token") or request.GET.get("token", "")
    invitation = _invitation(token)
    template = "accounts/invitation.html"
    context: dict[str, Any] = {"invitation": invitation, "token": token}
    if request.method == "POST" and (refused := doors.door_check(_buckets(request))):
        return _throttled(request, template, refused, **context)
    if invitation is None:
        return _page(request, template, status=404, error="This invitation link is not valid.")
    if invitation.status != Invitation.Status.PENDING:
        return _page(request, template, closed=invitation.status, **context)
    if request.method == "GET":
        return _page(request, template, **context)
    try:
        user = _accept(request, invitation, token)
    except DomainError as exc:
        return _page(
            request, template, status=400, error=exc.message, problems=_problems(exc), **context
        )
    return _page(request, template, joined=user.email, **context)


def _buckets(request: HttpRequest) -> list[tuple[str, str]]:
    """A sign-up counts like ``POST /auth/signup/``; anything else like a sign-in
    (``POST /auth/token/``: per address, and per account for the email it names)."""
    if request.POST.get("action") == "signup":
        return doors.by_address(request, "signup")
    return doors.by_address(request, "login") + doors.by_email(
        "login_account", request.POST.get("email")
    )


def _accept(request: HttpRequest, invitation: Invitation, token: str) -> Any:
    """Who accepts: a new account, the signed-in user, or one signing in on the page."""
    if request.POST.get("action") == "signup":
        with transaction.atomic():
            user = services.user_create(
                email=invitation.email,
                password=request.POST.get("password", ""),
                name=request.POST.get("name", ""),
            )
            flows.email_mark_verified(user=user, reason="invitation")
            invitation_accept(user=user, token=token)
        return user
    if request.POST.get("action") == "accept" and request.user.is_authenticated:
        user = request.user
    else:
        user = _sign_in(request, invitation)  # committed: its audit and spent code stay
    with transaction.atomic():
        invitation_accept(user=user, token=token)
    return user


def _sign_in(request: HttpRequest, invitation: Invitation) -> User:
    """The invitee signing in with password (and code, with MFA on), or a refusal (``DomainError``).

    Only the invitation's own address may sign in here. Each refusal is audited
    (``user.login_failed``, ``via="page"``) before it is raised.
    """
    email = normalise_email(request.POST.get("email"))
    # The password is checked whatever the email (the same hashing work for each answer).
    user = services.user_with_password(email=email, password=request.POST.get("password", ""))
    if user is None:
        reason = "invalid_credentials"
    elif email != normalise_email(invitation.email):
        reason = "not_invitee"  # SECURITY: another account's right password changes nothing
    elif not user.is_active:
        reason = "disabled"
    elif user.mfa_enabled:
        reason = _code_refused(request, user)
    else:
        reason = None
    if reason is not None:
        doors.sign_in_failed(email=email, user=user, reason=reason, via="page")
        raise DomainError(SIGN_IN_REFUSED, code="invalid_credentials")
    return user


def _code_refused(request: HttpRequest, user: User) -> str | None:
    """Check the sign-in code of ``user`` (its password was right); the refusal reason or None.

    Counted in the API's ``mfa`` buckets (per address and per account). A full bucket
    is refused like a wrong code, not with a 429: a 429 here would say the password
    was right. ``mfa_verify`` commits on its own, so the code is spent even though
    the page answers an error afterwards, and cannot be replayed at the API.
    """
    buckets = [*doors.by_address(request, "mfa"), ("mfa", doors.mfa_account(user.pk))]
    if doors.door_check(buckets):
        return "mfa_throttled"
    try:
        mfa.mfa_verify(user=user, code=request.POST.get("code", ""))
    except mfa.MFAInvalidCode:
        return "mfa_invalid_code"
    return None
