"""A site for command-line tests: an initialised SQLite session log, settings in a .env."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from nexuslims.cli import main


class CliSite:
    """A site in ``root`` whose settings are in ``root/.env``; commands run from ``root``."""

    def __init__(self, root: Path):
        self.root = root
        (root / "instr").mkdir()
        self.env = {"NX_INSTRUMENT_DATA_PATH": str(root / "instr"),
                    "NX_DATA_PATH": str(root / "data"),
                    "NX_DB_PATH": str(root / "db.sqlite"),
                    "NX_FILE_STRATEGY": "inclusive", "NX_EXTRACT_WORKERS": "1"}
        (root / ".env").write_text("".join(f"{k}={v}\n" for k, v in self.env.items()))

    def settings(self):
        from nexuslims.config import load_settings

        return load_settings(self.env)

    def settings_url(self) -> str:
        return f"sqlite:///{self.env['NX_DB_PATH']}"

    def db_rows(self) -> int:
        import sqlite3

        with sqlite3.connect(self.env["NX_DB_PATH"]) as con:
            return con.execute("SELECT count(*) FROM session_log").fetchone()[0] \
                + con.execute("SELECT count(*) FROM instruments").fetchone()[0]

    def subprocess(self, *args: str, umask: int | None = None,
                   ) -> subprocess.CompletedProcess[str]:
        """The real command in a child process (stdout and stderr kept apart)."""
        clean = {k: v for k, v in os.environ.items()
                 if not k.startswith(("NX_", "nexusLIMS", "NexusLIMS", "mmfnexus"))}
        return subprocess.run([sys.executable, "-m", "nexuslims", *args], cwd=self.root,
                              env=clean, capture_output=True, text=True, timeout=300,
                              preexec_fn=None if umask is None else (lambda: os.umask(umask)))


@pytest.fixture(autouse=True)
def _logging_restored():
    """``main`` configures the nexuslims loggers for a run; later tests expect them as found."""
    import logging

    saved = [(lg, lg.handlers[:], lg.level, lg.propagate)
             for lg in map(logging.getLogger, ("nexuslims", "nexuslims.events"))]
    yield
    for lg, handlers, level, propagate in saved:
        lg.handlers[:], lg.level, lg.propagate = handlers, level, propagate


@pytest.fixture
def cli_site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliSite:
    for name in list(os.environ):
        if name.startswith(("NX_", "nexusLIMS", "NexusLIMS", "mmfnexus")):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    site = CliSite(tmp_path)
    assert main(["db", "init"]) == 0
    return site


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Run ``nexuslims ARGS`` in this process: exit status, stdout, stderr."""
    capsys.readouterr()
    try:
        code = main(list(args))
    except SystemExit as exc:  # argparse usage errors
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err
