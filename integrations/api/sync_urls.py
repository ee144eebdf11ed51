"""Routes of mappings and sync jobs (added to ``integrations.api.urls``)."""

from django.urls import URLPattern, path

from integrations.api import sync_views as v

integration = "orgs/<slug:org_slug>/integrations/<uuid:integration_id>/"
job = f"{integration}jobs/<uuid:integration_job_id>/"

urlpatterns: list[URLPattern] = [
    path(f"{integration}mappings/", v.DataMappingListView.as_view(), name="data-mapping-list"),
    path(
        f"{integration}mappings/dry-run/",
        v.DataMappingDryRunView.as_view(),
        name="data-mapping-dry-run",
    ),
    path(
        f"{integration}mappings/<uuid:mapping_id>/",
        v.DataMappingDetailView.as_view(),
        name="data-mapping-detail",
    ),
    path(f"{integration}jobs/", v.IntegrationJobListView.as_view(), name="integration-job-list"),
    path(job, v.IntegrationJobDetailView.as_view(), name="integration-job-detail"),
    path(f"{job}cancel/", v.IntegrationJobCancelView.as_view(), name="integration-job-cancel"),
]
