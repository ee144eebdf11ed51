"""The error contract: one registry of codes, documented, and nothing answered outside it.

Three nets: the sources are scanned for the codes they can raise (every one must be
registered); every error response of the suite passes the request-id middleware,
which refuses (``ERROR_CODES_STRICT``) a code that is not registered or comes with
another status; ``docs/api.md`` must be the registry's table.
"""

from __future__ import annotations

import ast
import importlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.apps import apps
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError

from config import errors
from config.errors import (
    CORE_ERROR_CODES,
    DomainError,
    ErrorRegistryError,
    UnregisteredErrorCode,
    error_codes,
)

# Where a code reaches a response: these callables take it as a positional argument.
_CODE_ARGUMENT = {"error_body": 0, "_json_error": 1}


def _callee_name(node: ast.Call) -> str:
    func = node.func
    if isinstance(func, ast.Attribute):
        return func.attr
    return func.id if isinstance(func, ast.Name) else ""


def _is_domain_error_class(module: object, name: str) -> bool:
    obj = getattr(module, name, None)
    return isinstance(obj, type) and issubclass(obj, DomainError)


def codes_in_source(source: str, module: object | None = None) -> set[tuple[str, int]]:
    """(code, line) for every error code literal the source can answer:
    ``code="..."`` given to an exception or domain error (not to a ``ValidationError``,
    whose codes stay in ``details``), ``default_code = "..."`` and a ``DomainError``
    subclass's ``code = "..."``, and the code argument of ``error_body``/``_json_error``."""
    found: set[tuple[str, int]] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call):
            name = _callee_name(node)
            if name.endswith("ValidationError"):
                continue
            for keyword in node.keywords:
                value = keyword.value
                if (
                    keyword.arg == "code"
                    and isinstance(value, ast.Constant)
                    and isinstance(value.value, str)
                ):
                    found.add((value.value, node.lineno))
            position = _CODE_ARGUMENT.get(name)
            if position is not None and len(node.args) > position:
                arg = node.args[position]
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    found.add((arg.value, node.lineno))
        elif isinstance(node, ast.ClassDef):
            for statement in node.body:
                if not (
                    isinstance(statement, ast.Assign)
                    and len(statement.targets) == 1
                    and isinstance(statement.targets[0], ast.Name)
                    and isinstance(statement.value, ast.Constant)
                    and isinstance(statement.value.value, str)
                ):
                    continue
                target = statement.targets[0].id
                if target == "default_code" or (
                    target == "code"
                    and (module is None or _is_domain_error_class(module, node.name))
                ):
                    found.add((statement.value.value, statement.lineno))
    return found


def project_sources() -> Iterator[tuple[Path, str]]:
    """(path, module name) of every source file of the project's apps and of ``config``
    (migrations left out; the tests are not a source of responses)."""
    base = Path(settings.BASE_DIR)
    roots = [apps.get_app_config(label).path for label in _project_labels()] + [
        str(base / "config")
    ]
    for root in map(Path, roots):
        for path in sorted(root.rglob("*.py")):
            if "migrations" in path.parts:
                continue
            module = ".".join(path.relative_to(base).with_suffix("").parts)
            yield path, module.removesuffix(".__init__")


def _project_labels() -> list[str]:
    names = set(errors.project_app_modules())
    return [c.label for c in apps.get_app_configs() if c.name in names]


def test_the_project_apps_are_found_including_the_new_ones():
    found = set(errors.project_app_modules())
    expected = {"accounts", "organizations", "audit", "projects", "sites", "integrations"}
    assert expected | {"billing"} <= found
    assert not found & {"rest_framework", "django_filters", "django_structlog", "django_tasks"}


def test_every_code_the_sources_can_answer_is_registered():
    registered = error_codes()
    unregistered = []
    scanned = 0
    for path, module_name in project_sources():
        module = importlib.import_module(module_name)
        for code, line in codes_in_source(path.read_text(), module):
            scanned += 1
            if code not in registered:
                unregistered.append(f"{path.relative_to(settings.BASE_DIR)}:{line}: {code}")
    assert scanned > 30  # the scan sees the project's codes
    assert unregistered == [], "register these codes in an <app>/errors.py:\n" + "\n".join(
        unregistered
    )


def test_the_scan_finds_each_way_of_answering_a_code():
    source = """
class Gone(DomainError):
    status_code = 410
    code = "gone_for_good"

class Teapot(APIException):
    default_code = "short_and_stout"

def view():
    raise exceptions.PermissionDenied("no", code="needs_coffee")
    raise Conflict("x", code="double_booked")
    raise serializers.ValidationError("x", code="field_level_only")
    return error_body("handmade", "message")
    return _json_error(418, "also_handmade", "message")
"""
    assert {code for code, _ in codes_in_source(source)} == {
        "gone_for_good",
        "short_and_stout",
        "needs_coffee",
        "double_booked",
        "handmade",
        "also_handmade",
    }


def test_each_core_code_has_a_status_and_a_meaning():
    for code, (status, meaning) in CORE_ERROR_CODES.items():
        assert 400 <= status <= 599, code
        assert meaning.strip() and code == code.lower(), code


def test_the_registry_collects_each_apps_errors_module(monkeypatch):
    modules = errors.project_app_modules()
    monkeypatch.setattr(errors, "project_app_modules", lambda: [*modules, "tests.api.fakeapp"])
    error_codes.cache_clear()
    try:
        registry = error_codes()
        assert (registry["fake_locked"].status, registry["fake_locked"].source) == (
            423,
            "tests.api.fakeapp.errors",
        )
        # A repeated code keeps the first registration (the core table's meaning).
        assert registry["slug_taken"].source == "config.errors"
    finally:
        error_codes.cache_clear()


def test_an_app_contradicting_a_registered_status_is_refused(monkeypatch):
    from tests.api.fakeapp import errors as fake

    modules = errors.project_app_modules()
    monkeypatch.setattr(errors, "project_app_modules", lambda: [*modules, "tests.api.fakeapp"])
    monkeypatch.setitem(fake.ERROR_CODES, "not_found", (410, "Contradicts the core table."))
    error_codes.cache_clear()
    try:
        with pytest.raises(ErrorRegistryError, match="not_found"):
            error_codes()
    finally:
        error_codes.cache_clear()


def test_docs_api_md_lists_the_registry():
    call_command("errors_doc", "--check")
    text = (Path(settings.BASE_DIR) / "docs" / "api.md").read_text()
    for code, entry in error_codes().items():
        assert f"| {entry.status} | `{code}` |" in text


def test_errors_doc_check_fails_when_the_table_is_stale(monkeypatch):
    monkeypatch.setitem(CORE_ERROR_CODES, "brand_new", (409, "Not documented yet."))
    error_codes.cache_clear()
    try:
        with pytest.raises(CommandError, match="stale"):
            call_command("errors_doc", "--check")
    finally:
        error_codes.cache_clear()


# --- the runtime guard ---------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.urls("tests.api.contract_urls")
def test_a_view_answering_an_unregistered_code_fails_loudly(personas):
    with pytest.raises(UnregisteredErrorCode, match="made_up_by_a_test"):
        personas.client("owner").get("/test/orgs/acme/unregistered/")


@pytest.mark.django_db
@pytest.mark.urls("tests.api.contract_urls")
def test_a_registered_code_with_another_status_fails_loudly(personas):
    with pytest.raises(UnregisteredErrorCode, match="registered as 409 but answered 400"):
        personas.client("owner").get("/test/orgs/acme/wrong-status/")


@pytest.mark.django_db
@pytest.mark.urls("tests.api.contract_urls")
def test_outside_strict_mode_an_unregistered_code_is_logged_as_an_error(personas, settings, caplog):
    settings.ERROR_CODES_STRICT = False
    response = personas.client("owner").get("/test/orgs/acme/unregistered/")

    assert response.status_code == 409
    problems = [r for r in caplog.records if "error_code_unregistered" in str(r.msg)]
    assert len(problems) == 1 and problems[0].levelname == "ERROR"


@pytest.mark.django_db
def test_registered_codes_pass_the_guard(personas):
    response = personas.client("owner").get("/api/v1/orgs/acme/members/?page_size=0")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"
