"""Background jobs of a project: start, watch (status, progress, result), cancel."""

from __future__ import annotations

import uuid

from django.db.models import Prefetch, QuerySet
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from config.api.filters import FilterSet
from config.api.serializers import validated
from organizations.api.base import ListAPIMixin
from projects.api.activity_serializers import JobCreateSerializer, JobSerializer
from projects.api.base import ProjectScopedAPIView
from projects.models import Asset, Job
from projects.services import jobs


class JobFilter(FilterSet):
    status = filters.ChoiceFilter(choices=Job.Status.choices)
    type = filters.CharFilter()

    class Meta:
        model = Job
        fields = ["status", "type"]


class _JobViewMixin:
    def jobs(self) -> QuerySet[Job]:
        project = self.project  # type: ignore[attr-defined]
        outputs = Asset.objects.only("id", "organization_id", "job_id").order_by("created_at", "id")
        return (
            Job.objects.filter(organization_id=project.organization_id, project_id=project.pk)
            .select_related("created_by")
            .prefetch_related(Prefetch("assets", queryset=outputs))
        )

    def get_job(self, job_id: uuid.UUID) -> Job:
        return self.get_org_object(self.jobs(), id=job_id)  # type: ignore[attr-defined]


class JobListView(_JobViewMixin, ListAPIMixin, ProjectScopedAPIView):
    """The project's jobs, newest first (``?status=&type=``); start one.

    Types: ``project.export`` (no parameters: zips every live file into an
    output asset) and ``project.import_zip`` (``asset_id`` of an uploaded zip,
    optional ``message``). The job runs in the background; poll it for
    ``status`` and ``progress``.
    """

    scope_map = {"GET": "project.view", "POST": "project.jobs.write"}
    queryset = Job.objects.none()
    serializer_class = JobSerializer
    filterset_class = JobFilter
    ordering_fields = ("created_at", "updated_at")

    def scoped_queryset(self) -> QuerySet[Job]:
        return self.jobs()

    @extend_schema(request=JobCreateSerializer, responses={201: JobSerializer})
    def post(self, request: Request, org_slug: str, project_slug: str) -> Response:
        data = validated(JobCreateSerializer, request)
        job = jobs.job_create(actor=request.user, project=self.project, **data)
        return Response(JobSerializer(self.get_job(job.id)).data, status=status.HTTP_201_CREATED)


class JobDetailView(_JobViewMixin, ProjectScopedAPIView):
    scope_map = {"GET": "project.view"}
    serializer_class = JobSerializer

    def get(
        self, request: Request, org_slug: str, project_slug: str, job_id: uuid.UUID
    ) -> Response:
        return Response(JobSerializer(self.get_job(job_id)).data)


class JobCancelView(_JobViewMixin, ProjectScopedAPIView):
    """Cancel: a queued job at once; a processing one stops at its next check
    (``cancel_requested_at`` is set meanwhile). 409 ``job_finished`` once it ended."""

    scope_map = {"POST": "project.jobs.write"}
    serializer_class = JobSerializer

    @extend_schema(request=None, responses=JobSerializer)
    def post(
        self, request: Request, org_slug: str, project_slug: str, job_id: uuid.UUID
    ) -> Response:
        jobs.job_cancel(actor=request.user, job=self.get_job(job_id))
        return Response(JobSerializer(self.get_job(job_id)).data)
