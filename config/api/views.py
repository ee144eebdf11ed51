from __future__ import annotations

from django.db import DatabaseError, connection
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView


class HealthView(APIView):
    """Liveness and readiness: the database answers, as a role RLS applies to."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes: list = []

    @extend_schema(
        responses=inline_serializer(
            "Health",
            {"status": serializers.CharField(), "database": serializers.CharField()},
        )
    )
    def get(self, request: Request) -> Response:
        try:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT rolbypassrls OR rolsuper FROM pg_roles WHERE rolname = current_user"
                )
                (bypasses_rls,) = cursor.fetchone()
        except DatabaseError:
            return Response({"status": "error", "database": "unavailable"}, status=503)
        if bypasses_rls:
            # SECURITY: serving with a role that skips RLS would expose every tenant.
            return Response({"status": "error", "database": "role bypasses RLS"}, status=503)
        return Response({"status": "ok", "database": "ok"})
