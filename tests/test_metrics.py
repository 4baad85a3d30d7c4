"""NX_METRICS_PATH: the Prometheus text file written after each pass, parsed strictly."""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from nexuslims import db
from nexuslims.builder.run import run_pass
from nexuslims.cli._unattended import after_pass
from nexuslims.config import load_settings
from nexuslims.model.session import EventType, Instrument, Status

SAMPLE = re.compile(r'^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)'
                    r'(?:\{(?P<labels>[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*"'
                    r'(?:,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*")*)\})?'
                    r' (?P<value>-?(?:\d+(?:\.\d+)?(?:e[+-]?\d+)?|NaN|[+-]Inf))$')


def parse(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """The samples of a Prometheus text exposition; AssertionError on any bad line."""
    assert text.endswith("\n")
    typed: dict[str, str] = {}
    samples = {}
    for line in text.splitlines():
        if line.startswith("# HELP "):
            continue
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            assert kind in ("gauge", "counter") and name not in typed
            typed[name] = kind
            continue
        match = SAMPLE.match(line)
        assert match, f"not a sample line: {line!r}"
        assert match["name"] in typed, f"{match['name']} has no TYPE"
        labels = tuple(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', match["labels"] or ""))
        key = (match["name"], labels)
        assert key not in samples, f"duplicate sample {key}"
        samples[key] = float(match["value"])
    return samples


def test_a_pass_writes_its_metrics(tmp_path: Path) -> None:
    store = tmp_path / "instrument-data" / "Titan"
    store.mkdir(parents=True)
    start = dt.datetime(2024, 3, 5, 9, 0, tzinfo=dt.UTC)
    for i, minutes in enumerate((10, 11, 50)):
        f = store / f"notes {i}.txt"
        f.write_text("x" * (100 * (i + 1)))
        t = (start + dt.timedelta(minutes=minutes)).timestamp()
        os.utime(f, (t, t))
    metrics = tmp_path / "textfile" / "nexuslims.prom"
    settings = load_settings({"NX_INSTRUMENT_DATA_PATH": str(tmp_path / "instrument-data"),
                              "NX_DATA_PATH": str(tmp_path / "data"),
                              "NX_DB_PATH": str(tmp_path / "nx.db"),
                              "NX_FILE_STRATEGY": "inclusive", "NX_EXTRACT_WORKERS": "1",
                              "NX_METRICS_PATH": str(metrics)})
    db.init_db(settings.db_url)
    engine = db.make_engine(settings.db_url)
    db.add_instrument(engine, Instrument(pid="titan", filestore_path="Titan", timezone="UTC"))
    rows = ((EventType.START, start), (EventType.END, start + dt.timedelta(hours=1)))
    for ident, end in (("done", True), ("half", False)):  # "half": no END, so ERROR
        for event, when in rows[: 1 + end]:
            db.log_session_event(engine, ident, "titan", when, event, Status.TO_BE_BUILT)
    engine.dispose()

    started = dt.datetime.now(dt.UTC)
    summary = run_pass(settings, now=start + dt.timedelta(days=3))
    after_pass(settings, summary, started)
    samples = parse(metrics.read_text())
    assert samples[("nexuslims_pass_success", ())] == 1
    assert samples[("nexuslims_pass_start_timestamp_seconds", ())] == started.timestamp()
    assert samples[("nexuslims_pass_duration_seconds", ())] > 0
    assert samples[("nexuslims_sessions", (("status", "COMPLETED"),))] == 1
    assert samples[("nexuslims_sessions", (("status", "ERROR"),))] == 1
    assert samples[("nexuslims_pass_sessions", (("status", "COMPLETED"),))] == 1
    assert samples[("nexuslims_records_waiting_for_export", ())] == 0
    assert samples[("nexuslims_pass_files", ())] == 3
    assert samples[("nexuslims_pass_bytes", ())] == 600
    assert samples[("nexuslims_pass_stage_seconds", (("stage", "extract"),))] > 0
    assert [p.name for p in metrics.parent.iterdir()] == ["nexuslims.prom"]  # no temp left


@pytest.mark.slow
def test_a_pass_that_cannot_run_writes_success_0(tmp_path: Path) -> None:
    metrics = tmp_path / "nexuslims.prom"
    (tmp_path / "instrument-data").mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("NX_")}
    env.update(NX_INSTRUMENT_DATA_PATH=str(tmp_path / "instrument-data"),
               NX_DATA_PATH=str(tmp_path / "data"), NX_DB_PATH=str(tmp_path / "absent.db"),
               NX_METRICS_PATH=str(metrics))
    result = subprocess.run([sys.executable, "-m", "nexuslims", "process"], env=env,
                            cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert result.returncode == 1 and "absent.db" in result.stderr
    samples = parse(metrics.read_text())
    assert samples[("nexuslims_pass_success", ())] == 0
    assert samples[("nexuslims_pass_duration_seconds", ())] >= 0
