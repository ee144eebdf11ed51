"""Error codes the accounts flows added (status, meaning).

Codes the accounts API answered before these flows (``invalid_credentials``,
``session_ended``, ``token_not_valid`` for access tokens, ``user_inactive``,
``wrong_password``, ``email_taken``) are registered with the shared registry.
"""

ERROR_CODES: dict[str, tuple[int, str]] = {
    "account_disabled": (403, "The password is right but the account is disabled."),
    "password_reset_invalid": (400, "The password reset link is invalid, expired or used."),
    "verification_invalid": (400, "The email verification link is invalid, expired or used."),
    "email_unverified": (403, "This action needs a verified email address (a setting)."),
    "mfa_invalid_code": (400, "The authentication or recovery code is wrong or was used."),
    "mfa_already_enabled": (409, "Two-factor authentication is already on."),
    "mfa_not_enrolled": (409, "Two-factor authentication is not on, or enrollment not started."),
    "mfa_required": (403, "Two-factor authentication is required (organization or setting)."),
    "cannot_deactivate_self": (403, "Staff cannot deactivate their own account (admin)."),
}
