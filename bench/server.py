"""Gunicorn servers for the web workloads, started and stopped by the bench.

Every server is the same gunicorn (sync workers, the production default of
``gunicorn config.wsgi``), the same number of workers, bound to 127.0.0.1 on
a free port; only the WSGI app and its environment differ:

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
GUNICORN = Path(sys.executable).parent / "gunicorn"


@dataclass
class Server:
    """One gunicorn master and its workers; a context manager that stops it on exit."""

    name: str
    app: str
    env: dict[str, str]
    workers: int
    log: Path
    port: int = 0
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> Server:
        self.port = loadgen.free_port()
        self.log.parent.mkdir(parents=True, exist_ok=True)
        command = [
            str(GUNICORN),
            self.app,
            f"--bind={loadgen.HOST}:{self.port}",
            f"--workers={self.workers}",
            "--worker-class=sync",
            "--timeout=120",
            "--log-level=warning",
            f"--chdir={BASE_DIR}",
        ]
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(  # noqa: S603 - fixed argument list
                command,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            loadgen.wait_until_up(self.port, timeout=90, path="/ping")
        except TimeoutError as exc:
            self.stop()
            raise RuntimeError(f"{self.name} did not start; see {self.log}") from exc
        return self

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)  # graceful: the master stops its workers
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
