"""A real NEMO server on 127.0.0.1 for the tests: installed once, seeded, started, stopped.

NEMO (PyPI ``NEMO``) is installed into a cached virtual environment outside the repo,
``${XDG_CACHE_HOME:-~/.cache}/nexuslims-tests/nemo-<version>-py<X.Y>/``, built under a
temporary name and renamed into place when complete, so a half-built one is never used.
Scripts are run as ``python -m django`` because a renamed venv's entry-point scripts
keep the old path in their shebang, while its interpreter finds its site-packages
relative to itself.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

from tests.servers import ServerProcess, cached_venv, free_port

NEMO_VERSION = "8.1.5"
SITE = Path(__file__).resolve().parent / "nemo_site"


def nemo_venv() -> Path:
    """The cached NEMO virtual environment, installed now if absent."""
    return cached_venv(f"nemo-{NEMO_VERSION}", f"NEMO=={NEMO_VERSION}")


class NemoProcess(ServerProcess):
    """One NEMO server: its own SQLite file, timezone and port.

    Parameters
    ----------
    venv
        NEMO's virtual environment.
    workdir
        Where its database, world file and log live.
    template_db
        An empty NEMO database (tables only) to start from.
    world
        What to seed (see ``nemo_site/seed.py``).
    timezone
        The server's TIME_ZONE.
    """

    def __init__(self, venv: Path, workdir: Path, template_db: Path, world: dict,
                 timezone: str):
        self.venv, self.workdir, self.world, self.timezone = venv, workdir, world, timezone
        workdir.mkdir(parents=True, exist_ok=True)
        self.db = workdir / "nemo.sqlite3"
        shutil.copyfile(template_db, self.db)
        (workdir / "world.json").write_text(json.dumps(world))
        self.port = free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def address(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/"

    @property
    def root(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    @property
    def token(self) -> str:
        return self.world["token"]

    def env(self) -> dict[str, str]:
        return nemo_env(self.db, self.timezone)

    def seed(self) -> None:
        run_django(self.venv, [str(SITE / "seed.py"), str(self.workdir / "world.json")],
                   self.env(), module=False)

    def start(self) -> None:
        log = open(self.workdir / "server.log", "ab")  # noqa: SIM115 - lives with the process
        self.proc = subprocess.Popen(
            [str(self.venv / "bin" / "python"), "-m", "django", "runserver",
             f"127.0.0.1:{self.port}", "--noreload", "--skip-checks"],
            env=self.env(), cwd=self.workdir, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                log_text = (self.workdir / "server.log").read_text()[-2000:]
                raise RuntimeError(f"NEMO server exited: {log_text}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("NEMO server did not start within 60 s")


    def ensure_running(self) -> None:
        if not self.running:
            self.start()


def nemo_env(db: Path, timezone: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PYTHON", "DJANGO", "VIRTUAL_ENV", "NX_"))}
    env.update(PYTHONPATH=str(SITE), DJANGO_SETTINGS_MODULE="settings",
               NEMO_TEST_DB=str(db), NEMO_TEST_TZ=timezone, NEMO_TEST_SYNCDB="1",
               NEMO_TEST_MEDIA=str(db.parent))
    return env


def run_django(venv: Path, args: list[str], env: dict[str, str], *,
               module: bool = True) -> None:
    cmd = [str(venv / "bin" / "python"), *(["-m", "django"] if module else []), *args]
    done = subprocess.run(cmd, env=env, cwd=Path(env["NEMO_TEST_DB"]).parent,
                          capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed:\n{done.stdout[-2000:]}\n"
                           f"{done.stderr[-3000:]}")


def empty_database(venv: Path, path: Path) -> Path:
    """A NEMO database with every table and no rows (``migrate --run-syncdb``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    run_django(venv, ["migrate", "--run-syncdb", "-v", "0"], nemo_env(path, "UTC"))
    return path
