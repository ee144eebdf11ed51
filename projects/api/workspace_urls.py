"""Workspace routes under ``/api/v1/orgs/{org_slug}/``: projects, members, favorites,
the project document, files, revisions and snapshots."""

from django.urls import path

from projects.api import workspace_views as views

org = "orgs/<slug:org_slug>/"
project = f"{org}projects/<slug:project_slug>/"
file = f"{project}files/<uuid:file_id>/"
snapshot = f"{project}snapshots/<uuid:snapshot_id>/"

urlpatterns = [
    path(f"{org}projects/", views.ProjectListView.as_view(), name="project-list"),
    path(project, views.ProjectDetailView.as_view(), name="project-detail"),
    path(f"{project}archive/", views.ProjectArchiveView.as_view(), name="project-archive"),
    path(f"{project}favorite/", views.ProjectFavoriteView.as_view(), name="project-favorite"),
    path(f"{project}document/", views.ProjectDocumentView.as_view(), name="project-document"),
    path(f"{project}members/", views.ProjectMemberListView.as_view(), name="project-member-list"),
    path(
        f"{project}members/<uuid:project_member_id>/",
        views.ProjectMemberDetailView.as_view(),
        name="project-member-detail",
    ),
    path(f"{project}files/", views.FileListView.as_view(), name="file-list"),
    path(file, views.FileDetailView.as_view(), name="file-detail"),
    path(f"{file}revisions/", views.RevisionListView.as_view(), name="file-revision-list"),
    path(
        f"{file}revisions/<int:number>/",
        views.RevisionDetailView.as_view(),
        name="file-revision-detail",
    ),
    path(f"{file}restore/", views.FileRestoreView.as_view(), name="file-restore"),
    path(f"{file}diff/", views.FileDiffView.as_view(), name="file-diff"),
    path(f"{project}snapshots/", views.SnapshotListView.as_view(), name="snapshot-list"),
    path(snapshot, views.SnapshotDetailView.as_view(), name="snapshot-detail"),
    path(f"{snapshot}restore/", views.SnapshotRestoreView.as_view(), name="snapshot-restore"),
]
