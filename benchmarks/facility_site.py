"""The synthetic facility of ``synthetic_facility.py``: instruments, sessions, and files
copied from the corpus with modification times in bursts inside each session's window.

Every file is a real copy (hard links share an inode, hence a modification time; ext4
has no reflinks). The instrument table and the session log are written with the
project's own functions (:func:`nexuslims.db.add_instrument`,
:func:`nexuslims.sessions.logbook.add_session`).
"""

from __future__ import annotations

import datetime as dt
import os
import random
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

#: Instrument -> (timezone, corpus folders or files it writes). Paths are relative to the
#: corpus; a folder stands for every file in it.
INSTRUMENTS: dict[str, tuple[str, list[str]]] = {
    "FEI-Titan-TEM": ("America/New_York", ["digitalmicrograph", "tia"]),
    "FEI-Titan-STEM": ("America/New_York", ["digitalmicrograph", "tia/16x16_STEM_BF_DF"]),
    "JEOL-ARM-200F": ("Europe/Berlin", ["digitalmicrograph"]),
    "FEI-Tecnai-TIA": ("Europe/Berlin", ["tia"]),
    "FEI-Helios-FIB": ("America/Denver", ["tiff/FEI-Helios"]),
    "FEI-Quanta-SEM": ("America/Denver", ["nexuslims/quad1image", "tiff/FEI-Helios-Ebeam"]),
    "Thermo-Talos-Velox": ("Asia/Tokyo", ["emd"]),
    "Bruker-EDS-SEM": ("Asia/Tokyo", ["bruker", "msa"]),
    "EDAX-SEM": ("UTC", ["nexuslims/647_leo_edax", "msa"]),
    "Olympus-optical": ("UTC", ["tiff/olympus_SIS", "image", "nexuslims/test_image"]),
}


@dataclass
class Facility:
    root: Path
    instrument_data: Path
    sessions: int
    files: int
    """Files a pass reads (the .emi files copied too are skipped by NX_IGNORE_PATTERNS)."""
    copied: int
    bytes: int
    seconds: float


def acquisitions(corpus: Path, selectors: list[str]) -> list[list[Path]]:
    """The units an instrument writes together: one file, or a TIA .emi with its .ser."""
    picked: list[Path] = []
    for selector in selectors:
        target = corpus / selector
        if target.is_dir():
            picked += sorted(p for p in target.iterdir() if p.is_file())
        else:
            picked += sorted(target.parent.glob(target.name + "*"))
    picked = [p for p in dict.fromkeys(picked) if p.name != "README.md"]
    units: list[list[Path]] = []
    for path in picked:
        if path.suffix == ".ser":
            continue  # travels with its .emi
        if path.suffix == ".emi":
            units.append([path, *sorted(path.parent.glob(f"{path.stem}_*.ser"))])
        else:
            units.append([path])
    return units


def session_windows(instruments: list[str], sessions: int, rng: random.Random,
                    now: dt.datetime) -> list[tuple[str, dt.datetime, dt.datetime]]:
    """One session per instrument per day at most, 1-6 h long, ending 2+ days ago."""
    from zoneinfo import ZoneInfo

    windows = []
    for n in range(sessions):
        pid = instruments[n % len(instruments)]
        tz = ZoneInfo(INSTRUMENTS[pid][0])
        day = (now - dt.timedelta(days=2 + n // len(instruments))).astimezone(tz).date()
        start = dt.datetime.combine(day, dt.time(8 + rng.randrange(6), rng.randrange(60)),
                                    tzinfo=tz)
        windows.append((pid, start, start + dt.timedelta(minutes=rng.randrange(60, 360))))
    return windows


def burst_times(start: dt.datetime, end: dt.datetime, count: int,
                rng: random.Random) -> list[float]:
    """``count`` modification times in a few bursts (activities) inside the window."""
    span = (end - start).total_seconds()
    bursts = max(1, min(count, rng.randint(1, 6)))
    anchors = sorted(rng.uniform(0.02, 0.85) * span for _ in range(bursts))
    times, offset, burst = [], 0.0, 0
    for i in range(count):
        if i * bursts // count != burst:  # the next burst starts from its own anchor
            burst, offset = i * bursts // count, 0.0
        offset += rng.expovariate(1 / 25)  # an acquisition every ~25 s within a burst
        times.append(start.timestamp() + min(anchors[burst] + offset, span - 1))
    return sorted(times)


def build_facility(root: Path, corpus: Path, instruments: int, sessions: int, files: int,
                   seed: int = 12, pids: list[str] | None = None,
                   ) -> tuple[Facility, list[tuple[str, dt.datetime, dt.datetime, str]]]:
    """Copy the files; return the facility and the session log it needs (not written).

    ``pids`` chooses the instruments (default: the first ``instruments`` of
    :data:`INSTRUMENTS`)."""
    rng = random.Random(seed)
    now = dt.datetime.now(dt.UTC)
    t0 = time.perf_counter()
    pids = pids or list(INSTRUMENTS)[:instruments]
    units = {pid: acquisitions(corpus, INSTRUMENTS[pid][1]) for pid in pids}
    windows = session_windows(pids, sessions, rng, now)
    # Sessions differ in size (lognormal, as in real use); the total is ``files``.
    weights = [rng.lognormvariate(0, 0.8) for _ in windows]
    shares = [max(1, round(files * w / sum(weights))) for w in weights]
    data = root / "instrument-data"
    log: list[tuple[str, dt.datetime, dt.datetime, str]] = []
    copied = read = size = 0
    for n, ((pid, start, end), share) in enumerate(zip(windows, shares, strict=True)):
        user = f"user{rng.randrange(12):02d}"
        folder = data / pid / user / start.strftime("%Y%m%d")
        folder.mkdir(parents=True, exist_ok=True)
        chosen: list[list[Path]] = []
        while sum(map(_counted, chosen)) < share:
            chosen.append(rng.choice(units[pid]))
        times = burst_times(start, end, len(chosen), rng)
        for k, (unit, mtime) in enumerate(zip(chosen, times, strict=True)):
            for source in unit:  # an .emi and its .ser share the acquisition's prefix
                target = folder / f"s{n:03d}_{k:04d}_{source.name}"
                shutil.copyfile(source, target)
                os.utime(target, (mtime, mtime))
                copied += 1
                size += source.stat().st_size
            read += _counted(unit)
        log.append((pid, start, end, user))
    return Facility(root, data, len(windows), read, copied, size, time.perf_counter() - t0), log


def _counted(unit: list[Path]) -> int:
    """Files of an acquisition a pass reads (NX_IGNORE_PATTERNS skips .emi by default)."""
    return sum(p.suffix != ".emi" for p in unit)


def write_site(url: str, facility: Facility,
               log: list[tuple[str, dt.datetime, dt.datetime, str]]) -> None:
    """A new database at ``url``: the instruments and the session log (TO_BE_BUILT)."""
    from nexuslims import db
    from nexuslims.model.session import Instrument
    from nexuslims.sessions.logbook import add_session

    db.init_db(url)
    engine = db.make_engine(url)
    try:
        for pid in dict.fromkeys(pid for pid, *_ in log):
            db.add_instrument(engine, Instrument(pid=pid, filestore_path=pid,
                                                 schema_name=pid.replace("-", " "),
                                                 timezone=INSTRUMENTS[pid][0]))
        for n, (pid, start, end, user) in enumerate(log):
            add_session(engine, pid, start, end, user=user, identifier=f"synthetic-{n:04d}")
    finally:
        engine.dispose()
