"""Routes of the sites app (included under ``/api/v1/``)."""

from django.urls import URLPattern, URLResolver, path

from sites.api import library_views as library
from sites.api import provider_views, views

org = "orgs/<slug:org_slug>/"
site = f"{org}sites/<slug:site_slug>/"
page = f"{site}pages/<uuid:page_id>/"
version = f"{page}versions/<int:version_number>/"
deployment = f"{site}deployments/<uuid:deployment_id>/"
domain = f"{site}domains/<uuid:domain_id>/"

urlpatterns: list[URLPattern | URLResolver] = [
    path(f"{org}sites/", views.SiteListView.as_view(), name="site-list"),
    path(site, views.SiteDetailView.as_view(), name="site-detail"),
    path(f"{site}archive/", views.SiteArchiveView.as_view(), name="site-archive"),
    path(f"{site}publish/", views.SitePublishView.as_view(), name="site-publish"),
    path(f"{site}pages/", views.PageListView.as_view(), name="page-list"),
    path(page, views.PageDetailView.as_view(), name="page-detail"),
    path(f"{page}publish/", views.PagePublishView.as_view(), name="page-publish"),
    path(f"{page}unpublish/", views.PageUnpublishView.as_view(), name="page-unpublish"),
    path(f"{page}lock/", views.PageLockView.as_view(), name="page-lock"),
    path(f"{page}versions/", views.VersionListView.as_view(), name="page-version-list"),
    path(f"{page}versions/diff/", views.VersionDiffView.as_view(), name="page-version-diff"),
    path(version, views.VersionDetailView.as_view(), name="page-version-detail"),
    path(f"{version}revert/", views.VersionRevertView.as_view(), name="page-version-revert"),
    path(f"{page}comments/", views.CommentListView.as_view(), name="page-comment-list"),
    path(
        f"{page}comments/<uuid:comment_id>/",
        views.CommentDetailView.as_view(),
        name="page-comment-detail",
    ),
    path(f"{site}deployments/", views.DeploymentListView.as_view(), name="deployment-list"),
    path(
        f"{site}deployment-integration/",
        provider_views.SiteDeploymentIntegrationView.as_view(),
        name="site-deployment-integration",
    ),
    path(deployment, views.DeploymentDetailView.as_view(), name="deployment-detail"),
    path(
        f"{deployment}rollback/",
        views.DeploymentRollbackView.as_view(),
        name="deployment-rollback",
    ),
    path(f"{deployment}cancel/", views.DeploymentCancelView.as_view(), name="deployment-cancel"),
    path(f"{deployment}render/", views.DeploymentRenderView.as_view(), name="deployment-render"),
    path(f"{site}domains/", views.DomainListView.as_view(), name="domain-list"),
    path(domain, views.DomainDetailView.as_view(), name="domain-detail"),
    path(f"{domain}verify/", views.DomainVerifyView.as_view(), name="domain-verify"),
    path(f"{site}analytics/", views.AnalyticsListView.as_view(), name="site-analytics"),
    path(f"{org}components/", library.ComponentListView.as_view(), name="component-list"),
    path(
        f"{org}components/<uuid:component_id>/",
        library.ComponentDetailView.as_view(),
        name="component-detail",
    ),
    path(f"{org}sections/", library.SectionListView.as_view(), name="section-list"),
    path(
        f"{org}sections/<uuid:section_id>/",
        library.SectionDetailView.as_view(),
        name="section-detail",
    ),
    path(f"{org}templates/", library.TemplateListView.as_view(), name="template-list"),
    path(
        f"{org}templates/<uuid:template_id>/",
        library.TemplateDetailView.as_view(),
        name="template-detail",
    ),
    path("templates/", library.PublicTemplateListView.as_view(), name="public-template-list"),
]
