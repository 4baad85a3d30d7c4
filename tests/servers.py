"""Plumbing shared by the real servers the tests run on 127.0.0.1 (NEMO, CDCS).

Each server's Python packages live in a virtual environment cached outside the repo,
``${XDG_CACHE_HOME:-~/.cache}/nexuslims-tests/<name>/``, built under a temporary name and
renamed into place when complete, so a half-built one is never used.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

PY = f"py{sys.version_info.major}.{sys.version_info.minor}"


def cache_dir() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "nexuslims-tests"


def build_atomically(final: Path, build: Callable[[Path], None]) -> Path:
    """Build ``final`` under a temporary name with ``build(path)``, then rename it."""
    if final.exists():
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    partial = final.with_name(f"{final.name}.partial-{os.getpid()}")
    shutil.rmtree(partial, ignore_errors=True)
    try:
        build(partial)
        try:
            partial.rename(final)
        except OSError:
            if not final.exists():  # not another run's finished one
                raise
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return final


def cached_venv(name: str, requirement: str) -> Path:
    """A cached virtual environment holding ``requirement``, installed now if absent.

    Its scripts must be run as ``<venv>/bin/python -m ...``: a renamed venv's entry-point
    scripts keep the old path in their shebang, while its interpreter finds its packages.
    """

    def install(path: Path) -> None:
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True,
                       capture_output=True, text=True, timeout=120)
        # This interpreter's pip installs into the new venv: no pip bootstrap, no .pyc
        # compilation (Python compiles what it imports).
        pip = subprocess.run(
            [sys.executable, "-m", "pip", "--python", str(path / "bin" / "python"), "install",
             "--quiet", "--no-compile", "--disable-pip-version-check", requirement],
            capture_output=True, text=True, timeout=900)
        if pip.returncode != 0:
            raise RuntimeError(f"pip install {requirement} failed:\n{pip.stderr[-3000:]}")

    return build_atomically(cache_dir() / f"{name}-{PY}", install)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerProcess:
    """A server subprocess that can be stopped and asked whether it still runs."""

    proc: subprocess.Popen | None = None

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None
