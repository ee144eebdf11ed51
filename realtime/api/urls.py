from django.urls import path

from realtime.api.views import EventStreamView, EventTicketView

urlpatterns = [
    path("orgs/<slug:org_slug>/events/", EventStreamView.as_view(), name="org-events"),
    path(
        "orgs/<slug:org_slug>/events/tickets/", EventTicketView.as_view(), name="org-event-tickets"
    ),
]
