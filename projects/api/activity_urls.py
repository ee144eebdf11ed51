"""Activity routes under ``/api/v1/orgs/{org_slug}/``: conversations and messages,
generations, jobs, assets, and the organization-wide search."""

from django.urls import path

from projects.api import ai_reply_views, ai_views, assets_views, jobs_views, search_views

org = "orgs/<slug:org_slug>/"
project = f"{org}projects/<slug:project_slug>/"
conversation = f"{project}conversations/<uuid:conversation_id>/"
job = f"{project}jobs/<uuid:job_id>/"
asset = f"{project}assets/<uuid:asset_id>/"

urlpatterns = [
    path(
        f"{project}conversations/",
        ai_views.ConversationListView.as_view(),
        name="conversation-list",
    ),
    path(conversation, ai_views.ConversationDetailView.as_view(), name="conversation-detail"),
    path(f"{conversation}messages/", ai_views.MessageListView.as_view(), name="message-list"),
    path(
        f"{conversation}reply/",
        ai_reply_views.ConversationReplyView.as_view(),
        name="conversation-reply",
    ),
    path(f"{project}generations/", ai_views.GenerationListView.as_view(), name="generation-list"),
    path(
        f"{project}generations/<uuid:generation_id>/",
        ai_views.GenerationDetailView.as_view(),
        name="generation-detail",
    ),
    path(
        f"{project}generations/<uuid:generation_id>/run/",
        ai_reply_views.GenerationRunView.as_view(),
        name="generation-run",
    ),
    path(f"{project}jobs/", jobs_views.JobListView.as_view(), name="job-list"),
    path(job, jobs_views.JobDetailView.as_view(), name="job-detail"),
    path(f"{job}cancel/", jobs_views.JobCancelView.as_view(), name="job-cancel"),
    path(f"{project}assets/", assets_views.AssetListView.as_view(), name="asset-list"),
    path(asset, assets_views.AssetDetailView.as_view(), name="asset-detail"),
    path(f"{asset}download/", assets_views.AssetDownloadView.as_view(), name="asset-download"),
    path(f"{org}search/", search_views.SearchView.as_view(), name="search"),
]
