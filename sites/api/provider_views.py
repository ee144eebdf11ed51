"""Where a site deploys: its deployment integration (Netlify/Vercel) or ``local``.

Sites own the choice (a column of the site); integrations only provide the
adapters, so this route lives with the sites (it was in integrations' sync views).
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from config.api.serializers import InputSerializer, validated
from integrations.models import Integration
from organizations.api.base import OrgScopedAPIView
from sites.models import Site
from sites.services.sites import site_deployment_integration_set


class SiteDeploymentIntegrationSerializer(InputSerializer):
    integration_id = serializers.UUIDField(
        allow_null=True, help_text="A netlify or vercel integration; null: the local provider."
    )


class SiteDeploymentIntegrationResultSerializer(serializers.Serializer):
    site = serializers.CharField()
    integration_id = serializers.UUIDField(allow_null=True)
    provider = serializers.CharField()


class SiteDeploymentIntegrationView(OrgScopedAPIView):
    """Where the site deploys: a Netlify/Vercel integration, or the built-in ``local``."""

    scope_map = {"PUT": "site.deployment_integration"}
    serializer_class = SiteDeploymentIntegrationResultSerializer

    @extend_schema(
        request=SiteDeploymentIntegrationSerializer,
        responses=SiteDeploymentIntegrationResultSerializer,
    )
    def put(self, request: Request, org_slug: str, site_slug: str) -> Response:
        site = self.get_org_object(Site.objects.defer("search"), slug=site_slug)
        data = validated(SiteDeploymentIntegrationSerializer, request)
        integration = None
        if data["integration_id"] is not None:
            integration = self.get_org_object(Integration, id=data["integration_id"])
        site_deployment_integration_set(actor=request.user, site=site, integration=integration)
        return Response(
            {
                "site": site.slug,
                "integration_id": integration.id if integration else None,
                "provider": integration.provider if integration else "local",
            }
        )
