"""Who may use the live feed's routes (hand-kept; see tests/security/test_route_matrix.py).
Every member may follow the feed: what each receives is decided per event
(tests/realtime/test_visibility.py)."""

EVERYONE = frozenset({"owner", "admin", "member", "viewer", "billing"})

EXPECTED_ROUTES = {
    "GET api/v1/orgs/<slug:org_slug>/events/": EVERYONE,
    "POST api/v1/orgs/<slug:org_slug>/events/tickets/": EVERYONE,
}
