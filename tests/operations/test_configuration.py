"""Configuration means what the docs say: every example value of ``.env.example``
starts Django, and the documented ``key:value`` lists parse (issue 22 §5)."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
from django.conf import settings

BASE_DIR = settings.BASE_DIR
# "# NAME=value   # comment": a documented variable with its example value.
EXAMPLE_LINE = re.compile(r"^#?\s*([A-Z][A-Z0-9_]*)=(.*)$")


def example_values() -> dict[str, str]:
    """Every variable of ``.env.example`` that shows a value, uncommented. An empty
    example (``# SECRET_KEY=``) means "unset" and is left out."""
    values = {}
    for line in (BASE_DIR / ".env.example").read_text().splitlines():
        match = EXAMPLE_LINE.match(line.strip())
        if match is None:
            continue
        name, value = match.groups()
        value = re.split(r"\s+#", value, maxsplit=1)[0].strip()
        if value:
            values[name] = value
    return values


def run_check(extra: dict[str, str]) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_"))}
    env.update(extra)
    return subprocess.run(
        [sys.executable, "manage.py", "check"],
        env=env,
        cwd=BASE_DIR,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_env_example_documents_the_stripe_lists_in_the_colon_form():
    values = example_values()
    assert values["STRIPE_PRICE_IDS"] == "pro:price_...,studio:price_..."
    assert len(values) > 60  # the parser found the file's examples


def test_django_starts_with_every_example_value_of_env_example():
    """``manage.py check`` (no database needed) with all of them set at once; once the
    documented ``STRIPE_PRICE_IDS`` form died in django-environ's ``env.dict``."""
    done = run_check(example_values())
    assert done.returncode == 0, done.stderr[-3000:]
    assert "System check identified no issues" in done.stdout


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("STRIPE_PRICE_IDS", "pro=price_1"),
        ("STRIPE_PRICE_IDS", "pro:price_1,pro:price_2"),
        ("STRIPE_METER_EVENTS", "ai_tokens"),
    ],
)
def test_a_malformed_pair_list_stops_startup_with_one_line_naming_it(name, value):
    done = run_check({name: value})
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"Configuration error: {name} must be comma-separated key:value")
    assert f"{name}=" in lines[0]  # shows the expected form


def test_the_documented_form_parses_into_a_mapping():
    code = (
        "import django; django.setup(); from django.conf import settings; "
        "print(sorted(settings.STRIPE_PRICE_IDS.items()), "
        "sorted(settings.STRIPE_METER_EVENTS.items()))"
    )
    env = dict(os.environ)
    env.pop("DJANGO_SETTINGS_MODULE", None)
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        STRIPE_PRICE_IDS=" pro:price_1 , studio:price_2 ",
        STRIPE_METER_EVENTS="ai_tokens:ai_tokens_used",
    )
    done = subprocess.run(  # noqa: S603 - fixed argument list
        [sys.executable, "-c", code],
        env=env,
        cwd=BASE_DIR,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == (
        "[('pro', 'price_1'), ('studio', 'price_2')] [('ai_tokens', 'ai_tokens_used')]"
    )
