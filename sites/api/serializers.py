"""Input and output serializers of the sites API."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from config.api.serializers import InputSerializer
from sites import dns
from sites.models import (
    Component,
    Deployment,
    Domain,
    Page,
    PageAnalyticsDaily,
    PageComment,
    PageVersion,
    Section,
    Site,
    Template,
)

# --- output -------------------------------------------------------------------------------


class SiteUserSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    email = serializers.EmailField()
    name = serializers.CharField()


class SiteSerializer(serializers.ModelSerializer):
    created_by = SiteUserSerializer(allow_null=True, read_only=True)
    public_url = serializers.SerializerMethodField()
    pending_changes = serializers.SerializerMethodField(
        help_text="Published changes that production does not serve yet (see "
        "changes_pending_since). While production_locked, only a manual production "
        "deployment serves them."
    )

    class Meta:
        model = Site
        fields = [
            "id",
            "name",
            "slug",
            "description",
            "settings",
            "status",
            "template",
            "live_deployment",
            "production_locked",
            "pending_changes",
            "changes_pending_since",
            "public_url",
            "created_by",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_public_url(self, site: Site) -> str:
        return f"/p/{self.context.get('org_slug', '')}/{site.slug}/"

    def get_pending_changes(self, site: Site) -> bool:
        return site.changes_pending_since is not None


class PageSerializer(serializers.ModelSerializer):
    """A page without its content (lists)."""

    live_version = serializers.IntegerField(source="live_number", allow_null=True, read_only=True)
    scheduled_version = serializers.IntegerField(
        source="scheduled_number", allow_null=True, read_only=True
    )
    locked_by = SiteUserSerializer(allow_null=True, read_only=True)
    etag = serializers.CharField(read_only=True)

    class Meta:
        model = Page
        fields = [
            "id",
            "path",
            "title",
            "status",
            "has_unpublished_changes",
            "etag",
            "live_version",
            "scheduled_version",
            "go_live_at",
            "expire_at",
            "first_published_at",
            "last_published_at",
            "locked_by",
            "locked_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


# The page list reads ``.values()`` of these columns and shapes each row with
# ``page_list_item`` instead of instantiating pages, users and serializers (the same
# treatment as the project list; see docs/performance.md). A test holds every list item
# equal to the page's detail document without ``content`` and ``seo``.
PAGE_LIST_COLUMNS = (
    "id", "path", "title", "status", "has_unpublished_changes", "revision", "live_number",
    "scheduled_number", "go_live_at", "expire_at", "first_published_at", "last_published_at",
    "locked_by__id", "locked_by__email", "locked_by__name", "locked_at", "created_at",
    "updated_at",
)  # fmt: skip


def page_list_item(row: dict[str, Any]) -> dict[str, Any]:
    """``PageSerializer``'s document from one row of ``PAGE_LIST_COLUMNS``."""
    holder = row["locked_by__id"]
    return {
        "id": row["id"],
        "path": row["path"],
        "title": row["title"],
        "status": row["status"],
        "has_unpublished_changes": row["has_unpublished_changes"],
        "etag": f'"{row["revision"]}"',
        "live_version": row["live_number"],
        "scheduled_version": row["scheduled_number"],
        "go_live_at": row["go_live_at"],
        "expire_at": row["expire_at"],
        "first_published_at": row["first_published_at"],
        "last_published_at": row["last_published_at"],
        "locked_by": (
            {"id": holder, "email": row["locked_by__email"], "name": row["locked_by__name"]}
            if holder
            else None
        ),
        "locked_at": row["locked_at"],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
    }


class PageDetailSerializer(PageSerializer):
    class Meta(PageSerializer.Meta):
        fields = [*PageSerializer.Meta.fields, "content", "seo"]
        read_only_fields = fields


class VersionSerializer(serializers.ModelSerializer):
    author = SiteUserSerializer(allow_null=True, read_only=True)

    class Meta:
        model = PageVersion
        fields = ["id", "number", "path", "title", "sha256", "message", "author", "created_at"]
        read_only_fields = fields


class PublicationSerializer(VersionSerializer):
    """The version made, and what publishing it did to the live site."""

    state = serializers.ChoiceField(
        choices=["live", "scheduled"], help_text="Live now, or scheduled for live_at."
    )
    live_at = serializers.DateTimeField()
    deployment = serializers.UUIDField(
        allow_null=True,
        help_text="The production deployment publishing started (built-in host, production "
        "not locked); null when production waits (locked, another host, one in flight).",
    )

    class Meta(VersionSerializer.Meta):
        fields = [*VersionSerializer.Meta.fields, "state", "live_at", "deployment"]
        read_only_fields = fields

    @classmethod
    def of(cls, publication: Any) -> dict[str, Any]:
        data = dict(VersionSerializer(publication.version).data)
        return {
            **data,
            "state": publication.state,
            "live_at": serializers.DateTimeField().to_representation(publication.live_at),
            "deployment": publication.deployment.id if publication.deployment else None,
        }


class SitePublishedPageSerializer(serializers.Serializer):
    page = serializers.UUIDField()
    path = serializers.CharField()
    version = serializers.IntegerField()


class SitePublicationSerializer(serializers.Serializer):
    state = serializers.ChoiceField(choices=["live", "scheduled"])
    live_at = serializers.DateTimeField()
    deployment = serializers.UUIDField(allow_null=True)
    pages = SitePublishedPageSerializer(many=True)

    @classmethod
    def of(cls, publication: Any) -> dict[str, Any]:
        return cls(
            {
                "state": publication.state,
                "live_at": publication.live_at,
                "deployment": publication.deployment.id if publication.deployment else None,
                "pages": [
                    {"page": page.id, "path": page.path, "version": version.number}
                    for page, version in publication.published
                ],
            }
        ).data


class VersionDetailSerializer(VersionSerializer):
    class Meta(VersionSerializer.Meta):
        fields = [*VersionSerializer.Meta.fields, "content", "seo"]
        read_only_fields = fields


class VersionDiffSerializer(serializers.Serializer):
    from_number = serializers.IntegerField(source="from")
    to = serializers.IntegerField()
    diff = serializers.CharField(help_text="Unified diff of the two versions as JSON.")
    blocks = serializers.DictField(help_text="Block ids added, removed and changed.")


class CommentSerializer(serializers.ModelSerializer):
    author = SiteUserSerializer(allow_null=True, read_only=True)
    resolved_by = SiteUserSerializer(allow_null=True, read_only=True)
    version = serializers.IntegerField(source="version_number", allow_null=True, read_only=True)

    class Meta:
        model = PageComment
        fields = [
            "id",
            "parent",
            "block_id",
            "version",
            "body",
            "author",
            "resolved_at",
            "resolved_by",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class DeploymentSerializer(serializers.ModelSerializer):
    created_by = SiteUserSerializer(allow_null=True, read_only=True)
    live = serializers.SerializerMethodField()

    class Meta:
        model = Deployment
        fields = [
            "id",
            "environment",
            "status",
            "provider",
            "url",
            "external_id",
            "progress",
            "page_count",
            "trigger",
            "error",
            "live",
            "created_by",
            "created_at",
            "started_at",
            "finished_at",
        ]
        read_only_fields = fields

    def get_live(self, deployment: Deployment) -> bool:
        return self.context.get("live_deployment_id") == deployment.id


class DeploymentDetailSerializer(DeploymentSerializer):
    pages = serializers.SerializerMethodField()

    class Meta(DeploymentSerializer.Meta):
        fields = [*DeploymentSerializer.Meta.fields, "log", "pages"]
        read_only_fields = fields

    def get_pages(self, deployment: Deployment) -> list[dict[str, Any]]:
        return [
            {"path": pinned.path, "page": pinned.page_id, "version": pinned.version.number}
            for pinned in deployment.pinned_pages.all()
        ]


class DomainSerializer(serializers.ModelSerializer):
    verification = serializers.SerializerMethodField()

    class Meta:
        model = Domain
        fields = [
            "id",
            "hostname",
            "status",
            "is_primary",
            "verified_at",
            "last_checked_at",
            "verification",
            "created_at",
        ]
        read_only_fields = fields

    def get_verification(self, domain: Domain) -> dict[str, str]:
        """The DNS record that proves the hostname is yours (not a secret: it is public in DNS)."""
        return {
            "type": "TXT",
            "name": dns.record_name(domain.hostname),
            "value": dns.record_value(domain.verification_token),
        }


class AnalyticsSerializer(serializers.ModelSerializer):
    class Meta:
        model = PageAnalyticsDaily
        fields = ["page", "day", "views", "visitors"]
        read_only_fields = fields


class _LibrarySerializer(serializers.ModelSerializer):
    mine = serializers.SerializerMethodField()

    def get_mine(self, item: Any) -> bool:
        return item.organization_id == self.context.get("organization_id")


class ComponentSerializer(_LibrarySerializer):
    class Meta:
        model = Component
        fields = ["id", "name", "description", "content", "is_public", "mine", "created_at"]
        read_only_fields = fields


class SectionSerializer(ComponentSerializer):
    class Meta(ComponentSerializer.Meta):
        model = Section


class TemplatePageSummarySerializer(serializers.Serializer):
    path = serializers.CharField()
    title = serializers.CharField()
    blocks = serializers.IntegerField(help_text="Blocks on the page (an embed counts as one).")


class TemplateSerializer(_LibrarySerializer):
    """What the template picker shows: the pages a site made from it starts with, and
    how many blocks each has (from the stored JSON: no extra query)."""

    page_count = serializers.SerializerMethodField()
    block_count = serializers.SerializerMethodField()
    contents = serializers.SerializerMethodField()

    class Meta:
        model = Template
        fields = [
            "id",
            "name",
            "slug",
            "description",
            "is_public",
            "mine",
            "page_count",
            "block_count",
            "contents",
            "created_at",
        ]
        read_only_fields = fields

    @staticmethod
    def _pages(template: Template) -> list[dict[str, Any]]:
        pages = template.pages if isinstance(template.pages, list) else []
        return [page for page in pages if isinstance(page, dict)]

    def get_page_count(self, template: Template) -> int:
        return len(self._pages(template))

    def get_block_count(self, template: Template) -> int:
        return sum(item["blocks"] for item in self.get_contents(template))

    @extend_schema_field(TemplatePageSummarySerializer(many=True))
    def get_contents(self, template: Template) -> list[dict[str, Any]]:
        return [
            {
                "path": str(page.get("path") or "/"),
                "title": str(page.get("title") or "Untitled"),
                "blocks": len(page["content"]) if isinstance(page.get("content"), list) else 0,
            }
            for page in self._pages(template)
        ]


class TemplateDetailSerializer(TemplateSerializer):
    class Meta(TemplateSerializer.Meta):
        fields = [*TemplateSerializer.Meta.fields, "pages", "settings"]
        read_only_fields = fields


# --- input --------------------------------------------------------------------------------


class SiteCreateSerializer(InputSerializer):
    name = serializers.CharField(max_length=120)
    slug = serializers.CharField(max_length=60, required=False)
    description = serializers.CharField(max_length=2000, required=False, allow_blank=True)
    settings = serializers.DictField(required=False)
    template = serializers.UUIDField(required=False, allow_null=True)


class SiteUpdateSerializer(InputSerializer):
    name = serializers.CharField(max_length=120, required=False)
    slug = serializers.CharField(max_length=60, required=False)
    description = serializers.CharField(max_length=2000, required=False, allow_blank=True)
    settings = serializers.DictField(required=False)
    production_locked = serializers.BooleanField(
        required=False,
        help_text="Lock production (publishing stops deploying it) or unlock it (pending "
        "changes are deployed). Owners and admins.",
    )


class PageCreateSerializer(InputSerializer):
    path = serializers.CharField(max_length=300)
    title = serializers.CharField(max_length=200)
    content = serializers.JSONField(required=False)
    seo = serializers.JSONField(required=False)


class PageUpdateSerializer(InputSerializer):
    path = serializers.CharField(max_length=300, required=False)
    title = serializers.CharField(max_length=200, required=False)
    content = serializers.JSONField(required=False)
    seo = serializers.JSONField(required=False)
    expire_at = serializers.DateTimeField(required=False, allow_null=True)


class PublishSerializer(InputSerializer):
    message = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")
    go_live_at = serializers.DateTimeField(required=False, allow_null=True, default=None)
    expire_at = serializers.DateTimeField(required=False, allow_null=True, default=None)
    replace_schedule = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Replace a pending scheduled publication (409 schedule_pending without it).",
    )


class SitePublishSerializer(InputSerializer):
    pages = serializers.ListField(
        child=serializers.UUIDField(),
        required=False,
        allow_empty=False,
        max_length=500,
        help_text="The pages to publish; default: every page with unpublished changes.",
    )
    message = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")
    go_live_at = serializers.DateTimeField(required=False, allow_null=True, default=None)
    replace_schedule = serializers.BooleanField(required=False, default=False)


class CommentCreateSerializer(InputSerializer):
    body = serializers.CharField(max_length=10_000)
    block_id = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
    version = serializers.IntegerField(required=False, allow_null=True, default=None, min_value=1)
    parent = serializers.UUIDField(required=False, allow_null=True, default=None)


class CommentUpdateSerializer(InputSerializer):
    body = serializers.CharField(max_length=10_000, required=False)
    resolved = serializers.BooleanField(required=False)


class DeploymentCreateSerializer(InputSerializer):
    environment = serializers.ChoiceField(choices=Deployment.Environment.choices)


class DomainCreateSerializer(InputSerializer):
    hostname = serializers.CharField(max_length=253)


class DomainUpdateSerializer(InputSerializer):
    is_primary = serializers.BooleanField()


class BlockItemCreateSerializer(InputSerializer):
    name = serializers.CharField(max_length=120)
    description = serializers.CharField(max_length=2000, required=False, allow_blank=True)
    content = serializers.JSONField(required=False)
    is_public = serializers.BooleanField(required=False)


class BlockItemUpdateSerializer(InputSerializer):
    name = serializers.CharField(max_length=120, required=False)
    description = serializers.CharField(max_length=2000, required=False, allow_blank=True)
    content = serializers.JSONField(required=False)
    is_public = serializers.BooleanField(required=False)


class TemplateCreateSerializer(InputSerializer):
    name = serializers.CharField(max_length=120)
    slug = serializers.CharField(max_length=60, required=False)
    description = serializers.CharField(max_length=2000, required=False, allow_blank=True)
    pages = serializers.JSONField(required=False)
    settings = serializers.DictField(required=False)
    is_public = serializers.BooleanField(required=False)


class TemplateUpdateSerializer(InputSerializer):
    name = serializers.CharField(max_length=120, required=False)
    slug = serializers.CharField(max_length=60, required=False)
    description = serializers.CharField(max_length=2000, required=False, allow_blank=True)
    pages = serializers.JSONField(required=False)
    settings = serializers.DictField(required=False)
    is_public = serializers.BooleanField(required=False)
