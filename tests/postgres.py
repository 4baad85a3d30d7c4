"""A throw-away PostgreSQL for the tests: a cluster from Debian's binaries, one empty
database per test. The fixtures are registered for the whole suite in tests/conftest.py."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

PG_BIN = Path(os.environ.get("NEXUSLIMS_TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """The URL (without a database) of a PostgreSQL cluster for this test session.

    NEXUSLIMS_TEST_PG_URL (a server's URL ending in ``/``) is used if set; otherwise a
    cluster is made with ``initdb`` in a temporary folder and served by ``pg_ctl`` on a
    free port of 127.0.0.1, trusting local connections, and removed afterwards. As root,
    the binaries run as the ``postgres`` user (PostgreSQL refuses to run as root).
    """
    given = os.environ.get("NEXUSLIMS_TEST_PG_URL")
    if given:
        yield given.rstrip("/") + "/"
        return
    if not (PG_BIN / "initdb").is_file() or not (PG_BIN / "pg_ctl").is_file():
        pytest.skip(f"no PostgreSQL binaries in {PG_BIN}: install Debian's postgresql "
                    "package (or set NEXUSLIMS_TEST_PG_URL)")
    as_user: list[str] = []
    root = Path(tempfile.mkdtemp(prefix="nexuslims-pg-"))
    if os.geteuid() == 0:
        as_user = ["runuser", "-u", "postgres", "--"]
        shutil.chown(root, "postgres", "postgres")
    data, port = root / "data", _free_port()

    def run(*args: str) -> None:
        done = subprocess.run([*as_user, *args], capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"{args[0]} failed: {done.stdout}{done.stderr}")

    try:
        run(str(PG_BIN / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust",
            "-E", "UTF8", "--no-sync")
        run(str(PG_BIN / "pg_ctl"), "-D", str(data), "-l", str(root / "server.log"), "-w",
            "-t", "60", "-o", f"-p {port} -k {root} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c full_page_writes=off -c synchronous_commit=off", "start")
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/"
    finally:
        if (data / "postmaster.pid").exists():
            subprocess.run([*as_user, str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "fast",
                            "-w", "stop"], capture_output=True, timeout=60)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def pg_url(pg_server: str) -> Iterator[str]:
    """A new, empty database on the test PostgreSQL; dropped after the test."""
    import sqlalchemy as sa

    name = f"nx_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(pg_server + "postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    yield pg_server + name
    with admin.connect() as conn:
        conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    admin.dispose()
