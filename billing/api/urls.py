"""Routes of the billing app (included under ``/api/v1/``)."""

from django.urls import URLPattern, URLResolver, path

from billing.api import views

org = "orgs/<slug:org_slug>/"

urlpatterns: list[URLPattern | URLResolver] = [
    path(f"{org}billing/", views.BillingView.as_view(), name="billing"),
    path(f"{org}billing/usage/", views.UsageView.as_view(), name="billing-usage"),
    path(f"{org}billing/invoices/", views.InvoiceListView.as_view(), name="billing-invoices"),
    path(f"{org}billing/checkout/", views.CheckoutView.as_view(), name="billing-checkout"),
    path(f"{org}billing/portal/", views.PortalView.as_view(), name="billing-portal"),
    path(f"{org}cost-estimates/", views.CostEstimateListView.as_view(), name="cost-estimate-list"),
    path("billing/plans/", views.PlanCatalogView.as_view(), name="billing-plans"),
    path("billing/stripe/webhook/", views.stripe_webhook, name="stripe-webhook"),
]
