"""Error codes the integrations app can answer (beyond ``config/errors.py``)."""

ERROR_CODES: dict[str, tuple[int, str]] = {
    "url_not_allowed": (
        400,
        "The URL is not http(s), carries credentials, does not resolve, or resolves to a"
        " private, loopback, link-local, CGNAT, multicast or reserved address",
    ),
    "role_too_high": (400, "An API key's role may not exceed its creator's role"),
    "api_key_invalid": (401, "The API key is malformed, unknown, or its creator is disabled"),
    "api_key_revoked": (401, "The API key has been revoked"),
    "api_key_expired": (401, "The API key has expired"),
    "api_key_scope": (
        403,
        "The API key's scopes do not cover this action; `details.required_scope` names it",
    ),
    "name_taken": (409, "An integration with this name exists in the organization"),
    "endpoint_disabled": (409, "The webhook endpoint is disabled; enable it first"),
    "delivery_pending": (
        409,
        "A delivery of this message to this endpoint is still pending (retrying); replay "
        "it once it has succeeded or failed",
    ),
    "already_revoked": (409, "The API key is already revoked"),
    "provider_error": (502, "The AI provider refused or failed the request (sanitized)"),
    "no_ai_integration": (400, "No usable AI provider integration is configured"),
}

# Deployment providers and sync jobs (issue 12 section 5).
ERROR_CODES |= {
    "mapping_target_taken": (409, "Another mapping of the integration writes this target field"),
    "integration_disabled": (409, "The integration is disabled; enable it first"),
    "job_kind_unsupported": (400, "The integration's provider has no connector for this job kind"),
    "job_in_progress": (409, "A job of this integration is already queued or running"),
    "job_finished": (409, "The job has already finished"),
    "not_a_deploy_integration": (400, "Only a Netlify or Vercel integration can deploy a site"),
    "verify_not_supported": (
        400,
        "The integration has nothing to verify: a provider without a check, or no credential",
    ),
}
