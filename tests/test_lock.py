"""The builder lock: a second holder is refused, a dead holder leaves no stale lock."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from nexuslims.errors import LockHeld
from nexuslims.lock import builder_lock


def test_second_holder_is_refused_and_released_after(tmp_path: Path) -> None:
    lock = tmp_path / "data/.builder.lock"
    with builder_lock(lock):
        child = subprocess.run(
            [sys.executable, "-c",
             "from pathlib import Path; from nexuslims.lock import builder_lock\n"
             f"with builder_lock(Path({str(lock)!r})): pass"],
            capture_output=True, text=True)
        assert child.returncode != 0 and "LockHeld" in child.stderr
        with pytest.raises(LockHeld, match="holds"), builder_lock(lock):
            pass
    with builder_lock(lock):
        pass


def test_a_killed_holder_leaves_no_stale_lock(tmp_path: Path) -> None:
    lock = tmp_path / ".builder.lock"
    proc = subprocess.Popen(
        [sys.executable, "-c",
         "import time; from pathlib import Path; from nexuslims.lock import builder_lock\n"
         f"with builder_lock(Path({str(lock)!r})):\n    print('held', flush=True); time.sleep(60)"],
        stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    with pytest.raises(LockHeld, match=f"pid {proc.pid}"), builder_lock(lock):
        pass
    proc.kill()
    proc.wait()
    with builder_lock(lock):
        assert lock.exists()
