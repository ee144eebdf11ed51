"""``make bench`` runs the platform with production settings: the environment it builds
must hold every setting production refuses to start without (a new required secret
once broke the whole benchmark, unnoticed until it was run)."""

from __future__ import annotations

import subprocess
import sys

from django.conf import settings

from bench.run import BASE_DIR, production_env, run_keys


def test_the_bench_production_environment_starts_django():
    env = production_env("postgres://bench@127.0.0.1:1/bench", run_keys())
    check = (
        "import django; django.setup(); from django.conf import settings; "
        "print(settings.PRODUCTION, settings.DEBUG)"
    )
    done = subprocess.run(  # noqa: S603 - fixed argument list
        [sys.executable, "-c", check],
        env=env,
        cwd=BASE_DIR,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["True", "False"]
    assert settings.TESTING  # this process's own settings are untouched
