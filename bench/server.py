"""The HTTP servers of the web workloads, started and stopped by the bench.

The server is part of the measurement (issue 21), so every application is run on
the same candidate servers, each bound to 127.0.0.1 on a free port with the same
number of worker processes:

* ``sync``    - gunicorn's sync workers (one request at a time per process; what
  ``gunicorn config.wsgi`` runs);
* ``gthread`` - gunicorn's threaded workers (``--threads``; Django and the floor open
  one database connection per thread);
* ``granian`` - granian's WSGI interface (a Rust HTTP server; the application runs on
  ``--blocking-threads`` Python threads per worker).

``PRODUCTION_SERVER`` is the one the targets are judged on (README, "Production"); the
others are measured for the platform and the floor side by side so the choice can be
re-made from the figures. The applications:

* ``app``    - ``config.wsgi`` with production settings, as the app role (RLS applies);
* ``bypass`` - the same, as the owner role (BYPASSRLS; the selectors filter by org);
* ``floor``  - ``bench.floor`` (plain psycopg + orjson), as the app role.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from bench import loadgen

BASE_DIR = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
GUNICORN = BIN / "gunicorn"
GRANIAN = BIN / "granian"

SERVER_KINDS = ("sync", "gthread", "granian")
# What the targets are judged on; the README's production section says why.
PRODUCTION_SERVER = "sync"
THREADS = int(os.environ.get("BENCH_THREADS", "4"))
KIND_LABELS = {
    "sync": "gunicorn sync",
    "gthread": f"gunicorn gthread ({THREADS} threads)",
    "granian": f"granian WSGI ({THREADS} blocking threads)",
    "uvicorn": "uvicorn ASGI (uvloop, httptools)",
    "granian-asgi": "granian ASGI",
}
# ASGI servers (``bench/realtime.py``: the live feed and the API through ``config.asgi``).
ASGI_KINDS = ("uvicorn", "granian-asgi")


def command(kind: str, app: str, port: int, workers: int) -> list[str]:
    """The command line that serves ``app`` (``module`` or ``module:callable``)."""
    target = app if ":" in app else f"{app}:application"
    if kind == "uvicorn":
        # As the brief of issue 19 runs the feed: one process (no supervisor with 1 worker).
        return [
            sys.executable,
            "-m",
            "uvicorn",
            target,
            f"--host={loadgen.HOST}",
            f"--port={port}",
            f"--workers={workers}",
            "--no-access-log",
            "--log-level=warning",
            "--lifespan=on",
        ]
    if kind == "granian-asgi":
        return [
            str(GRANIAN),
            target,
            "--interface=asgi",
            f"--host={loadgen.HOST}",
            f"--port={port}",
            f"--workers={workers}",
            "--no-ws",
            "--log-level=warning",
            f"--working-dir={BASE_DIR}",
        ]
    if kind == "granian":
        return [
            str(GRANIAN),
            target,
            "--interface=wsgi",
            f"--host={loadgen.HOST}",
            f"--port={port}",
            f"--workers={workers}",
            f"--blocking-threads={THREADS}",
            "--no-ws",
            "--log-level=warning",
            f"--working-dir={BASE_DIR}",
        ]
    if kind not in ("sync", "gthread"):
        kinds = ", ".join((*SERVER_KINDS, *ASGI_KINDS))
        raise ValueError(f"unknown server kind {kind!r} (one of {kinds})")
    return [
        str(GUNICORN),
        app,
        f"--bind={loadgen.HOST}:{port}",
        f"--workers={workers}",
        f"--worker-class={kind}",
        *([f"--threads={THREADS}"] if kind == "gthread" else []),
        "--timeout=120",
        "--log-level=warning",
        f"--chdir={BASE_DIR}",
    ]


def _children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        return found
    for task in tasks:
        try:
            found += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


def rss_mb(pid: int) -> float | None:
    """Resident memory of one process in MB (``VmRSS``), None once it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


@dataclass
class Server:
    """One server (master and workers) for one application; a context manager that stops it
    on exit."""

    name: str
    app: str
    env: dict[str, str]
    workers: int
    log: Path
    kind: str = PRODUCTION_SERVER
    port: int = 0
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> Server:
        self.port = loadgen.free_port()
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(  # noqa: S603 - fixed argument list
                command(self.kind, self.app, self.port, self.workers),
                env=self.env,
                cwd=BASE_DIR,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            loadgen.wait_until_up(self.port, timeout=90, path="/ping")
        except TimeoutError as exc:
            self.stop()
            raise RuntimeError(f"{self.name} ({self.kind}) did not start; see {self.log}") from exc
        return self

    def worker_rss_mb(self) -> list[float]:
        """Resident memory of each worker process (the master's children), in MB."""
        if self.process is None:
            return []
        sizes = [rss_mb(pid) for pid in _children(self.process.pid)]
        return sorted(s for s in sizes if s is not None)

    def serving_pids(self) -> list[int]:
        """The processes that serve requests: the workers, or the server itself when it has
        none (uvicorn with one worker runs in one process)."""
        if self.process is None:
            return []
        return _children(self.process.pid) or [self.process.pid]

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        # Graceful: the master stops its workers. The whole session (start_new_session)
        # is this server's own: killed only if it does not stop in time.
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
