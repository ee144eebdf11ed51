"""The website builder: sites, pages, immutable page versions, reusable blocks,
comments, analytics, deployments that pin versions, and custom domains.

Every table is a tenant table (:class:`organizations.models.TenantModel`);
references between them are composite ``(organization_id, x_id)`` foreign keys
added in ``migrations/0002_rls.py``, which also holds the policies. Three
invariants live in the database rather than in code:

* ``PageVersion`` and ``DeploymentPage`` are append-only (``append_only``: the
  runtime roles have no UPDATE/DELETE on them);
* at most one deployment per site and environment is in flight
  (``deployment_one_in_flight``, a partial unique index);
* a verified hostname belongs to one site in the whole installation
  (``domain_verified_hostname_unique``: the one deliberate cross-tenant unique).
"""

from __future__ import annotations

from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVector, SearchVectorField
from django.db import models

from organizations.models import TenantModel, append_only_user_fk, tenant_fk, user_fk


class Template(TenantModel):
    """A whole-site blueprint: its pages (``[{path, title, content, seo}]``) and settings.

    Owned by an organization; ``is_public`` makes it readable by every signed-in
    user (a second SELECT policy). A site made from another org's public template
    gets its own copy (``source`` points nowhere across tenants: it is a plain id).
    """

    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=60)
    description = models.TextField(blank=True, max_length=2000)
    pages = models.JSONField(default=list, blank=True)
    settings = models.JSONField(default=dict, blank=True)
    is_public = models.BooleanField(default=False)
    copied_from_id = models.UUIDField(null=True, blank=True)
    created_by = user_fk()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta(TenantModel.Meta):
        constraints = [
            *TenantModel.Meta.constraints,
            models.UniqueConstraint(fields=["organization", "slug"], name="template_unique_slug"),
        ]
        indexes = [
            models.Index(
                fields=["organization", "-created_at", "-id"], name="template_org_created_idx"
            ),
            models.Index(
                fields=["-created_at", "-id"],
                condition=models.Q(is_public=True),
                name="template_public_idx",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class _Block(TenantModel):
    """A reusable list of blocks (component or section), org-owned or public."""

    name = models.CharField(max_length=120)
    description = models.TextField(blank=True, max_length=2000)
    content = models.JSONField(default=list, blank=True)
    is_public = models.BooleanField(default=False)
    created_by = user_fk()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta(TenantModel.Meta):
        abstract = True

    def __str__(self) -> str:
        return self.name


class Component(_Block):
    class Meta(_Block.Meta):
        indexes = [
            models.Index(
                fields=["organization", "-created_at", "-id"], name="component_org_created_idx"
            ),
            models.Index(
                fields=["-created_at", "-id"],
                condition=models.Q(is_public=True),
                name="component_public_idx",
            ),
        ]


class Section(_Block):
    class Meta(_Block.Meta):
        indexes = [
            models.Index(
                fields=["organization", "-created_at", "-id"], name="section_org_created_idx"
            ),
            models.Index(
                fields=["-created_at", "-id"],
                condition=models.Q(is_public=True),
                name="section_public_idx",
            ),
        ]


class Site(TenantModel):
    class Status(models.TextChoices):
        ACTIVE = "active"
        ARCHIVED = "archived"

    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=60)
    description = models.TextField(blank=True, max_length=2000)
    settings = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    template = tenant_fk("sites.Template", null=True)
    # Changed only by a production deployment becoming ready, or a rollback.
    live_deployment = tenant_fk("sites.Deployment", null=True)
    # Deploy through this Netlify/Vercel integration instead of the built-in
    # ``local`` provider (integrations/providers; composite FK in 0003).
    deployment_integration = tenant_fk("integrations.Integration", null=True)
    # Netlify's "stop auto publishing": while set, publishing no longer deploys
    # production by itself (only a manual deployment moves it). A rollback sets it;
    # only an explicit update clears it. Database defaults too, for bulk loaders (COPY).
    production_locked = models.BooleanField(default=False, db_default=False)
    # Since when the published pages differ from what production was last asked to
    # serve (set by publish, unpublish, go-live, expiry, a failed or rolled-back
    # production; cleared when a production deployment pins the pages). With the
    # built-in host and no lock, the scheduler deploys such a site (``deploy_pending``).
    changes_pending_since = models.DateTimeField(null=True, blank=True)
    created_by = user_fk()
    updated_at = models.DateTimeField(auto_now=True)
    search = models.GeneratedField(
        expression=SearchVector("name", "slug", "description", config="english"),
        output_field=SearchVectorField(),
        db_persist=True,
    )

    class Meta(TenantModel.Meta):
        constraints = [
            *TenantModel.Meta.constraints,
            models.UniqueConstraint(fields=["organization", "slug"], name="site_unique_org_slug"),
        ]
        indexes = [
            models.Index(
                fields=["organization", "-created_at", "-id"], name="site_org_created_idx"
            ),
            GinIndex(fields=["search"], name="site_search_idx"),
            # The scheduler's scan for sites to deploy (across tenants, as the system).
            models.Index(
                fields=["changes_pending_since"],
                condition=models.Q(changes_pending_since__isnull=False),
                name="site_changes_pending_idx",
            ),
        ]

    def __str__(self) -> str:
        return self.slug


class Page(TenantModel):
    """A path of a site. ``content`` is the draft; what is live is ``live_version``."""

    class Status(models.TextChoices):
        DRAFT = "draft"
        SCHEDULED = "scheduled"
        PUBLISHED = "published"
        ARCHIVED = "archived"

    site = tenant_fk("sites.Site", related_name="pages")
    path = models.CharField(max_length=300)
    title = models.CharField(max_length=200)
    content = models.JSONField(default=list, blank=True)
    seo = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    has_unpublished_changes = models.BooleanField(default=True)
    # Bumped by every draft write: the ETag of the page (If-Match on writes).
    revision = models.PositiveIntegerField(default=1)
    live_version = tenant_fk("sites.PageVersion", null=True)
    scheduled_version = tenant_fk("sites.PageVersion", null=True)
    go_live_at = models.DateTimeField(null=True, blank=True)
    expire_at = models.DateTimeField(null=True, blank=True)
    first_published_at = models.DateTimeField(null=True, blank=True)
    last_published_at = models.DateTimeField(null=True, blank=True)
    locked_by = user_fk()
    locked_at = models.DateTimeField(null=True, blank=True)
    created_by = user_fk()
    updated_by = user_fk()
    updated_at = models.DateTimeField(auto_now=True)
    search = models.GeneratedField(
        expression=SearchVector("title", "path", config="english"),
        output_field=SearchVectorField(),
        db_persist=True,
    )

    class Meta(TenantModel.Meta):
        constraints = [
            *TenantModel.Meta.constraints,
            models.UniqueConstraint(
                fields=["organization", "site", "path"], name="page_unique_site_path"
            ),
        ]
        indexes = [
            models.Index(
                fields=["go_live_at"],
                condition=models.Q(scheduled_version__isnull=False),
                name="page_due_go_live_idx",
            ),
            models.Index(
                fields=["expire_at"],
                condition=models.Q(expire_at__isnull=False),
                name="page_due_expiry_idx",
            ),
            GinIndex(fields=["search"], name="page_search_idx"),
        ]

    def __str__(self) -> str:
        return self.path

    @property
    def etag(self) -> str:
        return f'"{self.revision}"'


class PageVersion(TenantModel):
    """One immutable publication of a page, numbered 1, 2, 3... per page, with every
    embedded component and section inlined (later edits of them change nothing here)."""

    append_only = True

    site = tenant_fk("sites.Site")
    page = tenant_fk("sites.Page", related_name="versions")
    number = models.PositiveIntegerField()
    path = models.CharField(max_length=300)
    title = models.CharField(max_length=200)
    content = models.JSONField(default=list)
    seo = models.JSONField(default=dict)
    sha256 = models.CharField(max_length=64)
    message = models.CharField(max_length=300, blank=True)
    author = append_only_user_fk()

    class Meta(TenantModel.Meta):
        constraints = [
            *TenantModel.Meta.constraints,
            models.UniqueConstraint(
                fields=["organization", "page", "number"], name="pageversion_unique_number"
            ),
        ]
        indexes = [
            models.Index(fields=["organization", "page", "-number"], name="pageversion_page_idx")
        ]

    def __str__(self) -> str:
        return f"{self.path} v{self.number}"


class PageComment(TenantModel):
    page = tenant_fk("sites.Page", related_name="comments")
    version = tenant_fk("sites.PageVersion", null=True)
    parent = tenant_fk("sites.PageComment", null=True, related_name="replies")
    block_id = models.CharField(max_length=64, blank=True)
    body = models.TextField(max_length=10_000)
    author = user_fk()
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = user_fk()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta(TenantModel.Meta):
        indexes = [
            models.Index(
                fields=["organization", "page", "-created_at", "-id"], name="pagecomment_page_idx"
            )
        ]


class PageAnalyticsDaily(TenantModel):
    """Views and distinct visitors of a page per day, counted by the public site.

    No IP address is stored anywhere: a visitor is a salted daily hash that lives
    only in the cache, long enough to tell a new visitor from a returning one."""

    site = tenant_fk("sites.Site")
    page = tenant_fk("sites.Page")
    day = models.DateField()
    views = models.PositiveIntegerField(default=0)
    visitors = models.PositiveIntegerField(default=0)

    class Meta(TenantModel.Meta):
        verbose_name = "daily page analytics"
        verbose_name_plural = "daily page analytics"
        constraints = [
            *TenantModel.Meta.constraints,
            models.UniqueConstraint(
                fields=["organization", "page", "day"], name="pageanalytics_unique_day"
            ),
        ]
        indexes = [
            models.Index(fields=["organization", "site", "-day"], name="pageanalytics_site_idx")
        ]


class Deployment(TenantModel):
    class Environment(models.TextChoices):
        PRODUCTION = "production"
        PREVIEW = "preview"

    class Status(models.TextChoices):
        QUEUED = "queued"
        BUILDING = "building"
        READY = "ready"
        FAILED = "failed"
        CANCELED = "canceled"

    class Trigger(models.TextChoices):
        MANUAL = "manual"  # someone asked for it (API, admin, seed)
        AUTO = "auto"  # production following publishing (built-in host, not locked)

    IN_FLIGHT = (Status.QUEUED, Status.BUILDING)

    site = tenant_fk("sites.Site", related_name="deployments")
    environment = models.CharField(max_length=10, choices=Environment.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    provider = models.CharField(max_length=40, default="local")
    trigger = models.CharField(
        max_length=10, choices=Trigger.choices, default=Trigger.MANUAL, db_default=Trigger.MANUAL
    )
    url = models.CharField(max_length=500, blank=True)
    # The provider's deploy id; a database default too, for bulk loaders (COPY).
    external_id = models.CharField(max_length=200, blank=True, default="", db_default="")
    progress = models.PositiveSmallIntegerField(default=0)
    log = models.TextField(blank=True)
    error = models.TextField(blank=True)
    page_count = models.PositiveIntegerField(default=0)
    created_by = user_fk()
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta(TenantModel.Meta):
        constraints = [
            *TenantModel.Meta.constraints,
            models.UniqueConstraint(
                fields=["organization", "site", "environment"],
                condition=models.Q(status__in=["queued", "building"]),
                name="deployment_one_in_flight",
            ),
            models.CheckConstraint(
                condition=models.Q(progress__lte=100), name="deployment_progress_max_100"
            ),
        ]
        indexes = [
            models.Index(
                fields=["organization", "site", "-created_at", "-id"], name="deployment_site_idx"
            )
        ]

    def __str__(self) -> str:
        return f"{self.environment} deployment of {self.created_at:%Y-%m-%d %H:%M} ({self.status})"


class DeploymentPage(TenantModel):
    """The exact version of one page that a deployment serves."""

    append_only = True

    deployment = tenant_fk("sites.Deployment", related_name="pinned_pages")
    page = tenant_fk("sites.Page")
    version = tenant_fk("sites.PageVersion")
    path = models.CharField(max_length=300)

    class Meta(TenantModel.Meta):
        constraints = [
            *TenantModel.Meta.constraints,
            models.UniqueConstraint(
                fields=["organization", "deployment", "path"], name="deploymentpage_unique_path"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.path} (pinned)"


class Domain(TenantModel):
    class Status(models.TextChoices):
        PENDING = "pending"
        VERIFIED = "verified"
        FAILED = "failed"

    site = tenant_fk("sites.Site", related_name="domains")
    hostname = models.CharField(max_length=253)
    verification_token = models.CharField(max_length=64)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    verified_at = models.DateTimeField(null=True, blank=True)
    last_checked_at = models.DateTimeField(null=True, blank=True)
    is_primary = models.BooleanField(default=False)
    created_by = user_fk()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta(TenantModel.Meta):
        constraints = [
            *TenantModel.Meta.constraints,
            models.UniqueConstraint(
                fields=["organization", "hostname"], name="domain_unique_org_hostname"
            ),
            # SECURITY: the one cross-tenant unique, on purpose: a verified hostname
            # serves exactly one site. It reveals only that a hostname is taken, which
            # DNS tells the world anyway.
            models.UniqueConstraint(
                fields=["hostname"],
                condition=models.Q(status="verified"),
                name="domain_verified_hostname_unique",
            ),
        ]
        indexes = [
            models.Index(fields=["organization", "site", "hostname"], name="domain_site_idx")
        ]

    def __str__(self) -> str:
        return self.hostname
