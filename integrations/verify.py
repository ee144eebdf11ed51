"""Checking an integration's credentials with its provider ("test connection").

``POST /api/v1/orgs/{slug}/integrations/{id}/verify/`` asks the provider one cheap,
read-only question with the stored credentials, through the SSRF-guarded client:

==================  =================================================  =================
provider            request                                            credential
==================  =================================================  =================
openai_compatible   ``GET {base_url}/models``                          ``api_key``
github              ``GET {base_url}/user`` (api.github.com)           ``token``
netlify             ``GET {base_url}/api/v1/user`` (api.netlify.com)   ``token``
vercel              ``GET {base_url}/v2/user`` (api.vercel.com)        ``token``
stripe              ``GET {base_url}/v1/balance`` (api.stripe.com)     ``secret_key``
http_json           the source's first page (``config.url``)           ``token`` (optional)
==================  =================================================  =================

The answer is recorded on the integration: ``last_verified_at`` and status
``active`` when the provider accepts, status ``error`` and ``last_error`` when it
does not (a ``disabled`` integration stays disabled). Like every provider error,
``last_error`` names only the HTTP status or the failure's kind: never the
provider's body, never the credential. A ``webhook`` integration has nothing to
ask (400 ``verify_not_supported``).
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone

from accounts.models import User
from audit.services import audit_record
from config.errors import Invalid
from integrations import crypto, outbound
from integrations.models import Integration, Provider

logger = logging.getLogger(__name__)

VERIFY_TIMEOUT_SECONDS = 10.0

# provider -> (default base URL, path asked, credential key)
CHECKS: dict[str, tuple[str, str, str]] = {
    Provider.OPENAI_COMPATIBLE: ("https://api.openai.com/v1", "/models", "api_key"),
    Provider.GITHUB: ("https://api.github.com", "/user", "token"),
    Provider.NETLIFY: ("https://api.netlify.com", "/api/v1/user", "token"),
    Provider.VERCEL: ("https://api.vercel.com", "/v2/user", "token"),
    Provider.STRIPE: ("https://api.stripe.com", "/v1/balance", "secret_key"),
}


def _question(integration: Integration) -> tuple[str, dict[str, str]]:
    """The URL to ask and its headers, from the integration's config and credentials."""
    config = integration.config or {}
    credentials = crypto.decrypt_json(integration.credentials_encrypted)
    if integration.provider == Provider.HTTP_JSON:
        url, credential = str(config.get("url") or ""), credentials.get("token", "")
        if not url:
            raise Invalid(
                "The integration has no source URL (config.url).",
                code="verify_not_supported",
            )
    elif integration.provider in CHECKS:
        default, path, key = CHECKS[integration.provider]
        credential = credentials.get(key, "")
        if not credential:
            raise Invalid(
                f"The integration has no credential to verify (credentials.{key}).",
                code="verify_not_supported",
            )
        url = str(config.get("base_url") or default).rstrip("/") + path
    else:
        raise Invalid(
            f"A {Provider(integration.provider).label} integration has nothing to verify.",
            code="verify_not_supported",
        )
    headers = {"accept": "application/json"}
    if credential:
        headers["authorization"] = f"Bearer {credential}"
    return url, headers


def _ask(integration: Integration, url: str, headers: dict[str, str]) -> str:
    """The provider's verdict: "" when it accepted, else a message fit to store and show."""
    label = Provider(integration.provider).label
    try:
        response = outbound.request(
            "GET", url, headers=headers, timeout=VERIFY_TIMEOUT_SECONDS, max_bytes=64 * 1024
        )
    except outbound.OutboundRefused as exc:
        return f"The {label} URL is not allowed: {exc.message}"
    except outbound.OutboundError:
        return f"{label} could not be reached."
    status = response.status_code
    if 200 <= status < 300:
        return ""
    logger.warning("%s answered HTTP %s to a verification", label, status)  # no body
    if status in (401, 403):
        return f"{label} rejected the credentials (HTTP {status})."
    return f"{label} answered HTTP {status}."


def integration_verify(*, actor: User, integration: Integration) -> Integration:
    """Ask the provider (outside any lock), then record its verdict on the integration."""
    url, headers = _question(integration)
    error = _ask(integration, url, headers)
    with transaction.atomic():
        locked = Integration.objects.select_for_update().get(
            organization_id=integration.organization_id, id=integration.id
        )
        if error:
            locked.last_error = error[:500]
        else:
            locked.last_verified_at, locked.last_error = timezone.now(), ""
        if locked.status != Integration.Status.DISABLED:  # disabling is a person's choice
            locked.status = Integration.Status.ERROR if error else Integration.Status.ACTIVE
        locked.save(update_fields=["status", "last_verified_at", "last_error", "updated_at"])
        audit_record(
            action="integration.verified",
            actor=actor,
            organization_id=locked.organization_id,
            target=locked,
            changes={"ok": not error, "error": error},
        )
    return locked
