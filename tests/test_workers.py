"""The local pool's scheduling (:func:`nexuslims.extract.workers.run_tasks`), in real worker
processes forked from the extraction fork server."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from nexuslims.extract.stage import _pool_context
from nexuslims.extract.workers import Limits, run_tasks


def stamp_and_sleep(folder: str, index: int, seconds: float) -> int:
    """A task: note when it started (in a file named after it), then work a while."""
    Path(folder, f"task-{index}").write_text(repr(time.time()))
    time.sleep(seconds)
    return index


def test_a_worker_starts_its_next_task_while_the_coordinator_handles_a_result(tmp_path):
    # The coordinator builds and exports a session when its last file is in: that may
    # take seconds (an upload). The worker that read the file must not wait for it. The
    # handler of the first result waits (up to a minute) for the second task to start:
    # with the old order, where the worker got its next task only after the handler
    # returned, it never does, whatever the machine's speed.
    handled: list[int] = []
    started_during_handling: list[bool] = []

    def on_result(index: int, result: int) -> None:
        if index == 0:
            deadline = time.monotonic() + 60
            while not (tmp_path / "task-1").exists() and time.monotonic() < deadline:
                time.sleep(0.01)
            started_during_handling.append((tmp_path / "task-1").exists())
        handled.append(index)

    tasks = [(str(tmp_path), i, 0.2) for i in range(3)]
    run_tasks(stamp_and_sleep, tasks, context=_pool_context(), workers=1,
              limits=Limits(timeout=60, memory_mb=0), on_result=on_result)
    assert sorted(handled) == [0, 1, 2]
    assert started_during_handling == [True]


def warn_a_lot(times: int, size: int) -> int:
    """A task that warns like a reader fed a hostile file: ``times`` lines of ``size``."""
    for i in range(times):
        logging.getLogger("somereader").warning("%d %s", i, "x" * size)
    return times


def test_a_workers_warnings_come_back_to_the_pass_bounded_per_file(caplog):
    """What a worker's readers warn is logged by the pass, under its own logger and
    naming the library; a file that makes its reader warn without end gives at most 50
    lines of at most 2,000 characters, and one saying how many more there were."""
    results: dict[int, int] = {}
    with caplog.at_level(logging.WARNING, logger="nexuslims"):
        run_tasks(warn_a_lot, [(2, 10), (10_000, 5_000)], context=_pool_context(), workers=1,
                  limits=Limits(timeout=60, memory_mb=0), on_result=results.__setitem__)
    assert results == {0: 2, 1: 10_000}
    lines = [r.getMessage() for r in caplog.records if r.name == "nexuslims.extract.workers"]
    assert lines[:2] == ["somereader: 0 xxxxxxxxxx", "somereader: 1 xxxxxxxxxx"]
    flood = lines[2:]
    assert len(flood) == 51 and flood[-1] == "and 9950 more warnings while reading that file"
    first = flood[0]
    assert first == "somereader: 0 " + "x" * 1998 + "... (3002 more characters)", first[-40:]
    assert all(x.endswith(f"... ({len(str(n)) + 1 + 5000 - 2000} more characters)")
               for n, x in enumerate(flood[:-1])), flood[-2][-40:]

