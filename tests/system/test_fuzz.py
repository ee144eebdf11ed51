"""Fuzzing the served OpenAPI schema against a live server: no request shape may answer 5xx.

A real server (``manage.py runserver``, ``DEBUG`` off) runs on its own database, seeded
with the demo data; the fuzzer signs in as the owner of ``acme`` and sends, for every
operation of ``/api/schema/``, at least :data:`EXAMPLES` schema-conforming requests and
as many schema-violating ones (schemathesis' positive and negative generation), checked
with ``not_a_server_error``.

Generated ids would only ever reach the 404 branch, so path parameters are real: the
ids of the seeded objects, discovered through the API before the run. Operations that
would destroy what the rest of the run needs (deleting or renaming the organization or
the project, revoking the fuzzer's own session) get objects of their own made for them,
and every DELETE runs after the other operations.

Every failure is collected (method, path, status, a curl command to replay it) and the
run ends with a summary per operation; the test fails if any request answered 5xx.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import httpx
import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode

from accounts.seeding import DEMO_PASSWORD
from tests.system.support import LiveServer, seeded_server, sign_in

EXAMPLES = 20
# A fixed seed, so a run is repeatable; FUZZ_SEED=<n> explores other cases. Runs still
# differ in what they meet (fresh ids, what earlier cases stored), so a case that fails
# only elsewhere (CI) is reported with the server's traceback (_tracebacks).
SEED = int(os.environ.get("FUZZ_SEED", "20261202"))
DATABASE = "saas_system_fuzz"
OWNER = "owner@acme.test"
SERVER_ENV = {
    "DB_NAME": DATABASE,
    "THROTTLE_USER": "100000/min",
    "THROTTLE_ANON": "100000/min",
    "THROTTLE_LOGIN": "100000/min",
    "THROTTLE_SIGNUP": "100000/hour",
    "THROTTLE_REFRESH": "100000/min",
    "JWT_ACCESS_MINUTES": "120",  # the run outlasts the default five minutes
}


@pytest.fixture(scope="module")
def server():
    with seeded_server(SERVER_ENV, "system-fuzz-server.log") as live:
        yield live


class Api:
    def __init__(self, base_url: str, token: str) -> None:
        self.http = httpx.Client(
            base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=30
        )

    def get(self, path: str) -> Any:
        response = self.http.get(path)
        assert response.status_code == 200, (path, response.text)
        return response.json()

    def first(self, path: str, key: str = "id") -> Any:
        results = self.get(path)["results"]
        assert results, f"{path} lists nothing: the seed should have made one"
        return results[0][key]

    def maybe_first(self, path: str, key: str = "id") -> Any:
        """The first listed object's ``key``, or None when the list is empty or refused."""
        response = self.http.get(path)
        results = response.json().get("results") if response.status_code == 200 else None
        return results[0][key] if results else None

    def try_post(self, path: str, payload: dict) -> Any:
        """Create something the seed lacks; None if the API refuses (its id stays unknown)."""
        response = self.http.post(path, json=payload)
        return response.json() if response.status_code in (200, 201) else None

    def post(self, path: str, payload: dict) -> Any:
        response = self.http.post(path, json=payload)
        assert response.status_code in (200, 201), (path, response.text)
        return response.json()


def real_ids(server: LiveServer) -> tuple[dict[str, str], dict, str]:
    """(path parameters for the run, those of each destructive operation, the owner's
    token)."""
    token = sign_in(server.url, OWNER, DEMO_PASSWORD)
    api = Api(server.url, token)
    org = "/api/v1/orgs/acme"
    project = api.first(f"{org}/projects/", "slug")
    base = f"{org}/projects/{project}"
    file_id = api.first(f"{base}/files/")
    members = api.get(f"{org}/members/")["results"]
    other_member = next(m["id"] for m in members if m["user"]["email"] != OWNER)
    invitation = api.post(f"{org}/invitations/", {"email": "fuzz@example.test", "role": "member"})
    conversation = api.first(f"{base}/conversations/")
    ids = {
        "org_slug": "acme",
        "project_slug": project,
        "file_id": file_id,
        "number": str(api.first(f"{base}/files/{file_id}/revisions/", "number")),
        "asset_id": api.first(f"{base}/assets/"),
        "conversation_id": conversation,
        "job_id": api.first(f"{base}/jobs/"),
        "snapshot_id": api.first(f"{base}/snapshots/"),
        "membership_id": other_member,
        "invitation_id": invitation["id"],
    }
    generations = api.get(f"{base}/generations/")["results"]
    if not generations:
        generations = [api.post(f"{base}/generations/", {"prompt": "Hello", "model": "fuzz"})]
    ids["generation_id"] = generations[0]["id"]
    project_members = api.get(f"{base}/members/")["results"] or [
        api.post(f"{base}/members/", {"user": "viewer@acme.test", "role": "editor"})
    ]
    ids["project_member_id"] = project_members[0]["id"]
    ids |= _website_and_integration_ids(api, org)
    # Objects of their own for the operations that destroy or rename what they act on.
    spare: dict[tuple[str, str], dict[str, str]] = {}
    for number, (operation, names) in enumerate(DESTRUCTIVE.items()):
        if names == ("org_slug",):
            slug = f"fuzz-spare-{number}"
            spare[operation] = {
                "org_slug": api.post("/api/v1/orgs/", {"name": slug, "slug": slug})["slug"]
            }
        elif names == ("project_slug",):
            slug = f"fuzz-spare-{number}"
            made = api.post(f"{org}/projects/", {"name": slug, "slug": slug})
            spare[operation] = {"project_slug": made["slug"]}
        else:  # a second session of the owner, for DELETE /me/sessions/{id}/
            sign_in(server.url, OWNER, DEMO_PASSWORD)
            sessions = api.get("/api/v1/me/sessions/")["results"]
            spare[operation] = {"session_id": next(s["id"] for s in sessions if not s["current"])}
    return ids, spare, token


def _website_and_integration_ids(api: Api, org: str) -> dict[str, str]:
    """Ids of the seeded sites, integrations and their children (only those found)."""
    found: dict[str, Any] = {}
    site = api.maybe_first(f"{org}/sites/", "slug")
    if site:
        found["site_slug"] = site
        page = api.maybe_first(f"{org}/sites/{site}/pages/")
        found["page_id"] = page
        if page:
            pages = f"{org}/sites/{site}/pages/{page}"
            found["version_number"] = api.maybe_first(f"{pages}/versions/", "number")
            found["comment_id"] = api.maybe_first(f"{pages}/comments/")
        found["deployment_id"] = api.maybe_first(f"{org}/sites/{site}/deployments/")
        domain = api.try_post(f"{org}/sites/{site}/domains/", {"hostname": "fuzz.example.test"})
        found["domain_id"] = domain and domain["id"]
    for name, path in [
        ("component_id", "components"),
        ("section_id", "sections"),
        ("template_id", "templates"),
        ("api_key_id", "api-keys"),
        ("webhook_id", "webhooks"),
    ]:
        found[name] = api.maybe_first(f"{org}/{path}/")
    # The seeded HTTP JSON source has mappings and a job: its job routes are reached too.
    integrations = api.get(f"{org}/integrations/")["results"]
    sources = [i for i in integrations if i["provider"] == "http_json"] or integrations
    found["integration_id"] = sources[0]["id"] if sources else None
    if found.get("webhook_id"):
        found["webhook_delivery_id"] = api.maybe_first(
            f"{org}/webhooks/{found['webhook_id']}/deliveries/"
        )
    if not found.get("section_id"):
        section = api.try_post(f"{org}/sections/", {"name": "Fuzz section", "content": []})
        found["section_id"] = section and section["id"]
    if found.get("integration_id"):
        integration = f"{org}/integrations/{found['integration_id']}"
        mapping = api.maybe_first(f"{integration}/mappings/") or api.try_post(
            f"{integration}/mappings/", {"source_field": "name", "target_field": "fuzz"}
        )
        found["mapping_id"] = mapping if isinstance(mapping, str) else mapping and mapping["id"]
        found["integration_job_id"] = api.maybe_first(f"{integration}/jobs/")
    own = api.try_post(
        f"{org}/user-integrations/",
        {"name": "fuzz-own", "provider": "openai_compatible", "credentials": {"api_key": "sk-f"}},
    )
    found["user_integration_name"] = own and own["name"]
    return {name: str(value) for name, value in found.items() if value is not None}


# Operations that would break the rest of the run if they hit the shared objects.
DESTRUCTIVE = {
    ("DELETE", "/api/v1/orgs/{org_slug}/"): ("org_slug",),
    ("PATCH", "/api/v1/orgs/{org_slug}/"): ("org_slug",),
    ("POST", "/api/v1/orgs/{org_slug}/members/leave/"): ("org_slug",),
    ("DELETE", "/api/v1/orgs/{org_slug}/projects/{project_slug}/"): ("project_slug",),
    ("PATCH", "/api/v1/orgs/{org_slug}/projects/{project_slug}/"): ("project_slug",),
    ("POST", "/api/v1/orgs/{org_slug}/projects/{project_slug}/archive/"): ("project_slug",),
    ("DELETE", "/api/v1/orgs/{org_slug}/projects/{project_slug}/archive/"): ("project_slug",),
    ("DELETE", "/api/v1/me/sessions/{session_id}/"): ("session_id",),
}


def _path_parameters(operation: Any, ids: dict, spare: dict) -> dict[str, str]:
    """Real ids for every path parameter; objects of its own for a destructive operation."""
    names = [p.name for p in operation.path_parameters]
    chosen = {name: ids[name] for name in names if name in ids}
    chosen.update(spare.get((operation.method.upper(), operation.path), {}))
    return chosen


def _fuzz(
    strategy: Any, label: str, base_url: str, headers: dict, seen: Counter, failures: list[str]
) -> None:
    """Send up to :data:`EXAMPLES` cases drawn from ``strategy``; record every answer."""

    @hypothesis.seed(SEED)
    @hypothesis.given(case=strategy)
    @hypothesis.settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
        verbosity=hypothesis.Verbosity.quiet,
    )
    def fuzz(case: Any) -> None:
        try:
            response = case.call(base_url=base_url, headers=headers)
            if not _deliberate_5xx(response):
                case.validate_response(response, checks=[not_a_server_error])
            seen[response.status_code] += 1
        except (Exception, BaseExceptionGroup) as exc:  # failed checks: report them all
            seen["failed"] += 1
            failures.append(f"{label}\n{exc}\n  replay: {case.as_curl_command()}")

    # Negative mode for an operation without inputs: nothing can be made invalid.
    with contextlib.suppress(hypothesis.errors.Unsatisfiable):
        fuzz()


# 5xx answers the API gives on purpose, each registered with its status in the error
# registry: checkout without STRIPE_SECRET_KEY (the fuzz server has none) is 503.
DELIBERATE_5XX = {(503, "billing_not_configured")}


def _deliberate_5xx(response: Any) -> bool:
    if response.status_code < 500:
        return False
    try:
        code = response.json()["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return False
    return (response.status_code, code) in DELIBERATE_5XX


def _tracebacks(log: str, most: int = 5) -> str:
    """The server's tracebacks, one per distinct exception (its last line), so a failure
    seen only in CI says where it came from."""
    seen: dict[str, str] = {}
    for block in log.split("Traceback (most recent call last):")[1:]:
        lines = [line for line in block.splitlines() if line.strip()]
        ending = next((line for line in lines if not line.startswith(" ")), "")
        frames = lines[: lines.index(ending) + 1] if ending else lines
        seen.setdefault(ending, "Traceback (most recent call last):\n" + "\n".join(frames[-12:]))
    shown = list(seen.values())[:most]
    return "\n\n".join(shown) if shown else "(no traceback in the server log)"


def test_no_request_shape_makes_the_server_answer_5xx(server):
    ids, spare, token = real_ids(server)
    schema = schemathesis.openapi.from_url(
        f"{server.url}/api/schema/?format=json", headers={"Authorization": f"Bearer {token}"}
    )
    operations = [result.ok() for result in schema.get_all_operations()]
    # Deletions last, the deepest paths first (a page before its site, a mapping before
    # its integration), so each deletion finds its object.
    operations.sort(key=lambda op: (op.method.upper() == "DELETE", -op.path.count("/")))
    assert len(operations) >= 50, "the served schema lost its operations"
    headers = {"Authorization": f"Bearer {token}"}

    statuses: dict[str, Counter] = defaultdict(Counter)
    failures: list[str] = []
    unreached: list[str] = []
    started = time.monotonic()
    for operation in operations:
        label = f"{operation.method.upper()} {operation.path}"
        parameters = _path_parameters(operation, ids, spare)
        missing = {p.name for p in operation.path_parameters} - set(parameters)
        if missing:
            unreached.append(f"{label}: no real {', '.join(sorted(missing))}")
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            strategy = operation.as_strategy(generation_mode=mode, path_parameters=parameters)
            _fuzz(strategy, label, server.url, headers, statuses[label], failures)

    elapsed = time.monotonic() - started
    total = sum(sum(counter.values()) for counter in statuses.values())
    lines = [f"{'operation':<95} answers"]
    for label, counter in statuses.items():
        lines.append(f"{label:<95} {dict(sorted(counter.items(), key=str))}")
    print("\n".join(lines))
    print(f"\n{len(statuses)} operations, {total} requests in {elapsed:.0f} s")
    print(f"{len(failures)} failed")
    if unreached:
        print("Operations without a real id (only their 404 path is reached):")
        print("\n".join(f"  {line}" for line in unreached))
    log = Path(server.log_path).read_text()
    assert not failures, "\n\n".join(failures[:10]) + f"\n\nserver errors:\n{_tracebacks(log)}"
    # The examples were sent (fewer for operations with few possible inputs), and most
    # operations got past authorization and lookup to the code behind them.
    assert total >= EXAMPLES * len(operations), total
    reached = [label for label, c in statuses.items() if set(c) - {401, 403, 404, 405}]
    assert len(reached) >= 0.9 * len(statuses), sorted(set(statuses) - set(reached))
