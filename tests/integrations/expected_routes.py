"""What issue 12 says about who may use each integrations route, written from the
issue's words (not from the views' scope maps or the matrix):

* "API keys and webhooks: admin and up";
* "Integrations ...: member and up read, admin and up write and run; viewer and
  billing see none";
* a user's own provider keys: theirs only — they are for people who use the AI
  features, so member and up (viewers and billing see no integrations at all).
"""

from __future__ import annotations

ADMINS = frozenset({"owner", "admin"})
MEMBERS = frozenset({"owner", "admin", "member"})

ORG = "api/v1/orgs/<slug:org_slug>/"
WEBHOOK = f"{ORG}webhooks/<uuid:webhook_id>/"
DELIVERY = f"{WEBHOOK}deliveries/<uuid:webhook_delivery_id>/"

INTEGRATION = f"{ORG}integrations/<uuid:integration_id>/"
JOB = f"{INTEGRATION}jobs/<uuid:integration_job_id>/"

EXPECTED_ROUTES: dict[str, frozenset[str]] = {
    f"GET {ORG}api-keys/": ADMINS,
    f"POST {ORG}api-keys/": ADMINS,
    f"GET {ORG}api-keys/<uuid:api_key_id>/": ADMINS,
    f"DELETE {ORG}api-keys/<uuid:api_key_id>/": ADMINS,
    f"GET {ORG}integrations/": MEMBERS,
    f"POST {ORG}integrations/": ADMINS,
    f"GET {ORG}integrations/<uuid:integration_id>/": MEMBERS,
    f"PATCH {ORG}integrations/<uuid:integration_id>/": ADMINS,
    f"DELETE {ORG}integrations/<uuid:integration_id>/": ADMINS,
    f"POST {ORG}integrations/<uuid:integration_id>/verify/": ADMINS,
    f"GET {ORG}user-integrations/": MEMBERS,
    f"POST {ORG}user-integrations/": MEMBERS,
    f"GET {ORG}user-integrations/<slug:user_integration_name>/": MEMBERS,
    f"PUT {ORG}user-integrations/<slug:user_integration_name>/": MEMBERS,
    f"DELETE {ORG}user-integrations/<slug:user_integration_name>/": MEMBERS,
    f"GET {ORG}webhooks/": ADMINS,
    f"POST {ORG}webhooks/": ADMINS,
    f"GET {WEBHOOK}": ADMINS,
    f"PATCH {WEBHOOK}": ADMINS,
    f"DELETE {WEBHOOK}": ADMINS,
    f"POST {WEBHOOK}rotate-secret/": ADMINS,
    f"POST {WEBHOOK}test/": ADMINS,
    f"GET {WEBHOOK}deliveries/": ADMINS,
    f"GET {DELIVERY}": ADMINS,
    f"POST {DELIVERY}replay/": ADMINS,
    # Mappings and sync jobs (section 5): "member and up read, admin and up write and run".
    f"GET {INTEGRATION}mappings/": MEMBERS,
    f"POST {INTEGRATION}mappings/": ADMINS,
    f"POST {INTEGRATION}mappings/dry-run/": ADMINS,
    f"GET {INTEGRATION}mappings/<uuid:mapping_id>/": MEMBERS,
    f"PATCH {INTEGRATION}mappings/<uuid:mapping_id>/": ADMINS,
    f"DELETE {INTEGRATION}mappings/<uuid:mapping_id>/": ADMINS,
    f"GET {INTEGRATION}jobs/": MEMBERS,
    f"POST {INTEGRATION}jobs/": ADMINS,
    f"GET {JOB}": MEMBERS,
    f"POST {JOB}cancel/": ADMINS,
}
