"""The billing API under ``/api/v1/orgs/{org_slug}/``: plan, usage, invoices,
checkout and portal sessions, cost estimates; and the Stripe webhook receiver."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle
from rest_framework.views import APIView

from billing import selectors, services
from billing.api.serializers import (
    BillingSerializer,
    CheckoutSerializer,
    CostEstimateCreateSerializer,
    CostEstimateSerializer,
    InvoiceSerializer,
    PlanCatalogSerializer,
    StripeSessionSerializer,
    UsageSerializer,
)
from billing.models import CostEstimate, Invoice
from billing.webhooks import stripe_webhook_handle
from config.api.exceptions import error_body
from config.api.serializers import validated
from config.errors import DomainError
from organizations.api.base import ListAPIMixin, OrgScopedAPIView


class PlanCatalogView(APIView):
    """The public plan catalog (code, name, price, limits, features), for a pricing or
    upgrade page: no credentials needed, throttled per client address (``THROTTLE_ANON``)."""

    # NOTE: public on purpose (a pricing page is shown before sign-in); it holds no
    # tenant data, and credentials sent anyway are not read, so every caller shares
    # one throttle per address.
    authentication_classes: list[type] = []
    permission_classes = [AllowAny]
    throttle_classes = [AnonRateThrottle]

    @extend_schema(responses=PlanCatalogSerializer, auth=[])
    def get(self, request: Request) -> Response:
        return Response(PlanCatalogSerializer({"results": selectors.plan_catalog()}).data)


class _BillingView(OrgScopedAPIView):
    # Billing pages stay reachable when the API-call quota is used up (to upgrade).
    billing_exempt = True


class BillingView(_BillingView):
    """The plan in force, the subscription, and every metric's limit and use."""

    scope_map = {"GET": "billing.view"}

    @extend_schema(responses=BillingSerializer)
    def get(self, request: Request, org_slug: str) -> Response:
        data = selectors.billing_overview(organization_id=self.organization_id)
        return Response(BillingSerializer(data).data)


class UsageView(_BillingView):
    """Use per metric against the plan's limits (every member)."""

    scope_map = {"GET": "billing.usage"}

    @extend_schema(responses=UsageSerializer)
    def get(self, request: Request, org_slug: str) -> Response:
        data = selectors.usage_report(organization_id=self.organization_id)
        return Response(UsageSerializer(data).data)


class InvoiceListView(ListAPIMixin, _BillingView):
    """Invoices mirrored from Stripe, newest first."""

    scope_map = {"GET": "billing.invoices"}
    queryset = Invoice.objects.none()
    serializer_class = InvoiceSerializer
    ordering_fields = ("created_at", "total")

    def scoped_queryset(self) -> Any:
        return selectors.invoices_of(organization_id=self.organization_id)


class CheckoutView(_BillingView):
    """Start a Stripe Checkout for a plan; answers the URL to send the customer to.
    The plan changes only when Stripe's webhook confirms the subscription."""

    scope_map = {"POST": "billing.checkout"}

    @extend_schema(request=CheckoutSerializer, responses={201: StripeSessionSerializer})
    def post(self, request: Request, org_slug: str) -> Response:
        data = validated(CheckoutSerializer, request)
        session = services.checkout_start(
            actor=request.user,
            organization_id=self.organization_id,
            plan=data["plan"],
            success_url=settings.BILLING_SUCCESS_URL,
            cancel_url=settings.BILLING_CANCEL_URL,
        )
        return Response(session, status=status.HTTP_201_CREATED)


class PortalView(_BillingView):
    """Open the Stripe customer portal (payment method, cancellation, invoices)."""

    scope_map = {"POST": "billing.portal"}

    @extend_schema(request=None, responses={201: StripeSessionSerializer})
    def post(self, request: Request, org_slug: str) -> Response:
        session = services.portal_start(
            actor=request.user,
            organization_id=self.organization_id,
            return_url=settings.BILLING_CANCEL_URL,
        )
        return Response(session, status=status.HTTP_201_CREATED)


class CostEstimateListView(ListAPIMixin, OrgScopedAPIView):
    """Cost estimates (yours; owners and admins see everyone's); calculate a new one."""

    scope_map = {"GET": "cost_estimate.list", "POST": "cost_estimate.create"}
    queryset = CostEstimate.objects.none()
    serializer_class = CostEstimateSerializer
    ordering_fields = ("created_at", "title", "total")

    def scoped_queryset(self) -> Any:
        return selectors.cost_estimates_of(organization_id=self.organization_id)

    @extend_schema(request=CostEstimateCreateSerializer, responses={201: CostEstimateSerializer})
    def post(self, request: Request, org_slug: str) -> Response:
        data = dict(validated(CostEstimateCreateSerializer, request))
        title = data.pop("title")
        data["items"] = [dict(item) for item in data["items"]]
        estimate = services.cost_estimate_create(
            actor=request.user, organization_id=self.organization_id, title=title, inputs=data
        )
        return Response(CostEstimateSerializer(estimate).data, status=status.HTTP_201_CREATED)


@csrf_exempt
@require_POST
@transaction.non_atomic_requests
def stripe_webhook(request: HttpRequest) -> JsonResponse:
    """Stripe's deliveries: no session, no CSRF token; the signature is the authentication.
    The body is read raw (the signature covers its exact bytes)."""
    try:
        outcome = stripe_webhook_handle(
            payload=request.body, signature=request.headers.get("Stripe-Signature")
        )
    except DomainError as exc:
        return JsonResponse(error_body(exc.code, exc.message, exc.details), status=exc.status_code)
    except Exception:
        return JsonResponse(
            error_body("webhook_failed", "The event could not be processed; retry later."),
            status=500,
        )
    return JsonResponse({"received": True, "outcome": outcome})
