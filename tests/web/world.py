"""A small world for the web tests: a demo site built by a real pass, plus records.

:func:`build_site` runs ``nexuslims.demo.create_site`` and one recorded pass (the real
pipeline: extraction, previews, record, index), then adds records written the way the
builder writes them (:func:`nexuslims.record.build.build_record`, then the index hook):

- ``xss``: title, sample name and a metadata value holding HTML/script payloads;
- ``searchable``: a sample with a distinctive name, for search;
- ``big``: 1,000 datasets in 10 activities, each with a small preview;
- ``traps``: datasets whose location/preview escape their root (``..``, absolute,
  URL-encoded, backslashes, symlinks), each pointing at a secret file outside.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from dotenv import dotenv_values
from PIL import Image

from nexuslims import db
from nexuslims.cli.demo import run_demo
from nexuslims.config import Settings, load_settings
from nexuslims.demo.files import DEMO_INSTRUMENT
from nexuslims.model.dataset import Dataset
from nexuslims.model.session import EventType, Instrument, Status
from nexuslims.record.build import Activity, build_record
from nexuslims.record.index import index_record
from nexuslims.reservations import Project, Reservation, Sample
from tests.servers import ServerProcess, free_port

REPO = Path(__file__).resolve().parents[2]
XSS = '<script>window.__xss=1</script>"><img src=x onerror="window.__xss=2">'
SECRET = "TOP-SECRET-do-not-serve"
SEARCH_SAMPLE = "Quasicrystal lamella QX-417"
OTHER_INSTRUMENT = "JEOL-ARM-web-test"
BIG_DATASETS = 1000
BIG_ACTIVITIES = 10

#: Locations of the trap record's datasets (its previews and sidecars add .thumb.png and
#: .json); each reaches outside/secret.txt* if followed naively.
TRAPS = [
    "../../outside/secret.txt",
    "{outside}/secret.txt",
    "%2e%2e/%2e%2e/outside/secret.txt",
    "..%2f..%2foutside%2fsecret.txt",
    "..\\..\\outside\\secret.txt",
    "Titan/escape/secret.txt",
    "Titan/linked.txt",
]


@dataclass
class Site:
    root: Path
    settings: Settings
    demo_record: int
    env: dict[str, str]
    """What ``nexuslims demo`` told to set for ``nexuslims serve``, plus the file store."""
    records: dict[str, int] = field(default_factory=dict)

    @property
    def db_url(self) -> str:
        assert self.settings.db_url is not None
        return self.settings.db_url


def build_site(root: Path) -> Site:
    """The site ``nexuslims demo`` builds (one real pass), plus the records above.

    The server is started with the ``.env`` the demo tells ``nexuslims serve`` to use.
    """
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert run_demo(root / "site") == 0
    printed = out.getvalue()
    line = next(ln for ln in printed.splitlines() if "nexuslims serve --env-file" in ln)
    env_file = Path(line.split("--env-file", 1)[1].split()[0])
    env = {k: v for k, v in dotenv_values(env_file).items() if v is not None}
    assert "http://127.0.0.1:8080/" in printed
    env["NX_INSTRUMENT_DATA_PATH"] = str(root / "site/instrument-data")
    settings = load_settings(env)
    assert settings.db_url is not None
    engine = db.make_engine(settings.db_url)
    try:
        db.add_instrument(engine, Instrument(OTHER_INSTRUMENT, "ARM", timezone="Europe/Berlin"))
        demo_record = _only_record(engine)
        site = Site(root, settings, demo_record, env)
        site.records["xss"] = add_record(engine, settings, "xss", title=XSS, datasets=2,
                                         sample=XSS, meta_value=XSS)
        site.records["searchable"] = add_record(
            engine, settings, "searchable", title="Tilt series of a quasicrystal",
            datasets=3, sample=SEARCH_SAMPLE, instrument=OTHER_INSTRUMENT)
        site.records["big"] = add_record(engine, settings, "big", title="A very long session",
                                         datasets=BIG_DATASETS, activities=BIG_ACTIVITIES)
        site.records["traps"] = add_traps(engine, settings, root)
    finally:
        engine.dispose()
    return site


def _only_record(engine) -> int:  # type: ignore[no-untyped-def]
    from nexuslims.db.records import RecordQuery, search_records

    total, records = search_records(engine, RecordQuery())
    assert total == 1, "the real pass indexed its record"
    return records[0].id


def add_record(engine, settings: Settings, name: str, *, title: str, datasets: int,  # type: ignore[no-untyped-def]
               activities: int = 1, sample: str | None = None, meta_value: str = "300",
               instrument: str = DEMO_INSTRUMENT["pid"], hostile: list[str] | None = None
               ) -> int:
    """Write a record as the builder does (XML, previews, session rows, index); its id."""
    assert settings.data_path and settings.records_path and settings.instrument_data_path
    inst = db.load_instruments(engine)[instrument]
    tz = inst.tzinfo
    start = dt.datetime(2024, 3, 5, 9, 0, tzinfo=tz) + dt.timedelta(days=len(name))
    folder = f"web-test/{name}"
    all_sets: list[Dataset] = []
    for i in range(datasets):
        location = f"TRAP{i:02d}" if hostile else f"{folder}/file_{i:04d}.dm4"
        preview = f"{location}.thumb.png"
        if not hostile:
            png = settings.data_path / preview
            png.parent.mkdir(parents=True, exist_ok=True)
            Image.new("RGB", (48, 48), ((i * 37) % 256, (i * 91) % 256, 160)).save(png)
            (settings.data_path / f"{location}.json").write_text(json.dumps({"file": location}))
            raw = settings.instrument_data_path / location
            raw.parent.mkdir(parents=True, exist_ok=True)
            raw.write_bytes(b"raw data %d" % i)
        all_sets.append(Dataset(
            name=f"file_{i:04d}.dm4", path=settings.instrument_data_path / location,
            location=location, dataset_type="Image",
            nx_meta={"Voltage (kV)": meta_value, "Index": i, "Operator": "web test",
                     "Note": f"{meta_value} (dataset {i})"},
            preview_location=preview))
    per = max(1, -(-datasets // activities))
    acts = [Activity(seqno=k, start=start + dt.timedelta(minutes=10 * k),
                     datasets=all_sets[k * per:(k + 1) * per])
            for k in range(activities) if all_sets[k * per:(k + 1) * per]]
    reservation = Reservation(
        title=title, start=start, end=start + dt.timedelta(hours=3),
        experimenters=["web tester"], motivation=f"motivation of {name}",
        samples=[Sample(id=f"sample-{name}", name=sample, description="for the web tests")]
        if sample else [],
        projects=[Project(name=f"project {name}", project_id=f"P-{name}")])
    xml = build_record(reservation, inst, acts)
    if hostile:  # the trap record: the hostile paths go in verbatim
        for i, location in enumerate(hostile):
            xml = xml.replace(f"TRAP{i:02d}".encode(), location.encode())
    path = settings.records_path / f"web-test-{name}.xml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(xml)
    identifier = f"web-test-{name}"
    for event, when in ((EventType.START, start), (EventType.END, start + dt.timedelta(hours=3))):
        db.log_session_event(engine, identifier, instrument, when, event, Status.COMPLETED,
                             "web tester")
    record_id = index_record(engine, path, identifier, instrument, xml)
    assert record_id is not None
    return record_id


def add_traps(engine, settings: Settings, root: Path) -> int:  # type: ignore[no-untyped-def]
    """The record whose every dataset points outside its root; the secret it aims at."""
    assert settings.data_path and settings.instrument_data_path
    outside = root / "outside"
    outside.mkdir()
    for suffix in ("", ".json", ".thumb.png"):
        (outside / f"secret.txt{suffix}").write_text(SECRET)
    # Symlinks inside both roots that lead out of them.
    for base in (settings.data_path, settings.instrument_data_path):
        (base / "Titan").mkdir(parents=True, exist_ok=True)
        (base / "Titan/escape").symlink_to(outside, target_is_directory=True)
        for suffix in ("", ".json", ".thumb.png"):
            (base / f"Titan/linked.txt{suffix}").symlink_to(outside / f"secret.txt{suffix}")
    hostile = [t.format(outside=outside) for t in TRAPS]
    return add_record(engine, settings, "traps", title="Record with hostile paths",
                      datasets=len(hostile), hostile=hostile)


class WebServer(ServerProcess):
    """``python -m nexuslims serve`` on a free 127.0.0.1 port, as a separate process."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        full = {k: v for k, v in os.environ.items() if not k.startswith("NX_")}
        full.update(env, PYTHONPATH=str(REPO))
        self._log_file = log.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "nexuslims", "serve", "--port", str(self.port)],
            env=full, cwd=log.parent, stdout=self._log_file, stderr=subprocess.STDOUT)

    def wait(self, timeout: float = 60) -> WebServer:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.running:
                raise RuntimeError(f"nexuslims serve exited:\n{self.log.read_text()}")
            try:
                httpx.get(f"{self.url}/healthz", timeout=1)
                return self
            except httpx.TransportError:
                time.sleep(0.2)
        raise RuntimeError(f"nexuslims serve did not answer:\n{self.log.read_text()}")

    def stop(self) -> None:
        super().stop()
        self._log_file.close()


def screenshot_folder() -> Path | None:
    """Where screenshots are also copied: ``NEXUSLIMS_SCREENSHOTS`` when set, else
    nowhere (tests write only under their own temporary folders unless told)."""
    raw = os.environ.get("NEXUSLIMS_SCREENSHOTS", "").strip()
    return Path(raw) if raw else None


def copy_screenshot(path: Path) -> None:
    """Copy a screenshot to :func:`screenshot_folder`, if one is set (and can be made)."""
    target = screenshot_folder()
    if target is None:
        return
    try:
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target / path.name)
    except OSError:
        pass


def build_large_index(root: Path, n: int = 10_000) -> dict[str, str]:
    """A database whose index holds ``n`` records (and their sessions); its settings."""
    import random
    import sqlite3

    from nexuslims.db.records import IndexEntry, save_entries

    root.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{root / 'large.db'}"
    db.init_db(url)
    engine = db.make_engine(url)
    pids = [f"instrument-{k}" for k in range(5)]
    for pid in pids:
        db.add_instrument(engine, Instrument(pid, pid, timezone="America/Denver"))
    rng = random.Random(9)
    words = ("grain boundary", "lamella", "oxide", "catalyst", "nanowire", "perovskite",
             "zeolite", "steel", "polymer", "graphene")
    base = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
    entries, rows = [], []
    for i in range(n):
        start = base + dt.timedelta(hours=7 * i)
        sample = f"{rng.choice(words)} sample {i}"
        names = " ".join(f"file_{i}_{k}.dm4" for k in range(40))
        entries.append(IndexEntry(
            record_path=str(root / f"data/records/r{i}.xml"), session_identifier=f"s-{i}",
            instrument=pids[i % 5], instrument_name=pids[i % 5], title=f"Session {i} on "
            f"{pids[i % 5]}", start=start, experimenters=f"user{i % 37}", datasets=40,
            activities=3, search_text=f"session {i}\nmotivation {rng.choice(words)}\n"
            f"{sample}\nproject {i % 50}\n{names}".lower()))
        status = "ERROR" if i % 50 == 0 else "COMPLETED"
        for event, when in (("START", start), ("END", start + dt.timedelta(hours=2))):
            rows.append((f"s-{i}", pids[i % 5], when.isoformat(), event, status, "u"))
    save_entries(engine, entries, now=base)
    engine.dispose()
    with sqlite3.connect(root / "large.db") as conn:
        conn.executemany("INSERT INTO session_log (session_identifier, instrument, timestamp, "
                         "event_type, record_status, user) VALUES (?, ?, ?, ?, ?, ?)", rows)
    # The record files exist (empty: only their presence is looked at by the list).
    (root / "data" / "records").mkdir(parents=True, exist_ok=True)
    for entry in entries:
        Path(entry.record_path).touch()
    return {"NX_DB_PATH": str(root / "large.db"), "NX_DATA_PATH": str(root / "data")}
