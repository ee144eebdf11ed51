"""Settings, all driven by the environment (see ``.env.example``).

``DJANGO_ENV`` picks the profile: ``development`` (default), ``test`` or
``production``. Production refuses to start without its secrets.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import timedelta
from pathlib import Path
from urllib.parse import unquote

import environ

from config import embedded_db
from config.logs import configure_structlog, logging_config

BASE_DIR = Path(__file__).resolve().parent.parent
env = environ.Env()
if (BASE_DIR / ".env").is_file():
    environ.Env.read_env(BASE_DIR / ".env")


def env_pairs(name: str, *, example: str) -> dict[str, str]:
    """``NAME=key:value,key:value`` (the form README and ``.env.example`` document) as a
    dict; unset or empty is ``{}``. Anything else stops startup with one line naming the
    variable and the expected form (django-environ's ``env.dict`` wants ``key=value``
    and failed on the documented form with a ``ValueError`` traceback)."""
    raw = env.str(name, default="").strip()
    pairs: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in raw.split(","))):
        key, separator, value = (piece.strip() for piece in item.partition(":"))
        if not separator or not key or not value or key in pairs:
            raise environ.ImproperlyConfigured(
                f"{name} must be comma-separated key:value pairs, each key once "
                f"(e.g. {name}={example}); got {raw!r}"
            )
        pairs[key] = value
    return pairs


DJANGO_ENV = env.str("DJANGO_ENV", default="development")
if DJANGO_ENV not in {"development", "test", "production"}:
    raise environ.ImproperlyConfigured(f"DJANGO_ENV={DJANGO_ENV!r} is not a known profile")
PRODUCTION = DJANGO_ENV == "production"
TESTING = DJANGO_ENV == "test"

_DEV_SECRET = "insecure-development-secret-key-change-me-0123456789abcdef"  # noqa: S105
DEBUG = env.bool("DEBUG", default=DJANGO_ENV == "development")
SECRET_KEY = env.str("SECRET_KEY") if PRODUCTION else env.str("SECRET_KEY", default=_DEV_SECRET)
ALLOWED_HOSTS = env.list(
    "ALLOWED_HOSTS", default=[] if PRODUCTION else ["127.0.0.1", "localhost", "testserver"]
)
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "config.apps.StaffAdminConfig",  # django.contrib.admin with the staff console's site
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_tasks",
    "django_tasks_db",
    "django_structlog",
    # Project apps come last; organizations overrides `migrate` and `flush`.
    "accounts",
    "organizations",
    "audit",
    "projects",
    "sites",
    "integrations",
    "billing",
    "realtime",
]

MIDDLEWARE = [
    "config.api.middleware.RequestIdMiddleware",
    # Before anything that validates Host: serves sites on verified custom domains.
    "sites.public.CustomDomainMiddleware",
    # A dedicated live-sites host (SITES_PUBLIC_BASE_URL) serves only /p/….
    "sites.public.LiveSitesHostMiddleware",
    "config.api.middleware.ApiErrorEnvelopeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_structlog.middlewares.RequestMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "organizations.tenancy.StaffAdminServiceContextMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database ---------------------------------------------------------------
# `default` is the application role: not superuser, not BYPASSRLS, owns nothing.
# `owner` owns the schema and is used only for migrations and `flush`.
DB_APP_ROLE = env.str("DB_APP_ROLE", default="saas_app")
DB_SERVICE_ROLE = env.str("DB_SERVICE_ROLE", default="saas_service")
DB_STATEMENT_TIMEOUT = env.str("DB_STATEMENT_TIMEOUT", default="15s")
EMBEDDED_DB = not env.str("DATABASE_URL", default="")
# DATABASE_URL names a Citus coordinator: db_setup distributes the tables after migrating
# (docs/scaling.md). The embedded server is never a Citus node.
DATABASE_CITUS = env.bool("DATABASE_CITUS", default=False) and not EMBEDDED_DB
if EMBEDDED_DB:
    _db_name = env.str("DB_NAME", default="saas")
    _socket = str(embedded_db.socket_dir())
    _default_db = {"NAME": _db_name, "USER": DB_APP_ROLE, "HOST": _socket}
    _owner_db = {
        "NAME": _db_name,
        "USER": env.str("DB_OWNER_ROLE", default="saas_owner"),
        "HOST": _socket,
    }
    DATABASE_ADMIN = {"NAME": "postgres", "USER": embedded_db.SUPERUSER, "HOST": _socket}
else:

    def _db_url(url: str) -> dict:
        config = env.db_url_config(url)
        # django-environ keeps a percent-encoded unix-socket directory as is.
        config["HOST"] = unquote(config.get("HOST") or "")
        return config

    _default_db = _db_url(env.str("DATABASE_URL"))
    _owner_db = _db_url(env.str("DATABASE_OWNER_URL", default=env.str("DATABASE_URL")))
    _admin_url = env.str("DATABASE_ADMIN_URL", default="")
    DATABASE_ADMIN = _db_url(_admin_url) if _admin_url else None

_db_common = {
    "ENGINE": "django.db.backends.postgresql",
    "PORT": "",
    "PASSWORD": "",
    "CONN_MAX_AGE": env.int("DB_CONN_MAX_AGE", default=60),
    "CONN_HEALTH_CHECKS": False,
}
# The runtime role binds parameters on the server and prepares a statement on its 5th
# use in a connection: the hot queries skip planning (RLS policies make planning
# dearer; docs/performance.md). Turn DB_PREPARED_STATEMENTS off behind a pooler that
# cannot carry prepared statements (PgBouncer in transaction mode before 1.21).
_runtime_options = {
    "server_side_binding": True,
    "prepare_threshold": 5 if env.bool("DB_PREPARED_STATEMENTS", default=True) else None,
}
DATABASES = {
    "default": {
        **_db_common,
        **_default_db,
        "ATOMIC_REQUESTS": True,
        "OPTIONS": _default_db.get("OPTIONS", {}) | _runtime_options,
    },
    "owner": {**_db_common, **_owner_db, "CONN_MAX_AGE": 0},
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Auth -------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = ["accounts.backends.EmailBackend"]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
if TESTING:
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"

# --- Cache, email, tasks ------------------------------------------------------
CACHES = {"default": env.cache_url("CACHE_URL", default="locmemcache://")}
EMAIL_CONFIG = env.email_url(
    "EMAIL_URL", default="smtp://localhost:25" if PRODUCTION else "consolemail://"
)
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="no-reply@example.test")
# Base of every link in emails; by default this server as `make run` serves it.
FRONTEND_URL = env.str(
    "FRONTEND_URL",
    default=f"http://{env.str('HOST', default='127.0.0.1')}:{env.str('PORT', default='8000')}",
).rstrip("/")

TASKS = {"default": {"BACKEND": "config.tasks.DatabaseBackend"}}

# --- API ----------------------------------------------------------------------
REST_FRAMEWORK = {
    # API keys first: told apart from JWTs by their prefix (integrations/apikeys.py).
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "integrations.apikeys.ApiKeyAuthentication",
        "accounts.authentication.SessionTokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": ["config.api.parsers.JSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["config.api.renderers.ORJSONRenderer"],
    "DEFAULT_PAGINATION_CLASS": "config.api.pagination.CursorPagination",
    "DEFAULT_FILTER_BACKENDS": [
        "config.api.filters.FilterBackend",
        "config.api.filters.SearchFilter",
        "config.api.filters.OrderingFilter",
    ],
    "DEFAULT_SCHEMA_CLASS": "config.api.schema.AutoSchema",
    "EXCEPTION_HANDLER": "config.api.exceptions.exception_handler",
    "DEFAULT_THROTTLE_CLASSES": [
        # O(1) sliding-window counters (config/api/throttling.py), not DRF's pickled log.
        "config.api.throttling.AnonRateThrottle",
        "integrations.apikeys.UserRateThrottle",
        "integrations.apikeys.ApiKeyRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env.str("THROTTLE_ANON", default="120/min"),
        "user": env.str("THROTTLE_USER", default="1200/min"),
        "login": env.str("THROTTLE_LOGIN", default="10/min"),
        "refresh": env.str("THROTTLE_REFRESH", default="60/min"),
        "signup": env.str("THROTTLE_SIGNUP", default="10/hour"),
    },
    "PAGE_SIZE": 25,
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
API_MAX_PAGE_SIZE = 100
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("MAX_REQUEST_BODY_BYTES", default=1_048_576)

API_DESCRIPTION = """\
The REST API of a multi-tenant SaaS platform: every tenant's data is isolated by
PostgreSQL row-level security, and everything under `/api/v1/orgs/{org_slug}/` is
one organization's.

- **Accounts** (`/auth/`, `/me/`): sign-up, tokens and sessions, profile and settings,
  password reset, email verification, TOTP multi-factor, my invitations.
- **Organizations**: members and roles (owner, admin, member, viewer, billing),
  invitations, the audit log of every change.
- **Projects** (code editor): files with immutable revisions, snapshots, AI
  conversations and generations, background jobs, assets, full-text search.
- **Sites** (website builder): sites, pages with versions, publishing, deployments,
  custom domains, comments, analytics.
- **Integrations**: provider connections, API keys, data mappings, sync jobs,
  outbound webhooks.
- **Billing**: plans, the subscription, invoices, usage and quotas.

Authentication: `Authorization: Bearer <access token>` (people) or an org API key
(machines). Lists are cursor-paginated (`cursor`, `page_size`); unknown body fields
and unknown query parameters are a 400. Every error has one shape,
`{"error": {"code", "message", "details", "request_id"}}` (component `Error`); the
codes and their statuses are listed in `docs/api.md`. `request_id` is the response's
`X-Request-ID` and is on every server log line of that request.
"""

SPECTACULAR_SETTINGS = {
    "TITLE": "SaaS Platform API",
    "DESCRIPTION": API_DESCRIPTION,
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    # Several fields are called `role`/`status`; name their enums after what they are.
    "ENUM_NAME_OVERRIDES": {
        "OrgRoleEnum": "organizations.permissions.Role",
        "ProjectRoleEnum": "projects.models.ProjectMember.Role",
        "MessageRoleEnum": "projects.models.Message.Role",
        "JobStatusEnum": "projects.models.Job.Status",
        "GenerationStatusEnum": "projects.models.Generation.Status",
        "AssetKindEnum": "projects.models.Asset.Kind",
        "SearchHitTypeEnum": "projects.services.search.TYPES",
        "EventTypeEnum": "integrations.event_types.SUBSCRIBABLE",
    },
}

_jwt_key = (
    env.str("JWT_SIGNING_KEY") if PRODUCTION else env.str("JWT_SIGNING_KEY", default=SECRET_KEY)
)
if len(_jwt_key.encode()) < 32:
    raise environ.ImproperlyConfigured("JWT_SIGNING_KEY must be at least 32 bytes")
SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env.int("JWT_ACCESS_MINUTES", default=5)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env.int("JWT_REFRESH_DAYS", default=14)),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": False,
    "SIGNING_KEY": _jwt_key,
    "ALGORITHM": "HS256",
    "USER_ID_FIELD": "id",
    "USER_ID_CLAIM": "sub",
}

INVITATION_TTL = timedelta(days=env.int("INVITATION_TTL_DAYS", default=7))

# --- Projects (code editor) ------------------------------------------------------
PROJECT_MAX_FILE_BYTES = env.int("PROJECT_MAX_FILE_BYTES", default=512 * 1024)
PROJECT_MAX_FILES = env.int("PROJECT_MAX_FILES", default=2000)
ASSET_MAX_BYTES = env.int("ASSET_MAX_BYTES", default=10 * 1024 * 1024)
ASSET_ALLOWED_TYPES = env.list(
    "ASSET_ALLOWED_TYPES",
    default=[
        "text/plain",
        "text/markdown",
        "text/csv",
        "application/json",
        "application/pdf",
        "image/png",
        "image/jpeg",
        "image/gif",
        "image/webp",
        "application/zip",
    ],
)
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(BASE_DIR / ".data" / "media")))
MEDIA_URL = "media/"
STORAGES = {
    # Local filesystem by default; any Django storage backend (e.g. S3 via django-storages)
    # is a settings change: STORAGE_BACKEND=storages.backends.s3.S3Storage plus its options.
    "default": {
        "BACKEND": env.str("STORAGE_BACKEND", default="django.core.files.storage.FileSystemStorage")
    },
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# --- Sites (website builder) -------------------------------------------------------
# A page's edit lock lapses after this long without renewal.
SITES_PAGE_LOCK_TTL = timedelta(minutes=env.int("SITES_PAGE_LOCK_MINUTES", default=30))
# A deployment keeps the last this-many characters of its build log.
SITES_DEPLOYMENT_LOG_MAX_CHARS = env.int("SITES_DEPLOYMENT_LOG_MAX_CHARS", default=20_000)
# Where this server's live sites are reached (deployment URLs of the local provider).
SITES_PUBLIC_BASE_URL = env.str("SITES_PUBLIC_BASE_URL", default=FRONTEND_URL)
# A callable (name) -> [TXT strings] for domain verification; tests replace it.
# The test profile answers from `sites.dns.STATIC_RECORDS` (no real DNS in tests).
SITES_DNS_RESOLVER = env.str(
    "SITES_DNS_RESOLVER", default="sites.dns.static_txt" if TESTING else "sites.dns.dnspython_txt"
)
# `serve` runs `publish_scheduled` this often (seconds).
SITES_SCHEDULER_INTERVAL = env.int("SITES_SCHEDULER_INTERVAL", default=30)

# --- realtime feed (docs/api.md "Live events", ADR 0016) ------------------------------
# LISTEN needs a session of its own: behind PgBouncer in transaction mode, point this at
# PostgreSQL directly (the app role). Empty: the app role's own DATABASE_URL.
REALTIME_DATABASE_URL = env.str("REALTIME_DATABASE_URL", default="")
REALTIME_HEARTBEAT_SECONDS = env.float("REALTIME_HEARTBEAT_SECONDS", default=15)
REALTIME_RETRY_MS = env.int("REALTIME_RETRY_MS", default=3000)
# Every open stream's access is checked again this often (and at once after an event
# that changes access): a revoked session, key or membership ends its streams within it.
REALTIME_RECHECK_SECONDS = env.float("REALTIME_RECHECK_SECONDS", default=2)
REALTIME_MAX_STREAMS_PER_USER = env.int("REALTIME_MAX_STREAMS_PER_USER", default=10)
REALTIME_MAX_STREAMS_PER_ORG = env.int("REALTIME_MAX_STREAMS_PER_ORG", default=500)
# Events a subscriber may have waiting; past it, it is cut off (it resumes by id).
REALTIME_QUEUE_SIZE = env.int("REALTIME_QUEUE_SIZE", default=256)
# Resuming with Last-Event-ID replays at most this many events, this old; else `reset`.
REALTIME_REPLAY_MAX = env.int("REALTIME_REPLAY_MAX", default=1000)
REALTIME_REPLAY_WINDOW_SECONDS = env.int("REALTIME_REPLAY_WINDOW_SECONDS", default=86400)
REALTIME_TICKET_SECONDS = env.int("REALTIME_TICKET_SECONDS", default=30)
# Threads serving the JSON API under the ASGI server (a2wsgi's pool, per process).
REALTIME_WSGI_THREADS = env.int("REALTIME_WSGI_THREADS", default=8)
SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"] |= {
    "SiteStatusEnum": "sites.models.Site.Status",
    "PageStatusEnum": "sites.models.Page.Status",
    "DeploymentStatusEnum": "sites.models.Deployment.Status",
    "DeploymentEnvironmentEnum": "sites.models.Deployment.Environment",
    "DomainStatusEnum": "sites.models.Domain.Status",
}

# --- Integrations (API keys, credentials vault, webhooks, deploy providers, sync jobs) ---
# Fernet keys (comma-separated, first encrypts, all decrypt); separate from SECRET_KEY.
# Development and test derive a fixed key; production requires the variable.
_dev_fernet_key = base64.urlsafe_b64encode(
    hashlib.sha256(b"integrations-dev-only:" + _DEV_SECRET.encode()).digest()
).decode()
INTEGRATIONS_ENCRYPTION_KEYS = (
    env.list("INTEGRATIONS_ENCRYPTION_KEYS")
    if PRODUCTION
    else env.list("INTEGRATIONS_ENCRYPTION_KEYS", default=[_dev_fernet_key])
)
if not INTEGRATIONS_ENCRYPTION_KEYS:
    raise environ.ImproperlyConfigured("INTEGRATIONS_ENCRYPTION_KEYS needs at least one key")
API_KEY_PREFIX = "saas_"
REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["api_key"] = env.str("THROTTLE_API_KEY", default="600/min")
# Networks outbound HTTP may reach although they are not global (e.g. 127.0.0.1/32 for
# local development). Empty: only public addresses.
OUTBOUND_ALLOWED_NETWORKS = env.list("OUTBOUND_ALLOWED_NETWORKS", default=[])
# Off: nothing is sent to tenant-supplied URLs and no host name is resolved for them.
OUTBOUND_ENABLED = env.bool("OUTBOUND_ENABLED", default=True)
OUTBOUND_TIMEOUT_SECONDS = env.float("OUTBOUND_TIMEOUT_SECONDS", default=15.0)
OUTBOUND_MAX_RESPONSE_BYTES = env.int("OUTBOUND_MAX_RESPONSE_BYTES", default=1_048_576)
# Tokens reserved for an AI reply before the call (plus about a quarter of the prompt's
# characters); settled to the provider's count after it.
AI_REPLY_TOKENS_RESERVED = env.int("AI_REPLY_TOKENS_RESERVED", default=1024)
WEBHOOK_ROTATION_OVERLAP = timedelta(hours=24)
WEBHOOK_DISABLE_AFTER = timedelta(days=5)
# Netlify/Vercel deploys are polled every POLL_INTERVAL seconds, at most POLL_MAX times.
INTEGRATIONS_PROVIDER_POLL_INTERVAL_SECONDS = env.float(
    "INTEGRATIONS_PROVIDER_POLL_INTERVAL_SECONDS", default=2.0
)
INTEGRATIONS_PROVIDER_POLL_MAX = env.int("INTEGRATIONS_PROVIDER_POLL_MAX", default=150)
# A sync reads at most this many pages; a job lists at most this many failed records.
INTEGRATIONS_SYNC_MAX_PAGES = env.int("INTEGRATIONS_SYNC_MAX_PAGES", default=1000)
INTEGRATIONS_SYNC_FAILED_LISTED = env.int("INTEGRATIONS_SYNC_FAILED_LISTED", default=100)
SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"] |= {
    "ApiKeyRoleEnum": "integrations.models.API_KEY_ROLE_CHOICES",
    "IntegrationStatusEnum": "integrations.models.Integration.Status",
    "WebhookEndpointStatusEnum": "integrations.models.WebhookEndpoint.Status",
    "WebhookDeliveryStatusEnum": "integrations.models.WebhookDelivery.Status",
    "DataMappingTransformEnum": "integrations.models_sync.Transform",
    "IntegrationJobKindEnum": "integrations.models_sync.IntegrationJob.Kind",
    "IntegrationJobStatusEnum": "integrations.models_sync.IntegrationJob.Status",
}

# --- Security (production) -----------------------------------------------------
if PRODUCTION:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31_536_000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_CONTENT_TYPE_NOSNIFF = True

# --- Accounts (sign-in protection, password reset, email verification, MFA) ----------
# How many reverse proxies in front of the app append to X-Forwarded-For. 0: the header
# is ignored and the client is REMOTE_ADDR (a client could otherwise pick its own
# address and dodge per-address throttles). Used by DRF throttles and the audit trail.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
REST_FRAMEWORK["NUM_PROXIES"] = TRUSTED_PROXY_COUNT
REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] |= {
    # per normalised email, whatever address the attempts come from
    "login_account": env.str("THROTTLE_LOGIN_ACCOUNT", default="20/hour"),
    "password_reset": env.str("THROTTLE_PASSWORD_RESET", default="5/hour"),
    "password_reset_account": env.str("THROTTLE_PASSWORD_RESET_ACCOUNT", default="3/hour"),
    "mfa": env.str("THROTTLE_MFA", default="10/min"),
    "verify_email": env.str("THROTTLE_VERIFY_EMAIL", default="30/hour"),
}
PASSWORD_RESET_TIMEOUT = env.int("PASSWORD_RESET_TIMEOUT_SECONDS", default=3600)
EMAIL_VERIFICATION_TTL = timedelta(days=env.int("EMAIL_VERIFICATION_TTL_DAYS", default=3))
# What an account with an unverified email may not do yet: any of
# "organization.create", "invitation.accept". Default: nothing is blocked.
UNVERIFIED_EMAIL_BLOCKS = env.list("UNVERIFIED_EMAIL_BLOCKS", default=[])
# Two tabs refreshing one token at once both get the same new pair within this window;
# a reuse after it revokes the session (docs/decisions/0009).
REFRESH_REUSE_GRACE = timedelta(seconds=env.int("REFRESH_REUSE_GRACE_SECONDS", default=10))
MFA_ISSUER = env.str("MFA_ISSUER", default="SaaS platform")
MFA_CHALLENGE_TTL = timedelta(seconds=env.int("MFA_CHALLENGE_SECONDS", default=300))
# Staff complete a TOTP step to enter /admin/ (and must have enrolled first).
ADMIN_REQUIRE_MFA = env.bool("ADMIN_REQUIRE_MFA", default=PRODUCTION)
# /admin/login/ attempts, counted per client address and per account (email).
ADMIN_LOGIN_RATE = env.str("ADMIN_LOGIN_RATE", default="10/min")
ADMIN_LOGIN_ACCOUNT_RATE = env.str("ADMIN_LOGIN_ACCOUNT_RATE", default="20/hour")

SILENCED_SYSTEM_CHECKS = [
    "auth.W004"
]  # email uniqueness is a case-insensitive functional constraint

if TESTING:
    EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    # Throttles are tested explicitly with their own rates; the rest of the suite is not throttled.
    REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] |= {"anon": "10000/min", "user": "10000/min"}

# --- API contract and structured logs (error registry, schema, logging) -----------------
# Error responses whose code is not in config/errors.py's registry (or has another
# status) are logged as errors; with ERROR_CODES_STRICT (the test suite) they raise.
ERROR_CODES_STRICT = env.bool("ERROR_CODES_STRICT", default=TESTING)

# LOG_FORMAT: json (one object a line; production default) or console (readable).
LOG_FORMAT = env.str("LOG_FORMAT", default="json" if PRODUCTION else "console")
configure_structlog()
LOGGING = logging_config(log_format=LOG_FORMAT, level=env.str("LOG_LEVEL", default="INFO"))
# django-structlog: our RequestIdMiddleware picks the request id (it validates a
# client's X-Request-ID); django-structlog's own would be ignored anyway.
DJANGO_STRUCTLOG_TRUST_UPSTREAM_REQUEST_ID = False
# The `ip` of a request's log lines is bound by config.api.middleware from client_ip(),
# which trusts X-Forwarded-For only as TRUSTED_PROXY_COUNT says; django-structlog's own
# (ipware) takes the header's first public address, which any client can write.
DJANGO_STRUCTLOG_IP_LOGGING_ENABLED = False
# request_started at DEBUG: one line a request at INFO (request_finished, which has the
# method, path, status and ids), half the logging cost of an access log of two lines.
DJANGO_STRUCTLOG_STATUS_START_LOG_LEVEL = 10
# --- Billing (plans, Stripe, quotas) ------------------------------------------------
# Without STRIPE_SECRET_KEY checkout/portal answer 503 billing_not_configured and every
# organization works on its plan as stored (free by default); webhooks still apply
# when STRIPE_WEBHOOK_SECRET is set. See docs/billing.md.
STRIPE_SECRET_KEY = env.str("STRIPE_SECRET_KEY", default="")
STRIPE_WEBHOOK_SECRET = env.str("STRIPE_WEBHOOK_SECRET", default="")
STRIPE_API_BASE = env.str("STRIPE_API_BASE", default="https://api.stripe.com")
# plan code -> Stripe price id, e.g. "pro:price_123,studio:price_456"
STRIPE_PRICE_IDS = env_pairs("STRIPE_PRICE_IDS", example="pro:price_123,studio:price_456")
# metered metric -> Stripe meter event name, e.g. "ai_tokens:ai_tokens,api_calls:api_calls"
STRIPE_METER_EVENTS = env_pairs("STRIPE_METER_EVENTS", example="ai_tokens:ai_tokens_used")
STRIPE_WEBHOOK_TOLERANCE_SECONDS = env.int("STRIPE_WEBHOOK_TOLERANCE_SECONDS", default=300)
BILLING_GRACE_DAYS = env.int("BILLING_GRACE_DAYS", default=7)
BILLING_SUCCESS_URL = env.str("BILLING_SUCCESS_URL", default=f"{FRONTEND_URL}/billing/success")
BILLING_CANCEL_URL = env.str("BILLING_CANCEL_URL", default=f"{FRONTEND_URL}/billing")
# API-call counting batches (billing/metering.py). Under test, batches never fill up on
# their own, so no request's query count depends on the wall clock; tests set them.
BILLING_API_CALLS_FLUSH_EVERY = env.int(
    "BILLING_API_CALLS_FLUSH_EVERY", default=10**9 if TESTING else 100
)
BILLING_API_CALLS_FLUSH_SECONDS = env.int(
    "BILLING_API_CALLS_FLUSH_SECONDS", default=10**9 if TESTING else 30
)
# --- Database resilience: pool, poolers, outages (hardening, issue 10) -------------------
# DB_POOL=true hands the runtime role's connections to Django's psycopg pool (per process):
# a request borrows one and gives it back at its end. Claims are transaction-local, so a
# borrowed connection carries nothing of its last tenant (tests/system/test_pool.py). The
# pool keeps its connections, so CONN_MAX_AGE must be 0 with it.
# CONN_HEALTH_CHECKS: with the pool, a borrowed connection is checked first (one round
# trip) so a connection broken by a database restart is never handed out; without the pool
# it is off by default (docs/performance.md) and a broken persistent connection is dropped
# at the end of the one request that found it broken (answered 503, config/api/middleware.py).
DB_POOL = env.bool("DB_POOL", default=False)
DB_CONNECT_TIMEOUT = env.int("DB_CONNECT_TIMEOUT", default=5)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = env.bool("DB_CONN_HEALTH_CHECKS", default=DB_POOL)
DATABASES["default"]["OPTIONS"]["connect_timeout"] = DB_CONNECT_TIMEOUT
# Behind PgBouncer in transaction mode a cursor WITH HOLD cannot outlive its transaction.
DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = env.bool(
    "DB_DISABLE_SERVER_SIDE_CURSORS", default=False
)
if DB_POOL:
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"]["pool"] = {
        "min_size": env.int("DB_POOL_MIN_SIZE", default=2),
        "max_size": env.int("DB_POOL_MAX_SIZE", default=10),
        # Seconds a request waits for a free connection before failing (answered 503).
        "timeout": env.float("DB_POOL_TIMEOUT", default=10.0),
        "name": "saas-default",
    }
# Answer of a request that found the database unavailable: 503 with this Retry-After.
DB_UNAVAILABLE_RETRY_AFTER = env.int("DB_UNAVAILABLE_RETRY_AFTER", default=5)
MIDDLEWARE = [*MIDDLEWARE, "config.api.middleware.DatabaseUnavailableMiddleware"]
