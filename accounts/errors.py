"""Error codes the accounts API answers beyond those ``config/errors.py`` defines."""

ERROR_CODES: dict[str, tuple[int, str]] = {
    "invalid_credentials": (401, "The email or password (or the MFA challenge) is wrong."),
    "account_disabled": (403, "The password is right but the account is disabled."),
    "token_not_valid": (401, "The token is malformed, forged, expired or of the wrong type."),
    "session_ended": (401, "The session was signed out, expired or revoked; sign in again."),
    "user_inactive": (401, "The account of this session is disabled."),
    "wrong_password": (400, "The current password given is wrong."),
    "email_taken": (409, "An account with this email exists."),
    "password_reset_invalid": (400, "The password reset link is invalid, expired or used."),
    "verification_invalid": (400, "The email verification link is invalid, expired or used."),
    "email_unverified": (403, "This action needs a verified email address (a setting)."),
    "mfa_invalid_code": (400, "The authentication or recovery code is wrong or was used."),
    "mfa_already_enabled": (409, "Two-factor authentication is already on."),
    "mfa_not_enrolled": (409, "Start TOTP enrollment (or turn MFA on) first."),
    "mfa_required": (403, "This organization requires two-factor authentication."),
    "invitation_closed": (409, "The invitation was accepted, declined or revoked."),
}
