"""The share is untrusted (issue 19): real passes over instrument folders someone hostile
(or just unlucky) can write to.

Symlinks to the builder's own secrets, to another instrument's folder and to ``/`` are
never read, previewed, recorded or served; a walk that runs past its time or entry limit
and an empty folder that looks like an unmounted share leave the sessions for a later
pass instead of concluding them.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from nexuslims import db
from nexuslims.builder.run import run_pass
from nexuslims.model.session import Instrument, Status
from tests.history import attempts, stage
from tests.test_pipeline_faults import END, NOW, START, log_session, make_site, put_dm3, status_of

SECRET = "NX_CDCS_TOKEN=sekrit-5b1e0c7d-never-in-a-record"
MID = START + (END - START) / 2


def plant_secret(base: Path) -> Path:
    """The builder's own .env, outside the share, modified during the session."""
    secret = base / "etc" / "nexuslims" / ".env"
    secret.parent.mkdir(parents=True)
    secret.write_text(f"{SECRET}\nNX_EMAIL_SMTP_PASSWORD=also-secret\n")
    os.utime(secret, (MID.timestamp(), MID.timestamp()))
    return secret


def files_holding(root: Path, text: str) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and text.encode() in p.read_bytes()]


@pytest.mark.timeout(300)
def test_links_out_of_the_folder_are_never_extracted_recorded_or_previewed(tmp_path, corpus):
    settings, engine = make_site(tmp_path, NX_FILE_STRATEGY="inclusive")
    folder = tmp_path / "instr" / "Scope"
    put_dm3(corpus, folder, MID)
    secret = plant_secret(tmp_path)
    (folder / "envfile.txt").symlink_to(secret)
    (folder / "etc").symlink_to(secret.parent, target_is_directory=True)
    # Another group's data, one folder over on the same share.
    put_dm3(corpus, tmp_path / "instr" / "Other", MID, "theirs.dm3")
    (folder / "other").symlink_to("../Other", target_is_directory=True)
    (folder / "all").symlink_to("/", target_is_directory=True)
    log_session(engine, "s1")

    (outcome,) = run_pass(settings, now=NOW).outcomes
    assert outcome.status == Status.COMPLETED, outcome.message
    assert outcome.files == 1
    assert outcome.activities == [["Scope/image.dm3"]]
    assert files_holding(tmp_path / "data", "sekrit") == []
    assert files_holding(tmp_path / "data", "theirs") == []
    (attempt,) = attempts(settings.db_url, "s1")
    assert stage(attempt, "find_files").failures == 4  # envfile.txt, etc, other, all
    engine.dispose()


@pytest.mark.timeout(300)
def test_a_walk_past_its_entry_ceiling_defers_that_instrument_only(tmp_path, corpus):
    settings, engine = make_site(tmp_path, NX_FIND_MAX_ENTRIES="20",
                                 NX_RETRY_DELAY_MINUTES="0")
    for i in range(30):
        (tmp_path / "instr" / "Scope" / f"d{i}").mkdir(parents=True)
    put_dm3(corpus, tmp_path / "instr" / "Scope", MID)
    db.add_instrument(engine, Instrument(pid="small", filestore_path="Small", timezone="UTC"))
    put_dm3(corpus, tmp_path / "instr" / "Small", MID)
    log_session(engine, "big")
    log_session(engine, "small-1", instrument="small")

    outcomes = {o.identifier: o for o in run_pass(settings, now=NOW).outcomes}
    assert outcomes["small-1"].status == Status.COMPLETED
    big = outcomes["big"]
    assert big.status == Status.TO_BE_BUILT and big.problem == "filestore"
    assert "NX_FIND_MAX_ENTRIES" in big.message
    assert status_of(engine, "big") == Status.TO_BE_BUILT
    engine.dispose()


def test_an_empty_folder_of_an_instrument_that_had_files_is_no_verdict(tmp_path, corpus):
    settings, engine = make_site(tmp_path, NX_RETRY_DELAY_MINUTES="0")
    folder = tmp_path / "instr" / "Scope"
    put_dm3(corpus, folder, MID)
    log_session(engine, "before")
    (built,) = run_pass(settings, now=NOW).outcomes
    assert built.status == Status.COMPLETED

    # The share is unmounted: its mountpoint is an empty folder.
    shutil.rmtree(folder)
    folder.mkdir()
    later = START.replace(day=START.day + 1)
    log_session(engine, "after", start=later, end=later + (END - START))
    (outcome,) = run_pass(settings, now=NOW).outcomes
    assert outcome.status == Status.TO_BE_BUILT and outcome.problem == "filestore"
    assert "empty" in outcome.message and "unmounted" in outcome.message
    assert status_of(engine, "after") == Status.TO_BE_BUILT
    engine.dispose()


def test_an_empty_folder_of_a_new_instrument_is_still_a_verdict(tmp_path):
    settings, engine = make_site(tmp_path)
    (tmp_path / "instr" / "Scope").mkdir()
    log_session(engine, "first")
    (outcome,) = run_pass(settings, now=NOW).outcomes
    assert outcome.status == Status.NO_FILES_FOUND
    engine.dispose()


@pytest.mark.parametrize("env, words", [
    ({"NX_INSTRUMENT_DATA_MARKER": ".nexuslims-share"}, ".nexuslims-share is missing"),
    ({"NX_INSTRUMENT_DATA_MOUNT": "true"}, "is not a mount point"),
])
def test_a_share_that_fails_the_sites_own_check_concludes_nothing(tmp_path, env, words):
    settings, engine = make_site(tmp_path, NX_RETRY_DELAY_MINUTES="0", **env)
    (tmp_path / "instr" / "Scope").mkdir()
    log_session(engine, "first")
    (outcome,) = run_pass(settings, now=NOW).outcomes
    assert outcome.status == Status.TO_BE_BUILT and outcome.problem == "filestore"
    assert words in outcome.message
    if "NX_INSTRUMENT_DATA_MARKER" in env:
        (tmp_path / "instr" / ".nexuslims-share").write_text("")
        (outcome,) = run_pass(settings, now=NOW).outcomes
        assert outcome.status == Status.NO_FILES_FOUND
    engine.dispose()


def test_a_filestore_path_climbing_out_written_into_the_database_is_not_walked(tmp_path,
                                                                              corpus):
    settings, engine = make_site(tmp_path, filestore="../..")
    put_dm3(corpus, tmp_path / "outside", MID, "not-ours.dm3")
    log_session(engine, "climb")
    summary = run_pass(settings, now=NOW)
    (outcome,) = summary.outcomes
    assert outcome.status == Status.TO_BE_BUILT and outcome.problem == "filestore"
    assert "must stay inside NX_INSTRUMENT_DATA_PATH" in summary.skipped_instruments["scope"]
    assert db.session_detail(engine, "climb").attempts == []
    engine.dispose()


def test_a_file_that_grows_while_it_is_read_is_warned_about_and_not_kept_for_reuse(
        tmp_path, plugin):
    """A copy still in progress: the pass reads it, says so, and reads it again next time."""
    import json
    import threading
    import time

    settings, engine = make_site(tmp_path, NX_FILE_STRATEGY="inclusive")
    folder = tmp_path / "instr" / "Scope"
    folder.mkdir(parents=True)
    growing, pid_file, go = folder / "growing.fault", tmp_path / "worker.pid", tmp_path / "go"
    growing.write_text(f"handshake {pid_file} {go}\n")
    os.utime(growing, (MID.timestamp(), MID.timestamp()))
    log_session(engine, "copying")

    def copy_goes_on() -> None:
        while not pid_file.exists():
            time.sleep(0.05)
        with growing.open("a") as f:
            f.write("x" * 1_000_000)
        os.utime(growing, ((MID.timestamp() + 60),) * 2)
        go.touch()

    writer = threading.Thread(target=copy_goes_on, daemon=True)
    writer.start()
    (outcome,) = run_pass(settings, now=NOW).outcomes
    writer.join(timeout=10)
    assert outcome.status == Status.COMPLETED, outcome.message
    sidecar = json.loads(next((tmp_path / "data").rglob("growing.fault.json")).read_text())
    (dataset,) = sidecar["datasets"]
    assert any("changed since it was found or while it was read" in w
               for w in dataset["warnings"])
    assert "fingerprint" not in sidecar  # not reused: read again on the next build
    engine.dispose()


def test_a_file_swapped_for_a_link_out_after_the_walk_is_not_read(tmp_path, plugin):
    """The walk saw a regular file; by the time a worker gets to it, it is a link to the
    builder's secrets. The worker checks the real path again and does not read it."""
    import threading
    import time

    settings, engine = make_site(tmp_path, NX_FILE_STRATEGY="inclusive")
    folder = tmp_path / "instr" / "Scope"
    folder.mkdir(parents=True)
    secret = plant_secret(tmp_path)
    pid_file, go = tmp_path / "worker.pid", tmp_path / "go"
    gate = folder / "gate.fault"  # read first (older), holds the only worker
    gate.write_text(f"handshake {pid_file} {go}\n")
    os.utime(gate, (MID.timestamp() - 60, MID.timestamp() - 60))
    notes = folder / "notes.txt"
    notes.write_text("operator notes\n")
    os.utime(notes, (MID.timestamp(), MID.timestamp()))
    log_session(engine, "swapped")

    def swap() -> None:
        while not pid_file.exists():
            time.sleep(0.05)
        notes.unlink()
        notes.symlink_to(secret)
        go.touch()

    swapper = threading.Thread(target=swap, daemon=True)
    swapper.start()
    (outcome,) = run_pass(settings, now=NOW).outcomes
    swapper.join(timeout=10)
    assert files_holding(tmp_path / "data", "sekrit") == []
    sidecar = next((tmp_path / "data").rglob("notes.txt.json")).read_text()
    assert "resolves outside its instrument's folder" in sidecar
    assert outcome.files == 2
    engine.dispose()


def test_links_into_an_allowed_volume_are_built_like_the_folders_own_files(tmp_path, corpus):
    import json

    volume = tmp_path / "archive-volume"
    settings, engine = make_site(tmp_path, NX_INSTRUMENT_DATA_ROOTS=json.dumps([str(volume)]))
    folder = tmp_path / "instr" / "Scope"
    put_dm3(corpus, folder, MID)
    put_dm3(corpus, volume / "run1", MID, "archived.dm3")
    (folder / "runs").symlink_to(volume / "run1", target_is_directory=True)
    log_session(engine, "allowed")
    (outcome,) = run_pass(settings, now=NOW).outcomes
    assert outcome.status == Status.COMPLETED, outcome.message
    assert sorted(outcome.activities[0]) == ["Scope/image.dm3", "Scope/runs/archived.dm3"]
    sidecar = json.loads(next((tmp_path / "data").rglob("archived.dm3.json")).read_text())
    assert all(d["error"] is None for d in sidecar["datasets"])
    engine.dispose()


def test_workers_that_mount_the_share_elsewhere_check_the_same_folders(tmp_path):
    from nexuslims.extract.stage import _context_on_worker
    from nexuslims.extractors.base import ExtractionContext

    here, there = tmp_path / "instr", tmp_path / "mnt" / "instruments"
    inside = ExtractionContext(allowed_roots=(str(here / "Scope"),))
    assert _context_on_worker(inside, here, there).allowed_roots == (str(there / "Scope"),)
    assert _context_on_worker(inside, here, here) is inside
    # An extra root outside the share: where a worker mounts it is unknown, so no check.
    extra = ExtractionContext(allowed_roots=(str(here / "Scope"), "/mnt/archive"))
    assert _context_on_worker(extra, here, there).allowed_roots == ()
