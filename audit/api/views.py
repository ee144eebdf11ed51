from __future__ import annotations

from typing import Any

import django_filters
from rest_framework import serializers

from audit.models import AuditEvent
from config.api.filters import FilterSet
from organizations.api.base import ListAPIMixin, OrgScopedAPIView


class AuditEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = AuditEvent
        fields = [
            "id",
            "sequence",
            "action",
            "actor_type",
            "actor",
            "actor_label",
            "target_type",
            "target_id",
            "changes",
            "ip_address",
            "user_agent",
            "request_id",
            "created_at",
            "hash",
        ]
        read_only_fields = fields


class AuditEventFilter(FilterSet):
    action = django_filters.CharFilter()
    action_prefix = django_filters.CharFilter(field_name="action", lookup_expr="startswith")
    actor = django_filters.UUIDFilter(field_name="actor_id")
    target_type = django_filters.CharFilter()
    target_id = django_filters.CharFilter()
    created_after = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = AuditEvent
        fields: list[str] = []


class AuditEventListView(ListAPIMixin, OrgScopedAPIView):
    """The organization's audit trail, newest first."""

    scope_map = {"GET": "audit.list"}
    queryset = AuditEvent.objects.none()
    serializer_class = AuditEventSerializer
    filterset_class = AuditEventFilter
    ordering_fields = ("created_at", "sequence")

    def scoped_queryset(self) -> Any:
        return AuditEvent.objects.filter(organization_id=self.organization_id)
