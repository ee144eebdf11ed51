"""Routes under ``/api/v1/orgs/{org_slug}/``: projects and everything in them.

Two url modules, one per area: ``workspace_urls`` (projects, members,
favorites, files, revisions, snapshots, the project document) and
``activity_urls`` (conversations, generations, jobs, assets, search).
"""

from django.urls import include, path

urlpatterns = [
    path("", include("projects.api.workspace_urls")),
    path("", include("projects.api.activity_urls")),
]
