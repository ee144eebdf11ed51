"""The project's URLs plus views that break the error contract or log on purpose
(used with ``@pytest.mark.urls("tests.api.contract_urls")``)."""

from __future__ import annotations

import logging
from typing import Any

import structlog
from django.urls import path
from rest_framework.request import Request
from rest_framework.response import Response

from config.api.exceptions import error_body
from config.errors import Conflict
from config.urls import handler400, handler403, handler404, handler500, urlpatterns
from organizations.api.base import OrgScopedAPIView

__all__ = ["handler400", "handler403", "handler404", "handler500", "urlpatterns"]


class UnregisteredCodeView(OrgScopedAPIView):
    scope_map = {"GET": "org.view"}

    def get(self, request: Request, **kwargs: Any) -> Response:
        raise Conflict("A code nobody registered.", code="made_up_by_a_test")


class WrongStatusView(OrgScopedAPIView):
    scope_map = {"GET": "org.view"}

    def get(self, request: Request, **kwargs: Any) -> Response:
        # slug_taken is registered as a 409.
        return Response(error_body("slug_taken", "Taken."), status=400)


class LoggingView(OrgScopedAPIView):
    """Logs through both front doors, then fails with a registered 409."""

    scope_map = {"GET": "org.view"}

    def get(self, request: Request, **kwargs: Any) -> Response:
        logging.getLogger("tests.contract").info("stdlib line inside the view")
        structlog.get_logger("tests.contract").info("structlog line inside the view", step=2)
        raise Conflict("Conflicts on purpose.")


class CrashingView(OrgScopedAPIView):
    scope_map = {"GET": "org.view"}

    def get(self, request: Request, **kwargs: Any) -> Response:
        raise RuntimeError("crashed on purpose")


urlpatterns = [
    path("test/orgs/<slug:org_slug>/unregistered/", UnregisteredCodeView.as_view()),
    path("test/orgs/<slug:org_slug>/wrong-status/", WrongStatusView.as_view()),
    path("test/orgs/<slug:org_slug>/logs/", LoggingView.as_view()),
    path("test/orgs/<slug:org_slug>/crash/", CrashingView.as_view()),
    *urlpatterns,
]
