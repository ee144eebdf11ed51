"""Who may call each billing route, written from issue 13's words (not from the code):

* ``GET billing/`` and ``GET billing/invoices/``: owner, admin, billing;
* ``POST billing/checkout/`` and ``POST billing/portal/``: owner and billing only;
* ``GET billing/usage/``: every member;
* cost estimates: any member creates; a member reads their own, admin and up read
  all (so every member may list; what they see is narrowed, also by RLS).
"""

from __future__ import annotations

ORG = "api/v1/orgs/<slug:org_slug>/"
EVERY_MEMBER = frozenset({"owner", "admin", "member", "viewer", "billing"})
BILLING_READERS = frozenset({"owner", "admin", "billing"})
BILLING_PAYERS = frozenset({"owner", "billing"})

EXPECTED_ROUTES: dict[str, frozenset[str]] = {
    f"GET {ORG}billing/": BILLING_READERS,
    f"GET {ORG}billing/invoices/": BILLING_READERS,
    f"POST {ORG}billing/checkout/": BILLING_PAYERS,
    f"POST {ORG}billing/portal/": BILLING_PAYERS,
    f"GET {ORG}billing/usage/": EVERY_MEMBER,
    f"GET {ORG}cost-estimates/": EVERY_MEMBER,
    f"POST {ORG}cost-estimates/": EVERY_MEMBER,
}
