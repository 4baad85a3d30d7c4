"""Passes on a Dask cluster (issue 12): the same records as the local pool, and faults.

A real ``dask scheduler`` and two ``dask worker`` processes on 127.0.0.1
(:mod:`tests.dask_cluster`), real instrument files, a real plug-in extractor loaded by
the workers through the ``nexuslims.extractors`` entry point (:mod:`tests.faulty_plugin`),
real signals and ``kill -9``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from nexuslims import db
from nexuslims.builder.run import run_pass
from nexuslims.config import load_settings
from nexuslims.model.session import EventType, Instrument, Status
from tests.dask_cluster import free_port
from tests.history import attempts, stage
from tests.test_extraction_faults import alive, descendants, wait_for

pytestmark = [pytest.mark.corpus, pytest.mark.integration]

REPO = Path(__file__).resolve().parents[1]
START = dt.datetime(2024, 3, 5, 9, 0, tzinfo=dt.UTC)
MIDDLE = dt.datetime(2024, 3, 5, 10, 30, tzinfo=dt.UTC)
END = dt.datetime(2024, 3, 5, 12, 0, tzinfo=dt.UTC)
NOW = dt.datetime(2024, 3, 10, 12, 0, tzinfo=dt.UTC)
FILES = ["digitalmicrograph/test_STEM_image.dm3", "digitalmicrograph/multi_signal.dm3",
         "tiff/FEI-Helios-Ebeam-8bits.tif", "msa/example1.msa"]


def make_site(base: Path, corpus: Path | None, faults: dict[str, str] | None = None,
              two_sessions: bool = False, **env: str):
    """An instrument folder with real files (and plug-in fault files), a database and one
    session (two with ``two_sessions``, split at :data:`MIDDLE`)."""
    store = base / "instr" / "Scope"
    store.mkdir(parents=True)
    named = [(Path(rel).name, corpus / rel) for rel in FILES] if corpus else []
    for i, (name, source) in enumerate(named):
        when = (START + dt.timedelta(minutes=20 + 40 * i)).timestamp()
        os.utime(shutil.copyfile(source, store / name), (when, when))
    for i, (name, says) in enumerate((faults or {}).items()):
        when = (START + dt.timedelta(minutes=25 + i)).timestamp()
        (store / name).write_text(says)
        os.utime(store / name, (when, when))
    full = {"NX_INSTRUMENT_DATA_PATH": str(base / "instr"), "NX_DATA_PATH": str(base / "data"),
            "NX_DB_PATH": str(base / "db.sqlite"), "NX_EXTRACT_WORKERS": "2", **env}
    settings = load_settings(full)
    db.init_db(settings.db_url)
    engine = db.make_engine(settings.db_url)
    db.add_instrument(engine, Instrument(pid="scope", filestore_path="Scope", timezone="UTC"))
    windows = [("s1", START, MIDDLE), ("s2", MIDDLE, END)] if two_sessions \
        else [("s1", START, END)]
    for ident, start, end in windows:
        for event, when in ((EventType.START, start), (EventType.END, end)):
            db.log_session_event(engine, ident, "scope", when, event, Status.TO_BE_BUILT,
                                 "ann")
    engine.dispose()
    return settings, full


def on_cluster(cluster, **env: str) -> dict[str, str]:
    return {"NX_EXECUTOR": "dask", "NX_DASK_SCHEDULER": cluster.address, **env}


def statuses(settings) -> dict[str, str]:
    with sqlite3.connect(settings.db_url.removeprefix("sqlite:///")) as con:
        return dict(con.execute("SELECT session_identifier, record_status FROM session_log "
                                "WHERE event_type = 'END'"))


def cli(env: dict[str, str], plugins: Path, cwd: Path, *args: str) -> subprocess.Popen:
    full = {k: v for k, v in os.environ.items() if not k.startswith("NX_")}
    full.update(env)
    full["PYTHONPATH"] = f"{REPO}{os.pathsep}{plugins}"
    return subprocess.Popen([sys.executable, "-m", "nexuslims", *args], env=full, cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def without_timestamps(xml: str) -> str:
    return re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?([+-]\d\d:\d\d|Z)?", "<time>", xml)


def output(data: Path) -> dict[str, bytes]:
    """Every sidecar and preview under ``data``, by relative path."""
    return {p.relative_to(data).as_posix(): p.read_bytes() for p in sorted(data.rglob("*"))
            if p.is_file() and p.suffix in (".json", ".png")}


@pytest.fixture
def plugin(dask_cluster, monkeypatch):
    """This process loads the same plug-in as the workers (the coordinator may need it)."""
    from tests.faulty_plugin import plugin_loaded

    with plugin_loaded(dask_cluster.plugins, monkeypatch) as site:
        yield site


@pytest.mark.slow
def test_a_pass_on_the_cluster_gives_the_records_of_the_local_pool(dask_cluster, tmp_path,
                                                                   corpus):
    local, _ = make_site(tmp_path / "local", corpus, two_sessions=True)
    # The workers see the instrument data under another path (NX_DASK_DATA_PATH).
    (tmp_path / "mount").mkdir()
    (tmp_path / "mount/instruments").symlink_to(tmp_path / "cluster/instr")
    remote, _ = make_site(tmp_path / "cluster", corpus, two_sessions=True,
                          **on_cluster(dask_cluster,
                                       NX_DASK_DATA_PATH=str(tmp_path / "mount/instruments")))
    by_local = run_pass(local, now=NOW)
    by_cluster = run_pass(remote, now=NOW)

    assert [o.status for o in by_local.outcomes] == [Status.COMPLETED] * 2
    assert [o.status for o in by_cluster.outcomes] == [Status.COMPLETED] * 2
    for mine, theirs in zip(by_local.outcomes, by_cluster.outcomes, strict=True):
        assert (mine.datasets, mine.failures) == (theirs.datasets, theirs.failures)
        assert mine.record_path.name == theirs.record_path.name
        assert without_timestamps(theirs.record_path.read_text()) == \
            without_timestamps(mine.record_path.read_text())
    assert sum(o.datasets for o in by_cluster.outcomes) == len(FILES) + 1  # multi_signal: 2
    # Sidecars and previews: the same bytes, written by the coordinator.
    ours, theirs = output(local.data_path), output(remote.data_path)
    assert sorted(theirs) == sorted(ours)
    assert sum(name.endswith(".png") for name in theirs) == len(FILES) + 1
    assert theirs == ours
    assert statuses(remote) == {"s1": Status.COMPLETED, "s2": Status.COMPLETED}


def test_a_worker_killed_mid_task_costs_its_file_a_retry(dask_cluster, plugin, tmp_path,
                                                         corpus):
    pid_file = tmp_path / "worker.pid"
    settings, _ = make_site(tmp_path, None, {"victim.fault": f"pid {pid_file} 120",
                                             "a.fault": "ok", "b.fault": "ok"},
                            **on_cluster(dask_cluster))
    killed: list[int] = []

    def kill_the_worker() -> None:
        if wait_for(pid_file.exists, 60):
            time.sleep(0.2)
            killed.append(int(pid_file.read_text()))
            os.kill(killed[0], signal.SIGKILL)

    killer = threading.Thread(target=kill_the_worker)
    killer.start()
    started = time.monotonic()
    [outcome] = run_pass(settings, now=NOW).outcomes
    killer.join()
    assert killed, "the slow file never started"
    assert time.monotonic() - started < 100  # not the 120 s the first attempt sleeps
    assert outcome.status == Status.COMPLETED, outcome.message
    assert (outcome.datasets, outcome.failures) == (3, 0)
    sidecar = json.loads((settings.data_path / "Scope/victim.fault.json").read_text())
    [victim] = sidecar["datasets"]
    assert sidecar["extractor"] == "faulty" and victim["error"] is None
    assert victim["nx_meta"]["Worker"] != killed[0]  # read again, by another worker
    assert "victim.fault" in outcome.record_path.read_text()
    dask_cluster.wait_for_workers()  # its nanny started a new one


def test_a_reader_that_kills_its_workers_gives_a_dataset_with_an_error(dask_cluster, plugin,
                                                                       tmp_path, corpus):
    settings, _ = make_site(tmp_path, None, {"poison.fault": "exit", "fine.fault": "ok"},
                            **on_cluster(dask_cluster))
    [outcome] = run_pass(settings, now=NOW).outcomes
    assert outcome.status == Status.COMPLETED, outcome.message
    assert (outcome.datasets, outcome.failures) == (2, 1)
    sidecar = json.loads((settings.data_path / "Scope/poison.fault.json").read_text())
    [poison] = sidecar["datasets"]
    assert "the reader killed its Dask worker 2 times" in poison["error"]
    assert poison["error"] in poison["warnings"]
    fine = json.loads((settings.data_path / "Scope/fine.fault.json").read_text())
    assert fine["datasets"][0]["error"] is None
    record = outcome.record_path.read_text()
    assert "Metadata extraction failed: the reader killed its Dask worker" in record
    [attempt] = attempts(settings.db_url, "s1")
    assert (stage(attempt).status, stage(attempt).failures) == ("partial", 1)
    dask_cluster.wait_for_workers()


def test_files_go_in_consecutive_batches_bounded_in_count_and_bytes():
    from nexuslims.extract.executors import BATCH_BYTES, BATCH_TASKS, batches

    many = batches([1000] * 64 * BATCH_TASKS, slots=2)
    assert [i for run in many for i in run] == list(range(64 * BATCH_TASKS))  # in order
    assert {len(run) for run in many} == {BATCH_TASKS}
    # Few tasks: every worker thread still gets several batches, down to one task each.
    assert {len(run) for run in batches([1000] * 48, slots=2)} == {3}
    assert {len(run) for run in batches([1000] * 5, slots=2)} == {1}
    # A large file alone; small ones up to BATCH_BYTES together.
    sizes = [BATCH_BYTES // 4] * 6 + [BATCH_BYTES * 2] + [10] * 50
    runs = batches(sizes, slots=1)
    assert [len(run) for run in runs[:3]] == [4, 2, 1]
    assert [i for run in runs for i in run] == list(range(len(sizes)))


def test_a_batch_holding_a_poison_file_gives_up_that_file_only(dask_cluster, plugin,
                                                              tmp_path):
    from nexuslims.config import ExecutorChoice
    from nexuslims.extract.executors import DaskExecutor, batches
    from nexuslims.extract.remote import PlainFile, extract_plain
    from nexuslims.extract.workers import Failure
    from nexuslims.extractors.base import ExtractionContext

    names = [f"f{i:02d}.fault" for i in range(40)]
    for name in names:
        (tmp_path / name).write_text("exit" if name == "f21.fault" else "ok")
    tasks = [(tmp_path / name, tmp_path, ExtractionContext(), False) for name in names]
    assert len(next(run for run in batches([1] * 40, 2) if 21 in run)) > 1
    results: dict[int, object] = {}
    executor = DaskExecutor(ExecutorChoice(kind="dask", scheduler=dask_cluster.address,
                                           timeout=30))
    try:
        executor.map(extract_plain, tasks, sizes=[1] * 40, on_result=results.__setitem__)
    finally:
        executor.close()
    assert sorted(results) == list(range(40))
    poison = results.pop(21)
    assert isinstance(poison, Failure)
    assert "the reader killed its Dask worker 2 times" in poison.reason
    # Its batch-mates were read again, alone, and are whole.
    assert all(isinstance(r, PlainFile) and r.datasets[0].nx_meta["Faulty"] == "ok"
               and r.datasets[0].error is None for r in results.values())
    dask_cluster.wait_for_workers()


@pytest.mark.slow
def test_an_unreachable_scheduler_leaves_the_sessions_for_the_next_pass(dask_cluster,
                                                                        tmp_path, corpus):
    nowhere = f"tcp://127.0.0.1:{free_port()}"
    settings, env = make_site(tmp_path, corpus, two_sessions=True, NX_EXECUTOR="dask",
                              NX_DASK_SCHEDULER=nowhere, NX_DASK_TIMEOUT="2",
                              NX_RETRY_DELAY_MINUTES="0")
    first = cli(env, dask_cluster.plugins, tmp_path, "process", "-q")
    out, err = first.communicate(timeout=120)
    assert first.returncode == 0, err
    errors = [line for line in err.splitlines() if nowhere in line]
    assert len(errors) == 1, err
    assert "could not be reached" in errors[0] and "2 session(s) left for later" in errors[0]
    assert "Traceback" not in err
    assert statuses(settings) == {"s1": Status.TO_BE_BUILT, "s2": Status.TO_BE_BUILT}
    # Never read locally instead: no sidecar, no preview.
    assert output(settings.data_path) == {}
    engine = db.make_engine(settings.db_url)
    try:
        [attempt] = db.session_detail(engine, "s1").attempts
        assert attempt.status == "DEFERRED" and attempt.error.startswith("environment:")
        assert nowhere in attempt.error
    finally:
        engine.dispose()

    env["NX_DASK_SCHEDULER"] = dask_cluster.address
    again = cli(env, dask_cluster.plugins, tmp_path, "process", "-q")
    out, err = again.communicate(timeout=300)
    assert again.returncode == 0, err
    assert statuses(settings) == {"s1": Status.COMPLETED, "s2": Status.COMPLETED}


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_stopped_pass_cancels_its_tasks_on_the_cluster(dask_cluster, tmp_path):
    slow = {f"slow{i}.fault": f"pid {tmp_path / f'worker{i}.pid'} 120" for i in range(2)}
    queued = {f"queued{i}.fault": "ok" for i in range(3)}
    settings, env = make_site(tmp_path, None, {**slow, **queued}, **on_cluster(dask_cluster))
    main = cli(env, dask_cluster.plugins, tmp_path, "process")
    try:
        assert wait_for(lambda: all((tmp_path / f"worker{i}.pid").exists()
                                    for i in range(2)), 120), "the workers never got busy"
        os.kill(main.pid, signal.SIGTERM)
        _out, err = main.communicate(timeout=30)
        assert main.returncode == 128 + signal.SIGTERM, err
        assert "stopped by SIGTERM" in err
    finally:
        main.kill()
    # The scheduler forgot the pass's tasks; the files queued behind were never read.
    assert wait_for(lambda: dask_cluster.scheduler_tasks() == 0, 10)
    for i in range(2):  # free the workers still sleeping in the reader
        os.kill(int((tmp_path / f"worker{i}.pid").read_text()), signal.SIGKILL)
    dask_cluster.wait_for_workers()
    time.sleep(1)
    assert not list((tmp_path / "instr/Scope").glob("queued*.tried"))
    assert statuses(settings) == {"s1": Status.TO_BE_BUILT}
    [attempt] = attempts(settings.db_url, "s1")
    assert attempt.status == db.INTERRUPTED
    assert stage(attempt).status == db.INTERRUPTED


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_local_n_starts_a_cluster_for_the_pass_and_stops_it(tmp_path, corpus):
    pytest.importorskip("distributed")
    settings, _ = make_site(tmp_path, corpus, NX_EXECUTOR="local:2")
    before = descendants(os.getpid())
    [outcome] = run_pass(settings, now=NOW).outcomes
    assert outcome.status == Status.COMPLETED, outcome.message
    assert (outcome.datasets, outcome.failures) == (len(FILES) + 1, 0)

    def left() -> dict[int, str]:  # multiprocessing's resource tracker lives on, by design
        cmdlines = {pid: _cmdline(pid) for pid in alive(descendants(os.getpid()) - before)}
        return {pid: c for pid, c in cmdlines.items() if "resource_tracker" not in c}

    assert wait_for(lambda: not left(), 15), left()


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def test_a_bad_executor_setting_is_one_error_and_nothing_is_written(tmp_path):
    env = {"NX_INSTRUMENT_DATA_PATH": str(tmp_path), "NX_DATA_PATH": str(tmp_path / "data"),
           "NX_DB_PATH": str(tmp_path / "db.sqlite"), "NX_EXECUTOR": "dask:4"}
    result = cli(env, tmp_path, tmp_path, "process")
    _out, err = result.communicate(timeout=60)
    assert result.returncode == 1  # a configuration problem, like every other setting's
    assert "NX_EXECUTOR=dask:4: expects local" in err and "Traceback" not in err
    assert not (tmp_path / "data").exists() and not (tmp_path / "db.sqlite").exists()

    env.update(NX_EXECUTOR="dask")
    result = cli(env, tmp_path, tmp_path, "process")
    _out, err = result.communicate(timeout=60)
    assert result.returncode == 1
    assert "NX_DASK_SCHEDULER is not set" in err


def test_a_worker_writes_what_the_coordinator_would_only_where_it_sees_the_marker(
        tmp_path, corpus):
    # A Dask worker that sees NX_DATA_PATH (the pass's marker file is there) writes the
    # previews and sidecar itself; one that does not hands them back. Either way the
    # same bytes land in the same places.
    from nexuslims.extract.cache import fingerprint
    from nexuslims.extract.remote import PlainFile, extract_shared, pass_marker, store_plain
    from nexuslims.extractors.base import ExtractionContext

    root = tmp_path / "instr"
    source = corpus / "digitalmicrograph" / "multi_signal.dm3"
    path = root / "Scope" / source.name
    path.parent.mkdir(parents=True)
    shutil.copyfile(source, path)
    context = ExtractionContext(instrument="Scope")
    stamp = fingerprint(path, location=f"Scope/{source.name}", context=context, previews=True)
    by_worker, by_us = tmp_path / "worker", tmp_path / "us"

    with pass_marker(by_us) as elsewhere:  # a marker in another folder: not seen
        assert elsewhere is not None
        handed = extract_shared(path, root, by_worker, context, True, stamp,
                                elsewhere.replace(str(by_us), str(by_worker)), False)
    assert isinstance(handed, PlainFile) and not by_worker.exists()
    assert not list(by_us.iterdir())  # the marker is gone with its block
    stored = store_plain(handed, path, by_us, fingerprint=stamp)

    with pass_marker(by_worker) as marker:
        written = extract_shared(path, root, by_worker, context, True, stamp, marker, False)
    assert isinstance(written, list) and len(written) == len(stored) > 1
    assert all(d.sources == {} and d.preview is not None for d in written)
    ours = sorted(p.relative_to(by_us) for p in by_us.rglob("*") if p.is_file())
    theirs = sorted(p.relative_to(by_worker) for p in by_worker.rglob("*") if p.is_file())
    assert ours == theirs and any(p.suffix == ".png" for p in ours)
    assert all((by_us / p).read_bytes() == (by_worker / p).read_bytes() for p in ours)
