"""No file stops the extract stage: time limit, memory ceiling, lost workers, poison files,
absurd headers; and no worker outlives the process that started it.

Everything runs in real worker processes (the fork-server pool of
:mod:`nexuslims.extract.workers`), with a real plug-in extractor loaded through the
``nexuslims.extractors`` entry point, real signals and real instrument files.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from nexuslims.extract.stage import extract_files
from nexuslims.extract.workers import Limits
from nexuslims.extractors.base import ExtractionContext
from tests.faulty_plugin import make_plugin_site
from tests.hostile_files import write_huge_hspy, write_huge_mrc, write_huge_tiff

CTX = ExtractionContext()
REPO = Path(__file__).resolve().parents[1]


def fault(folder: Path, name: str, says: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(says)
    return path


NO_CEILING = Limits(timeout=60, memory_mb=0)


def extract(files, root, data=None, *, workers=2, limits=NO_CEILING):
    return extract_files(files, instrument_root=root, data_root=data, context=CTX,
                         workers=workers, limits=limits)


def test_a_file_past_the_time_limit_gets_basic_metadata_and_its_worker_is_replaced(
        plugin, tmp_path):
    slow = fault(tmp_path / "in", "slow.fault", "sleep 600")
    after = [fault(tmp_path / "in", f"ok{i}.fault", "ok") for i in range(3)]
    started = time.monotonic()
    datasets = extract([slow, *after], tmp_path / "in", workers=1,
                       limits=Limits(timeout=2, memory_mb=0))
    assert time.monotonic() - started < 60
    first, *rest = datasets
    assert first.extractor == "basic" and "time limit" in first.error
    assert "NX_EXTRACT_TIMEOUT=2" in first.error
    assert first.nx_meta["File Size (bytes)"] == slow.stat().st_size
    # the file after it ran in a new worker
    assert [d.extractor for d in rest] == ["faulty"] * 3 and not any(d.error for d in rest)


def test_a_worker_past_the_memory_ceiling_is_stopped_and_the_file_says_so(plugin, tmp_path):
    hog = fault(tmp_path / "in", "hog.fault", "hog 3072")
    fine = fault(tmp_path / "in", "fine.fault", "ok")
    datasets = extract([hog, fine], tmp_path / "in", workers=1,
                       limits=Limits(timeout=120, memory_mb=1500))
    assert datasets[0].extractor == "basic"
    assert "NX_EXTRACT_MEMORY_MB=1500" in datasets[0].error
    assert datasets[1].extractor == "faulty" and datasets[1].error is None


def test_a_worker_that_dies_costs_one_retry_and_a_poison_file_gets_an_error(plugin, tmp_path):
    root = tmp_path / "in"
    files = [fault(root, "once.fault", "exit-once"), fault(root, "killed.fault", "kill-once"),
             fault(root, "poison.fault", "exit")]
    files += [fault(root, f"ok{i}.fault", "ok") for i in range(6)]
    datasets = extract(files, root, workers=2)
    by_name = {d.name: d for d in datasets}
    assert len(datasets) == len(files)
    # died on the first attempt, read on the second
    assert by_name["once.fault"].extractor == "faulty" and by_name["once.fault"].error is None
    assert by_name["killed.fault"].extractor == "faulty"
    poison = by_name["poison.fault"]
    assert poison.extractor == "basic" and "poison" in poison.error
    assert "killed its worker 2 times" in poison.error and "exited with code 3" in poison.error
    assert all(by_name[f"ok{i}.fault"].error is None for i in range(6))


def test_kill_9_of_a_real_worker_costs_its_file_one_retry(plugin, tmp_path):
    root = tmp_path / "in"
    pid_file = tmp_path / "worker.pid"
    files = [fault(root, "victim.fault", f"pid {pid_file} 120")]
    files += [fault(root, f"ok{i}.fault", "ok") for i in range(8)]

    def killer() -> None:
        deadline = time.monotonic() + 120
        while not pid_file.exists() or not pid_file.read_text():
            if time.monotonic() > deadline:
                return
            time.sleep(0.05)
        os.kill(int(pid_file.read_text()), signal.SIGKILL)

    thread = threading.Thread(target=killer)
    thread.start()
    started = time.monotonic()
    datasets = extract(files, root, workers=2)
    thread.join()
    assert time.monotonic() - started < 100  # not the 120 s sleep
    victim = datasets[0]
    assert victim.extractor == "faulty" and victim.error is None
    assert victim.nx_meta["Worker"] != int(pid_file.read_text())  # a new worker read it
    assert all(d.extractor == "faulty" and d.error is None for d in datasets)


@pytest.mark.parametrize(("command", "said"), [
    ("preview-none", "renderer wrote no image"),
    ("preview-half", "No space left on device"),
])
def test_a_plugin_renderer_that_writes_nothing_or_half_leaves_a_placeholder(
        plugin, tmp_path, command, said):
    # A plug-in's renderer draws into a temporary file that is checked before it is
    # moved into place: a reader of the preview never sees half a PNG.
    from PIL import Image

    store, out = tmp_path / "store", tmp_path / "out"
    (dataset,) = extract([fault(store, "a.fault", command)], store, out, workers=1)
    assert dataset.preview == out / "a.fault.thumb.png"
    with Image.open(dataset.preview) as image:
        image.load()  # a whole PNG: the placeholder
        assert image.size[0] == 500
    assert any(said in w and "placeholder" in w for w in dataset.warnings), dataset.warnings
    assert sorted(p.name for p in out.iterdir()) == ["a.fault.json", "a.fault.thumb.png"]


@pytest.mark.parametrize("writer", [write_huge_mrc, write_huge_hspy])
def test_a_header_claiming_absurd_dimensions_is_reported_not_read(writer, tmp_path):
    root = tmp_path / "in"
    root.mkdir()
    path = writer(root / ("huge.mrc" if writer is write_huge_mrc else "huge.hspy"))
    started = time.monotonic()
    [dataset] = extract([path], root, tmp_path / "data", workers=1,
                        limits=Limits(timeout=60, memory_mb=0))
    assert time.monotonic() - started < 60
    assert dataset.extractor == "basic"
    assert dataset.error.startswith("header claims 100000 x 100000 x 100000 ")
    assert "not read" in dataset.error and "time limit" not in dataset.error
    assert dataset.nx_meta["File Size (bytes)"] == path.stat().st_size
    assert dataset.preview.is_file()  # the placeholder


def test_a_tiff_claiming_absurd_dimensions_keeps_its_tags_and_gets_a_placeholder(tmp_path):
    root = tmp_path / "in"
    root.mkdir()
    files = [write_huge_tiff(root / "huge.tif"),
             write_huge_tiff(root / "huge_deflate.tif", compression="zlib")]
    for dataset in extract(files, root, tmp_path / "data", workers=1,
                           limits=Limits(timeout=60, memory_mb=400)):
        assert dataset.extractor == "tiff" and dataset.error is None
        assert dataset.nx_meta["Image Width (pixels)"] == 100_000
        assert any("header claims 100000 x 100000 uint8" in w for w in dataset.warnings)
        assert any("DecompressionBombError" in w for w in dataset.warnings)
        assert dataset.preview.read_bytes()[:4] == b"\x89PNG"


def descendants(pid: int) -> set[int]:
    """Every process below ``pid``, read from /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as handle:
                    ppid = int(handle.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def alive(pids: set[int]) -> set[int]:
    """Those of ``pids`` still running (zombies count as gone)."""
    out = set()
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as handle:
                if handle.read().rsplit(")", 1)[1].split()[0] != "Z":
                    out.add(pid)
        except OSError:
            pass
    return out


def wait_for(predicate, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return predicate()


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_workers_die_with_their_parent_after_kill_9(tmp_path):
    site = make_plugin_site(tmp_path / "site")
    root = tmp_path / "in"
    pid_file = tmp_path / "worker.pid"
    fault(root, "hang.fault", f"pid {pid_file} 600")
    for i in range(8):  # enough files for the old code to use its process pool
        fault(root, f"ok{i}.fault", "ok")
    env = {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{site}"}
    main = subprocess.Popen([sys.executable, "-m", "nexuslims", "extract", str(root)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert wait_for(pid_file.exists, 120), "the worker never started"
        tree = descendants(main.pid)
        assert int(pid_file.read_text()) in tree  # the fork server's child
        assert len(tree) >= 3  # resource tracker, fork server, workers
        main.kill()
        main.wait()
        assert wait_for(lambda: not alive(tree), 5), f"left behind: {alive(tree)}"
    finally:
        main.kill()
        for pid in alive(descendants(main.pid)):
            os.kill(pid, signal.SIGKILL)


def test_in_process_extraction_reads_without_workers(tmp_path, corpus):
    root = tmp_path / "in"
    root.mkdir()
    shutil.copy(corpus / "digitalmicrograph/test-EELS_spectrum.dm3", root / "eels.dm3")
    [dataset] = extract([root / "eels.dm3"], root, workers=0)
    assert dataset.extractor == "digitalmicrograph" and dataset.error is None


def test_idle_workers_serve_the_next_call_and_a_dead_one_is_replaced(plugin, tmp_path):
    from nexuslims.extract.workers import stop_idle_workers

    stop_idle_workers()
    root = tmp_path / "in"
    first = extract([fault(root, "a.fault", "ok")], root, workers=1)[0].nx_meta["Worker"]
    second = extract([fault(root, "b.fault", "ok")], root, workers=1)[0].nx_meta["Worker"]
    assert second == first  # no new worker: no imports paid again by the next session
    os.kill(first, signal.SIGKILL)  # an idle worker lost between calls costs nothing
    wait_for(lambda: not alive({first}), 5)
    [third] = extract([fault(root, "c.fault", "ok")], root, workers=1)
    assert third.error is None and third.nx_meta["Worker"] != first


def test_workers_start_when_TMPDIR_is_too_long_for_a_unix_socket(corpus, tmp_path):
    # A batch system's per-job scratch folder: multiprocessing would put the fork
    # server's socket under it, past the 107 bytes a Unix socket path may have.
    deep = tmp_path / ("scratch-" + "j" * 40) / ("job-" + "1" * 40)
    deep.mkdir(parents=True)
    assert len(str(deep)) > 90
    dm3 = corpus / "digitalmicrograph" / "test_STEM_image.dm3"
    out = tmp_path / "previews"
    done = subprocess.run(
        [sys.executable, "-m", "nexuslims", "extract", str(dm3), "--preview-dir", str(out)],
        capture_output=True, text=True, timeout=300,
        env={**os.environ, "TMPDIR": str(deep), "PYTHONPATH": str(REPO)})
    assert done.returncode == 0, done.stderr[-2000:]
    assert "failed: 0" in done.stderr and "AF_UNIX" not in done.stderr
    assert (out / "test_STEM_image.dm3.json").is_file()
    assert list(out.glob("test_STEM_image.dm3*.png"))
