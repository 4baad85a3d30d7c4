"""The progress bar: drawn on a terminal (a real pty), plain log lines everywhere else."""

from __future__ import annotations

import datetime as dt
import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

from nexuslims import db
from nexuslims.config import load_settings
from nexuslims.model.session import EventType, Instrument, Status

START = dt.datetime(2024, 3, 5, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def site_env(tmp_path: Path) -> dict[str, str]:
    """Two finished sessions with a few small files each."""
    store = tmp_path / "instrument-data" / "Titan"
    store.mkdir(parents=True)
    env = {"NX_INSTRUMENT_DATA_PATH": str(tmp_path / "instrument-data"),
           "NX_DATA_PATH": str(tmp_path / "data"), "NX_DB_PATH": str(tmp_path / "nx.db"),
           "NX_FILE_STRATEGY": "inclusive", "NX_EXTRACT_WORKERS": "1"}
    settings = load_settings(env)
    db.init_db(settings.db_url)
    engine = db.make_engine(settings.db_url)
    db.add_instrument(engine, Instrument(pid="titan", filestore_path="Titan", timezone="UTC"))
    for day in range(2):
        start = START + dt.timedelta(days=day)
        for i in range(3):
            f = store / f"day{day} notes {i}.txt"
            f.write_text("x\n" * (i + 1))
            t = (start + dt.timedelta(minutes=10 + i)).timestamp()
            os.utime(f, (t, t))
        end = start + dt.timedelta(hours=1)
        for event, when in ((EventType.START, start), (EventType.END, end)):
            db.log_session_event(engine, f"s{day}", "titan", when, event, Status.TO_BE_BUILT)
    engine.dispose()
    clean = {k: v for k, v in os.environ.items() if not k.startswith("NX_")}
    return {**clean, **env, "TERM": "xterm-256color", "COLUMNS": "120"}


def run_in_pty(args: list[str], env: dict[str, str], cwd: Path) -> tuple[int, str]:
    """Run a command with its stdin/stdout/stderr on a new pseudo-terminal."""
    pid, fd = pty.fork()
    if pid == 0:  # child
        os.chdir(cwd)
        os.execve(sys.executable, [sys.executable, *args], env)
    chunks = []
    while True:
        try:
            data = os.read(fd, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    return os.waitstatus_to_exitcode(status), b"".join(chunks).decode("utf-8", "replace")


@pytest.mark.slow
def test_a_terminal_gets_a_bar_with_counts_and_eta(site_env, tmp_path: Path) -> None:
    code, output = run_in_pty(["-m", "nexuslims", "process"], site_env, tmp_path)
    assert code == 0, output
    assert "\x1b[" in output  # drawn with terminal control sequences
    assert "sessions" in output and "ETA" in output
    assert "2/2" in output  # the sessions' count
    assert "━" in output  # rich's bar
    assert "2 built, 0 failed" in output  # the summary still prints


@pytest.mark.slow
def test_quiet_shows_no_bar_even_on_a_terminal(site_env, tmp_path: Path) -> None:
    code, output = run_in_pty(["-m", "nexuslims", "-q", "process"], site_env, tmp_path)
    assert code == 0, output
    assert "━" not in output and "ETA" not in output


@pytest.mark.slow
def test_a_pipe_gets_plain_log_lines(site_env, tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "nexuslims", "process"], env=site_env,
                            cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "\x1b[" not in result.stderr and "━" not in result.stderr
    assert "ETA" not in result.stderr
    assert "[1/2] session s0" in result.stderr and "extracted 3/3 files" in result.stderr
