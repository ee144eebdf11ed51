"""Mappings and jobs of an integration (issue 12 §5), and a site's deployment integration.

``/api/v1/orgs/{org_slug}/integrations/{integration_id}/mappings/`` and ``.../jobs/``:
members and up read, admins and up write and run (RLS says the same).
"""

from __future__ import annotations

import uuid
from typing import Any

from django.db.models import QuerySet
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from config.api.filters import FilterSet
from config.api.serializers import InputSerializer, validated
from integrations import sync
from integrations.models import DataMapping, Integration, IntegrationJob, Transform
from organizations.api.base import ListAPIMixin, OrgScopedAPIView

# --- serializers ------------------------------------------------------------------------


class DataMappingSerializer(serializers.ModelSerializer):
    integration = serializers.UUIDField(source="integration_id", read_only=True)
    default = serializers.JSONField(allow_null=True, required=False)

    class Meta:
        model = DataMapping
        fields = [
            "id",
            "integration",
            "source_field",
            "target_field",
            "transform",
            "map_table",
            "required",
            "default",
            "order",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class DataMappingInputSerializer(InputSerializer):
    source_field = serializers.CharField(max_length=200)
    target_field = serializers.RegexField(r"^[A-Za-z_][A-Za-z0-9_]{0,99}$")
    transform = serializers.ChoiceField(choices=Transform.choices, default=Transform.NONE)
    map_table = serializers.DictField(required=False, default=dict)
    required = serializers.BooleanField(default=False)
    default = serializers.JSONField(required=False, allow_null=True, default=None)
    order = serializers.IntegerField(min_value=0, max_value=10_000, default=0)


class DataMappingUpdateSerializer(DataMappingInputSerializer):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for f in self.fields.values():
            f.required = False
            f.default = serializers.empty


class DryRunSerializer(InputSerializer):
    record = serializers.JSONField(help_text="A sample source record (a JSON object).")


class DryRunResultSerializer(serializers.Serializer):
    valid = serializers.BooleanField()
    record = serializers.JSONField()
    errors = serializers.DictField(child=serializers.ListField(child=serializers.CharField()))


class IntegrationJobSerializer(serializers.ModelSerializer):
    integration = serializers.UUIDField(source="integration_id", read_only=True)
    created_by = serializers.UUIDField(source="created_by_id", read_only=True, allow_null=True)

    class Meta:
        model = IntegrationJob
        fields = [
            "id",
            "integration",
            "kind",
            "status",
            "progress",
            "cursor",
            "records_read",
            "records_written",
            "records_failed",
            "error",
            "failed_records",
            "cancel_requested_at",
            "created_by",
            "started_at",
            "finished_at",
            "created_at",
        ]
        read_only_fields = fields


class JobStartSerializer(InputSerializer):
    kind = serializers.ChoiceField(
        choices=IntegrationJob.Kind.choices, default=IntegrationJob.Kind.SYNC
    )


# --- views --------------------------------------------------------------------------------


class _IntegrationScoped(OrgScopedAPIView):
    def integration(self, integration_id: uuid.UUID) -> Integration:
        return self.get_org_object(Integration, id=integration_id)


class DataMappingFilter(FilterSet):
    transform = filters.ChoiceFilter(choices=Transform.choices)
    target_field = filters.CharFilter()

    class Meta:
        model = DataMapping
        fields = ["transform", "target_field"]


class DataMappingListView(ListAPIMixin, _IntegrationScoped):
    """An integration's field mappings, in order; add one."""

    scope_map = {"GET": "integration.list", "POST": "data_mapping.write"}
    queryset = DataMapping.objects.none()
    serializer_class = DataMappingSerializer
    filterset_class = DataMappingFilter
    ordering_fields = ("created_at", "order", "source_field", "target_field")

    def scoped_queryset(self) -> QuerySet[DataMapping]:
        integration = self.integration(self.kwargs["integration_id"])
        return DataMapping.objects.filter(
            organization_id=self.organization_id, integration_id=integration.id
        )

    @extend_schema(request=DataMappingInputSerializer, responses={201: DataMappingSerializer})
    def post(self, request: Request, org_slug: str, integration_id: uuid.UUID) -> Response:
        data = validated(DataMappingInputSerializer, request)
        mapping = sync.data_mapping_create(
            actor=request.user, integration=self.integration(integration_id), **data
        )
        return Response(DataMappingSerializer(mapping).data, status=status.HTTP_201_CREATED)


class DataMappingDetailView(_IntegrationScoped):
    scope_map = {
        "GET": "integration.list",
        "PATCH": "data_mapping.write",
        "DELETE": "data_mapping.write",
    }
    serializer_class = DataMappingSerializer

    def mapping(self, integration_id: uuid.UUID, mapping_id: uuid.UUID) -> DataMapping:
        integration = self.integration(integration_id)
        return self.get_org_object(DataMapping, integration_id=integration.id, id=mapping_id)

    def get(
        self, request: Request, org_slug: str, integration_id: uuid.UUID, mapping_id: uuid.UUID
    ) -> Response:
        return Response(DataMappingSerializer(self.mapping(integration_id, mapping_id)).data)

    @extend_schema(request=DataMappingUpdateSerializer, responses=DataMappingSerializer)
    def patch(
        self, request: Request, org_slug: str, integration_id: uuid.UUID, mapping_id: uuid.UUID
    ) -> Response:
        mapping = self.mapping(integration_id, mapping_id)
        data = validated(DataMappingUpdateSerializer, request)
        mapping = sync.data_mapping_update(actor=request.user, mapping=mapping, **data)
        return Response(DataMappingSerializer(mapping).data)

    def delete(
        self, request: Request, org_slug: str, integration_id: uuid.UUID, mapping_id: uuid.UUID
    ) -> Response:
        sync.data_mapping_delete(
            actor=request.user, mapping=self.mapping(integration_id, mapping_id)
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class DataMappingDryRunView(_IntegrationScoped):
    """Apply the integration's mappings to a sample record: nothing is written."""

    scope_map = {"POST": "data_mapping.write"}
    serializer_class = DryRunResultSerializer

    @extend_schema(request=DryRunSerializer, responses=DryRunResultSerializer)
    def post(self, request: Request, org_slug: str, integration_id: uuid.UUID) -> Response:
        data = validated(DryRunSerializer, request)
        mappings = sync.mappings_of(self.integration(integration_id))
        record, errors = sync.apply_mappings(mappings, data["record"])
        return Response({"valid": not errors, "record": record, "errors": errors})


class IntegrationJobFilter(FilterSet):
    status = filters.ChoiceFilter(choices=IntegrationJob.Status.choices)
    kind = filters.ChoiceFilter(choices=IntegrationJob.Kind.choices)

    class Meta:
        model = IntegrationJob
        fields = ["status", "kind"]


class IntegrationJobListView(ListAPIMixin, _IntegrationScoped):
    """An integration's jobs, newest first; run one (409 if one is queued or running)."""

    scope_map = {"GET": "integration.list", "POST": "integration_job.run"}
    queryset = IntegrationJob.objects.none()
    serializer_class = IntegrationJobSerializer
    filterset_class = IntegrationJobFilter
    ordering_fields = ("created_at", "updated_at")

    def scoped_queryset(self) -> QuerySet[IntegrationJob]:
        integration = self.integration(self.kwargs["integration_id"])
        return IntegrationJob.objects.filter(
            organization_id=self.organization_id, integration_id=integration.id
        )

    @extend_schema(request=JobStartSerializer, responses={202: IntegrationJobSerializer})
    def post(self, request: Request, org_slug: str, integration_id: uuid.UUID) -> Response:
        data = validated(JobStartSerializer, request)
        job = sync.integration_job_start(
            actor=request.user, integration=self.integration(integration_id), **data
        )
        return Response(IntegrationJobSerializer(job).data, status=status.HTTP_202_ACCEPTED)


class IntegrationJobDetailView(_IntegrationScoped):
    scope_map = {"GET": "integration.list"}
    serializer_class = IntegrationJobSerializer

    def get(
        self,
        request: Request,
        org_slug: str,
        integration_id: uuid.UUID,
        integration_job_id: uuid.UUID,
    ) -> Response:
        integration = self.integration(integration_id)
        job = self.get_org_object(
            IntegrationJob, integration_id=integration.id, id=integration_job_id
        )
        return Response(IntegrationJobSerializer(job).data)


class IntegrationJobCancelView(_IntegrationScoped):
    """Cancel a queued job now, or a running one at its next page."""

    scope_map = {"POST": "integration_job.run"}
    serializer_class = IntegrationJobSerializer

    @extend_schema(request=None, responses=IntegrationJobSerializer)
    def post(
        self,
        request: Request,
        org_slug: str,
        integration_id: uuid.UUID,
        integration_job_id: uuid.UUID,
    ) -> Response:
        integration = self.integration(integration_id)
        job = self.get_org_object(
            IntegrationJob, integration_id=integration.id, id=integration_job_id
        )
        job = sync.integration_job_cancel(actor=request.user, job=job)
        return Response(IntegrationJobSerializer(job).data)


# --- a site's deployment integration ------------------------------------------------------
