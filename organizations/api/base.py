"""The API's base views: where the tenant is resolved, once per request.

Order inside the request transaction (``ATOMIC_REQUESTS``):

1. DRF authenticates (JWT bound to a session, or an organization API key) and
   applies throttles;
2. :class:`UserScopedAPIView` claims the user; :class:`OrgScopedAPIView` claims
   the user *and* the organization named in the URL with one statement
   (``app.enter_org``), which answers the caller's role — or nothing, and then
   the request is a 404 (never 403: another tenant's existence is not revealed);
3. the view's ``scope_map`` names the action of the HTTP method and the
   permission matrix decides; a suspended organization refuses writes.

A view whose method is missing from ``scope_map`` refuses the request, and the
route-matrix test fails: nothing is reachable without a declared action.
"""

from __future__ import annotations

import uuid
from typing import Any, ClassVar

from django.db.models import Model, QuerySet
from django.shortcuts import get_object_or_404
from rest_framework import exceptions, generics, mixins
from rest_framework.request import Request

from organizations.permissions import allows
from organizations.tenancy import OrgContext, enter_org, set_user_claim

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


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


class ListAPIMixin(mixins.ListModelMixin):
    """``GET`` lists :meth:`get_queryset`, filtered and cursor-paginated."""

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
        action = self.required_action(request.method)
        if action is None:
            raise exceptions.PermissionDenied("This method is not available here.")
        principal_allows = getattr(request.auth, "allows_action", None)
        if principal_allows is not None and not principal_allows(action):
            # An API key limited by scopes (integrations.apikeys.ApiKeyPrincipal).
            raise exceptions.PermissionDenied(
                "This API key's scopes do not cover this.", code="api_key_scope"
            )
        self.authorize(request, action, kwargs)
        if org.suspended and request.method not in SAFE_METHODS:
            raise exceptions.PermissionDenied(
                "This organization is suspended and read-only.", code="organization_suspended"
            )

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
