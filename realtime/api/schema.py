"""OpenAPI: the feed's one-time ticket (``?ticket=``, for ``EventSource``)."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class TicketAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "realtime.tickets.TicketAuthentication"
    name = "eventTicket"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "query",
            "name": "ticket",
            "description": "A one-time ticket from `POST …/events/tickets/` (valid 30 s).",
        }
