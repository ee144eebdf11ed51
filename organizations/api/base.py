"""The API's base views: where the tenant is resolved, once per request.

Order inside the request transaction (``ATOMIC_REQUESTS``):

1. DRF authenticates (JWT bound to a session, or an organization API key) and
   applies throttles;
2. :class:`UserScopedAPIView` claims the user; :class:`OrgScopedAPIView` claims
   the user *and* the organization named in the URL with one statement
   (``app.enter_org``), which answers the caller's role — or nothing, and then
   the request is a 404 (never 403: another tenant's existence is not revealed);
3. the view's ``scope_map`` names the action of the HTTP method and the
   permission matrix decides, first on the kind of principal (an API key may
   perform only the actions declared for keys: ``403 api_key_not_allowed``), then
   on the key's scopes, then on the role; a suspended organization refuses writes.

A view whose method is missing from ``scope_map`` refuses the request, and the
route-matrix test fails: nothing is reachable without a declared action.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, ClassVar

from django.db.models import Model, QuerySet
from django.shortcuts import get_object_or_404
from rest_framework import exceptions, generics, mixins
from rest_framework.request import Request
from rest_framework_simplejwt.tokens import Token

from config import logs
from config.api.filters import refuse_unknown_query_params
from config.errors import NotFound
from organizations.permissions import Principal, allows, allows_principal
from organizations.tenancy import (
    OrgContext,
    ensure_writable,
    enter_org,
    set_user_claim,
    tenant_context,
)

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

# Called with (view, request) once a request on an org route is authorized; other
# apps register here from their AppConfig.ready() (billing counts API calls).
AFTER_AUTHORIZE: list[Callable[[Any, Request], None]] = []


def principal_kind(request: Request) -> Principal:
    """The kind of principal behind an authenticated API request.

    An API key's principal declares itself (``integrations.apikeys.ApiKeyPrincipal``
    has ``principal_kind``); a person's request carries their session's JWT. Anything
    else is refused rather than guessed: a new authentication class must declare what
    it authenticates before it can reach an organization's routes.
    """
    declared = getattr(request.auth, "principal_kind", None)
    if declared is not None:
        return Principal(declared)
    if isinstance(request.auth, Token):
        return Principal.PERSON
    raise exceptions.PermissionDenied("These credentials cannot be used here.")


class _ApiKeyScope(exceptions.PermissionDenied):
    """403 ``api_key_scope`` naming the scope the request needed (``details.required_scope``)."""

    default_code = "api_key_scope"

    def __init__(self, action: str) -> None:
        area = action.rsplit(".", 1)[0]
        super().__init__(
            f"This API key's scopes do not cover {action}: give the key the scope "
            f"{action!r} (or {area + '.*'!r}).",
            code="api_key_scope",
        )
        self.details = {"required_scope": action}


class ScopedAPIView(generics.GenericAPIView):
    """Shared by both bases: querysets come from :meth:`scoped_queryset`.

    Views declare ``queryset = Model.objects.none()`` only to name their model
    for OpenAPI generation, which runs without a user or an organization.
    """

    def get_queryset(self) -> QuerySet[Any]:
        if getattr(self, "swagger_fake_view", False):
            return self.queryset.none()
        return self.scoped_queryset()

    def scoped_queryset(self) -> QuerySet[Any]:
        raise NotImplementedError

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        if request.user.is_authenticated:
            logs.bind(user_id=request.user.id)  # on every log line of the request


class ListAPIMixin(mixins.ListModelMixin):
    """``GET`` lists :meth:`get_queryset`, filtered, searched, ordered and
    cursor-paginated (``config/api/filters.py``).

    ``ordering_fields`` names what ``?ordering=`` may sort by (default: the
    paginator's own first field); ``search_fields`` what ``?search=`` looks in (none:
    no search). A query parameter that is not a filter, a pagination, ordering or
    search parameter or one of ``extra_query_params`` is a 400 (as an unknown body
    field is), checked once the caller is known to see the list.
    """

    extra_query_params: ClassVar[frozenset[str]] = frozenset()
    ordering_fields: ClassVar[tuple[str, ...] | dict[str, Any] | None] = None
    search_fields: ClassVar[tuple[str, ...]] = ()

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)  # type: ignore[misc]
        if request.method in SAFE_METHODS:
            refuse_unknown_query_params(self, request)

    def get(self, request: Request, *args: Any, **kwargs: Any) -> Any:
        return self.list(request, *args, **kwargs)


class UserScopedAPIView(ScopedAPIView):
    """Signed-in user, no organization: ``/me/``, "my organizations", accepting an invitation."""

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        if hasattr(request.auth, "enter_org"):
            # SECURITY: an API key is an organization's credential, never a person's.
            raise exceptions.PermissionDenied(
                "API keys work only on their organization's routes.", code="api_key_not_allowed"
            )
        if request.user.is_authenticated:
            set_user_claim(request.user.id)


class OrgScopedAPIView(ScopedAPIView):
    """Everything under ``/api/v1/orgs/{org_slug}/``."""

    scope_map: ClassVar[dict[str, str]] = {}
    org: OrgContext

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        if not hasattr(self, request.method.lower()):
            raise exceptions.MethodNotAllowed(request.method)
        # An API key (integrations.apikeys.ApiKeyPrincipal) claims itself: only its own
        # organization, with the lower of its role and its creator's current role.
        principal_enter = getattr(request.auth, "enter_org", None)
        if principal_enter is not None:
            org = principal_enter(kwargs["org_slug"])
        else:
            org = enter_org(request.user.id, kwargs["org_slug"])
        if org is None:
            raise exceptions.NotFound()
        self.org = org
        logs.bind(org_id=org.organization_id)
        if org.require_mfa and not getattr(request.user, "mfa_enabled", False):
            # The organization requires two-factor authentication of its members.
            raise exceptions.PermissionDenied(
                "This organization requires two-factor authentication: turn it on for your "
                "account (POST /api/v1/me/mfa/totp/).",
                code="mfa_required",
            )
        action = self.required_action(request.method)
        if action is None:
            raise exceptions.PermissionDenied("This method is not available here.")
        kind = principal_kind(request)
        if not allows_principal(kind, action):
            # SECURITY: the one place every org route checks the matrix's principal
            # column. Actions that change who may act, what the organization pays or
            # where its secrets go are for people: a leaked key must not mint a
            # successor, invite a human or redirect a credential.
            if kind == Principal.API_KEY:
                raise exceptions.PermissionDenied(
                    f"API keys may not perform `{action}`: only a person signed in may"
                    " (docs/permissions.md).",
                    code="api_key_not_allowed",
                )
            raise exceptions.PermissionDenied(f"`{action}` is not available to a {kind.label}.")
        principal_allows = getattr(request.auth, "allows_action", None)
        if principal_allows is not None and not principal_allows(action):
            # An API key limited by scopes (integrations.apikeys.ApiKeyPrincipal).
            raise _ApiKeyScope(action)
        self.authorize(request, action, kwargs)
        if request.method not in SAFE_METHODS:
            ensure_writable(suspended=org.suspended)
        for hook in AFTER_AUTHORIZE:
            hook(self, request)

    @contextmanager
    def caller_context(self, request: Request) -> Iterator[OrgContext]:
        """The request's claims again (its user, or its API key with the key's capped
        role) for work that runs after the request's transaction: a streamed response.
        A 404 if the caller lost the organization meanwhile (a revoked key, a removed
        member)."""
        principal = request.auth if hasattr(request.auth, "enter_org") else None
        with tenant_context(
            user_id=request.user.id, org_slug=self.kwargs["org_slug"], principal=principal
        ) as org:
            if org is None:
                raise NotFound("This organization is no longer open to this caller.")
            yield org

    def authorize(self, request: Request, action: str, url_kwargs: dict[str, Any]) -> None:
        """Refuse (403) unless the caller's org role may perform ``action``."""
        if not allows(self.org.role, action):
            raise exceptions.PermissionDenied("Your role in this organization does not allow this.")

    @classmethod
    def required_action(cls, method: str) -> str | None:
        return cls.scope_map.get("GET" if method in ("HEAD", "OPTIONS") else method)

    @property
    def organization_id(self) -> uuid.UUID:
        return self.org.organization_id

    def get_org_object(self, queryset: QuerySet[Any] | type[Model], **lookup: Any) -> Any:
        """An object of the current organization, or 404 (RLS would hide others anyway)."""
        return get_object_or_404(queryset, organization_id=self.organization_id, **lookup)
