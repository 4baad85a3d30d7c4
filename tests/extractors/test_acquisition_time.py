"""The instant a dataset was acquired: the file's absolute clock, then its wall clock in
the instrument's zone (at that date), then the modification time, and which one it was."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from nexuslims.extractors import ExtractionContext, extract
from nexuslims.extractors._time import (
    ABSOLUTE,
    MTIME,
    MTIME_WARNING,
    WALL_CLOCK,
    from_filetime,
    from_wall_clock,
)

REPO = Path(__file__).resolve().parents[2]
BERLIN = ExtractionContext(timezone=ZoneInfo("Europe/Berlin"))
DENVER = ExtractionContext(timezone=ZoneInfo("America/Denver"))


def instant(meta: dict) -> dt.datetime:
    return dt.datetime.fromisoformat(meta["Creation Time"])


def test_dm_diffraction_pattern_is_the_databar_filetime_not_its_wall_clock(corpus, utc):
    # DataBar: wall clock 6:56:37 PM, FILETIME 16:56:37.89Z. Stamping the wall clock
    # with the reader's zone gave 18:56:37+00:00, two hours off.
    [ds] = extract(corpus / "digitalmicrograph/test_diffraction_pattern.dm3", utc)
    assert ds.nx_meta["Creation Time"] == "2014-07-09T16:56:37.890626+00:00"
    assert ds.nx_meta["Creation Time Source"] == ABSOLUTE
    assert ds.sources["Creation Time"] == "tags:DataBar.System Info"
    [berlin] = extract(corpus / "digitalmicrograph/test_diffraction_pattern.dm3", BERLIN)
    assert instant(berlin.nx_meta) == instant(ds.nx_meta)
    assert berlin.nx_meta["Creation Time"].endswith("+02:00")  # CEST in July


def test_tia_times_are_the_ser_instants_whatever_the_instrument_zone(corpus):
    # Before: the .emi's first block (a sibling detector's, in the TIA PC's wall clock)
    # gave 11:30:22 and 11:55:58 in the instrument zone.
    point = corpus / "tia/16x16-point_spectrum-1x1024_1.ser"
    image = corpus / "tia/16x16-spectrum_image-5x5x1024_1.ser"
    for context in (BERLIN, DENVER):
        [p] = extract(point, context)
        [s] = extract(image, context)
        assert instant(p.nx_meta) == dt.datetime(2016, 2, 22, 10, 34, 4, tzinfo=dt.UTC)
        assert instant(s.nx_meta) == dt.datetime(2016, 2, 22, 10, 56, 27, tzinfo=dt.UTC)
        assert p.nx_meta["Creation Time Source"] == ABSOLUTE
        assert p.sources["Creation Time"] == "om:ser_header_parameters.Time"


def test_velox_epoch_and_dm_wall_clock_sources(corpus):
    [first, *_] = extract(corpus / "emd/Test SI 16x16 215 kx.emd", DENVER)
    assert first.nx_meta["Creation Time Source"] == ABSOLUTE
    assert instant(first.nx_meta) == dt.datetime(2024, 2, 29, 6, 58, 4, tzinfo=dt.UTC)
    [eels] = extract(corpus / "digitalmicrograph/EELS_SI.dm4", DENVER)
    assert eels.nx_meta["Creation Time"] == "2019-05-14T20:50:13-06:00"  # MDT in May
    assert eels.nx_meta["Creation Time Source"] == WALL_CLOCK


def test_wall_clock_takes_the_offset_in_force_at_that_date():
    ny = ZoneInfo("America/New_York")
    june = from_wall_clock("2022-06-15", "10:00:00", ny, "k")
    january = from_wall_clock("2022-01-15", "10:00:00", ny, "k")
    assert june.when.isoformat() == "2022-06-15T10:00:00-04:00"
    assert january.when.isoformat() == "2022-01-15T10:00:00-05:00"
    assert from_wall_clock("2022-06-15", "10:00:00+02:00", ny, "k").source == ABSOLUTE


def test_filetime_outside_plausible_dates_is_not_a_clock():
    assert from_filetime(1.3049398597890626e17, "k").when.year == 2014
    assert from_filetime(42.0, "k") is None and from_filetime("text", "k") is None


def test_no_time_in_file_falls_back_to_mtime_with_warning(corpus, utc):
    [ds] = extract(corpus / "digitalmicrograph/image-2D-test-1.dm3", utc)
    assert ds.nx_meta["Creation Time Source"] == MTIME
    assert ds.unreliable == {"Creation Time"} and MTIME_WARNING in ds.warnings


def _june_msa(folder: Path) -> Path:
    """An EMSA spectrum acquired 15 June 2022 at 10:00, written by HyperSpy/RosettaSciIO.

    RosettaSciIO's writer leaves ``#TIME`` empty, so the time is filled in afterwards.
    """
    import hyperspy.api as hs
    import numpy as np

    signal = hs.signals.Signal1D(np.arange(100.0))
    signal.metadata.General.date = "2022-06-15"
    signal.metadata.General.title = "june"
    path = folder / "june.msa"
    signal.save(path)
    text = path.read_bytes().replace(b"#TIME        : \r\n", b"#TIME        : 10:00\r\n")
    path.write_bytes(text)
    return path


def _cli(*args: str, tz: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    if tz:
        env["TZ"] = tz
    return subprocess.run([sys.executable, "-m", "nexuslims", "extract", *args],
                          capture_output=True, text=True, env=env, timeout=300)


@pytest.mark.slow
def test_cli_labels_a_june_time_in_new_york_as_edt_and_honours_timezone(tmp_path):
    path = _june_msa(tmp_path)
    # Before: the machine's offset *today* (November: -05:00) was stamped on June times.
    local = _cli("--json", str(path), tz="America/New_York")
    line = json.loads(local.stdout.splitlines()[0])
    assert line["nx_meta"]["Creation Time"] == "2022-06-15T10:00:00-04:00"
    assert line["time_source"] == WALL_CLOCK
    berlin = _cli("--json", "--timezone", "Europe/Berlin", str(path), tz="America/New_York")
    assert json.loads(berlin.stdout)["nx_meta"]["Creation Time"] == "2022-06-15T10:00:00+02:00"
    bad = _cli("--json", "--timezone", "Mars/Olympus", str(path))
    assert bad.returncode == 2 and not bad.stdout
    assert "unknown timezone 'Mars/Olympus'" in bad.stderr and "Traceback" not in bad.stderr


@pytest.mark.slow
def test_cli_json_says_when_the_time_is_the_modification_time(corpus):
    result = _cli("--json", str(corpus / "digitalmicrograph/image-2D-test-1.dm3"))
    line = json.loads(result.stdout)
    assert line["time_source"] == MTIME and MTIME_WARNING in line["warnings"]
