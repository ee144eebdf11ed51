"""Traceable logs: the request id of an error body is on every log line of that
request (with the user and the organization), each error response is logged once,
and a background task logs with the id of the request that queued it."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from django_tasks_db.models import DBTaskResult

from config.logs import formatter, logging_config
from tests.helpers import client_for
from tests.organizations.support import run_worker


class Lines:
    """What the server wrote, in the production (JSON) format, one dict a line."""

    def __init__(self, stream: io.StringIO) -> None:
        self.stream = stream

    def all(self) -> list[dict]:
        return [json.loads(line) for line in self.stream.getvalue().splitlines() if line]

    def of_request(self, request_id: str) -> list[dict]:
        return [line for line in self.all() if line.get("request_id") == request_id]


@pytest.fixture
def log_lines() -> Iterator[Lines]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter("json"))
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield Lines(stream)
    finally:
        root.removeHandler(handler)


def _problems(lines: list[dict]) -> list[dict]:
    return [line for line in lines if line["level"] in {"warning", "error", "critical"}]


@pytest.mark.django_db
def test_the_request_id_of_an_error_body_is_on_the_log_lines_of_that_request(personas, log_lines):
    response = personas.client("owner").get("/api/v1/orgs/acme/members/?rol=admin")

    assert response.status_code == 400
    request_id = response.json()["error"]["request_id"]
    assert request_id == response["X-Request-ID"]
    lines = log_lines.of_request(request_id)
    assert [line["event"] for line in lines] == ["request_finished"]  # started is DEBUG
    finished = lines[-1]
    assert finished["code"] == 400
    assert finished["user_id"] == str(personas.users["owner"].id)
    assert finished["org_id"] == str(personas.org.id)
    assert finished["level"] == "warning"
    assert len(_problems(log_lines.all())) == 1  # logged once, not again by django.request


@pytest.mark.django_db
@pytest.mark.urls("tests.api.contract_urls")
def test_every_line_logged_inside_a_request_carries_its_ids(personas, log_lines):
    response = personas.client("owner").get(
        "/test/orgs/acme/logs/", HTTP_X_REQUEST_ID="client-chosen-id-42"
    )

    assert response.status_code == 409
    assert response.json()["error"]["request_id"] == "client-chosen-id-42"
    lines = log_lines.of_request("client-chosen-id-42")
    events = [line["event"] for line in lines]
    assert events == [
        "stdlib line inside the view",
        "structlog line inside the view",
        "request_finished",
    ]
    assert len(lines) == len(log_lines.all())  # no line of the request lacks the id
    for line in lines:
        assert line["user_id"] == str(personas.users["owner"].id), line
        assert line["org_id"] == str(personas.org.id), line
    assert lines[1]["step"] == 2
    assert [line["code"] for line in _problems(lines)] == [409]


@pytest.mark.django_db
@pytest.mark.urls("tests.api.contract_urls")
def test_a_server_error_is_logged_once_with_its_traceback_and_request_id(personas, log_lines):
    client = client_for(personas.users["owner"])
    client.raise_request_exception = False
    response = client.get("/test/orgs/acme/crash/")

    assert response.status_code == 500
    request_id = response.json()["error"]["request_id"]
    assert response.json()["error"]["code"] == "server_error"
    problems = _problems(log_lines.all())
    assert len(problems) == 1
    [failed] = problems
    assert failed["event"] == "request_failed"
    assert failed["request_id"] == request_id
    assert failed["exception"][0]["exc_value"] == "crashed on purpose"
    assert "locals" not in failed["exception"][0]["frames"][-1]  # no variables in logs


@pytest.mark.django_db
def test_anonymous_requests_are_logged_with_their_request_id(client, log_lines):
    response = client.get("/api/v1/orgs/acme/")
    assert response.status_code == 401
    [finished] = _problems(log_lines.of_request(response["X-Request-ID"]))
    assert (finished["event"], finished["code"], finished["user_id"]) == (
        "request_finished",
        401,
        None,
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    "proxies, forwarded, logged",
    [
        (0, "203.0.113.9", "127.0.0.1"),  # no proxy: the header is the client's own words
        (1, "203.0.113.9", "203.0.113.9"),  # written by our one proxy
        (1, "198.51.100.7, 203.0.113.9", "203.0.113.9"),  # the left one: the client's
    ],
)
def test_the_logged_address_trusts_forwarded_headers_only_from_our_proxies(
    client, log_lines, settings, proxies, forwarded, logged
):
    """The same address as the audit trail and the throttles (config/api/client_ip.py):
    a client cannot put an address of its choice in the logs."""
    settings.TRUSTED_PROXY_COUNT = proxies
    response = client.get("/api/v1/orgs/acme/", HTTP_X_FORWARDED_FOR=forwarded)
    [finished] = _problems(log_lines.of_request(response["X-Request-ID"]))
    assert finished["ip"] == logged


@pytest.mark.django_db(transaction=True)
def test_a_background_task_logs_with_the_id_of_the_request_that_queued_it(personas, log_lines):
    response = personas.client("admin").post(
        "/api/v1/orgs/acme/invitations/",
        {"email": "traced@example.test", "role": "viewer"},
        format="json",
        HTTP_X_REQUEST_ID="queued-by-request-7",
    )
    assert response.status_code == 201
    [queued] = DBTaskResult.objects.all()
    assert queued.args_kwargs["kwargs"] == {"_request_id": "queued-by-request-7"}

    run_worker()

    assert DBTaskResult.objects.get().status == "SUCCESSFUL"
    task_lines = [line for line in log_lines.all() if line.get("task_id") == str(queued.id)]
    assert task_lines, log_lines.all()
    for line in task_lines:
        assert line["request_id"] == "queued-by-request-7", line
        assert line["task"] == "organizations.tasks.send_invitation_email"


def test_a_task_queued_outside_a_request_has_no_request_id(db):
    from organizations.tasks import send_invitation_email

    result = send_invitation_email.enqueue("00000000-0000-0000-0000-000000000000")
    assert DBTaskResult.objects.get(id=result.id).args_kwargs["kwargs"] == {}


def test_log_format_is_json_or_console():
    assert logging_config(log_format="json", level="INFO")["handlers"]["console"]["formatter"] == (
        "json"
    )
    with pytest.raises(ValueError, match="LOG_FORMAT"):
        logging_config(log_format="xml", level="INFO")


def test_the_console_format_is_readable(capsys):
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter("console"))
    logger = logging.getLogger("tests.console")
    logger.addHandler(handler)
    try:
        logger.warning("disk %s is full", "sda")
    finally:
        logger.removeHandler(handler)
    line = stream.getvalue()
    assert "disk sda is full" in line and "warning" in line and not line.startswith("{")


@pytest.mark.django_db
def test_a_staff_read_in_the_admin_is_in_the_log_with_the_staff_user(personas, log_lines):
    from django.test import Client

    from tests.helpers import make_user

    staff = make_user("staff-reader@example.test", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(staff)
    url = f"/admin/organizations/organization/{personas.org.id}/change/"
    response = client.get(url)

    assert response.status_code in (200, 302)
    lines = log_lines.of_request(response["X-Request-ID"])
    assert {line["user_id"] for line in lines} == {str(staff.id)}
    [finished] = [line for line in lines if line["event"] == "request_finished"]
    assert finished["request"] == f"GET {url}"
