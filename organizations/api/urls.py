from django.urls import path

from organizations.api import views

org = "orgs/<slug:org_slug>/"
urlpatterns = [
    path("orgs/", views.OrganizationListView.as_view(), name="org-list"),
    path(org, views.OrganizationDetailView.as_view(), name="org-detail"),
    path(f"{org}members/", views.MemberListView.as_view(), name="member-list"),
    path(f"{org}members/leave/", views.MemberLeaveView.as_view(), name="member-leave"),
    path(
        f"{org}members/<uuid:membership_id>/",
        views.MemberDetailView.as_view(),
        name="member-detail",
    ),
    path(f"{org}invitations/", views.InvitationListView.as_view(), name="invitation-list"),
    path(
        f"{org}invitations/<uuid:invitation_id>/",
        views.InvitationDetailView.as_view(),
        name="invitation-detail",
    ),
    path(
        f"{org}invitations/<uuid:invitation_id>/resend/",
        views.InvitationResendView.as_view(),
        name="invitation-resend",
    ),
    path("invitations/accept/", views.InvitationAcceptView.as_view(), name="invitation-accept"),
]
