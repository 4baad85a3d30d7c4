"""Messages a facility meets in its first week: where settings were looked for, what
``extract`` writes, ``demo`` run twice, doctor's own words."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from nexuslims.ops.doctor import run_checks
from tests.cli.conftest import cli


def test_no_env_file_says_so_and_where_it_looked_before_the_missing_settings(
        tmp_path, monkeypatch, capsys):
    for name in list(__import__("os").environ):
        if name.startswith("NX_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # cron without `cd`: no .env here
    code, _, err = cli(capsys, "sessions", "list")
    assert code == 1
    first, rest = err.split("\n", 1)
    assert first.startswith(f"nexuslims: no .env file found in {tmp_path}")
    assert "--env-file" in first and "NX_DB_PATH is not set" in rest
    (tmp_path / ".env").write_text("NX_FILE_STRATEGY=inclusive\n")
    code, _, err = cli(capsys, "sessions", "list")
    assert code == 1 and "no .env file found" not in err  # found, just incomplete


def test_extract_help_says_previews_need_a_preview_dir(capsys, corpus, tmp_path, monkeypatch):
    with pytest.raises(SystemExit):
        cli_help = __import__("nexuslims.cli", fromlist=["main"]).main
        cli_help(["extract", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "Previews (PNG) and JSON sidecars are written only with --preview-dir" in text
    assert "--no-preview with --preview-dir: write only the JSON sidecars" in text
    # ... which is what it does: without --preview-dir, nothing is written.
    source = tmp_path / "in"
    source.mkdir()
    shutil.copyfile(corpus / "digitalmicrograph/test_STEM_image.dm3", source / "a.dm3")
    monkeypatch.chdir(tmp_path)
    code, out, _ = cli(capsys, "extract", str(source))
    assert code == 0 and "preview:" not in out
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["a.dm3", "in"]


@pytest.mark.slow
def test_demo_a_second_time_refuses_without_force(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    code, out, err = cli(capsys, "demo", "-q")
    assert code == 0, err
    [record] = (tmp_path / "nexuslims-demo/data/records").glob("*.xml")
    code, out, err = cli(capsys, "demo", "-q")
    assert code == 2 and "add --force to replace it" in err
    assert record.is_file()  # the earlier site is untouched
    code, out, err = cli(capsys, "demo", "-q", "--force")
    assert code == 0 and "Replaced the earlier demo site" in out


def test_doctor_names_an_unset_data_path_once(tmp_path: Path) -> None:
    checks = {c.name: c for c in run_checks({"NX_DB_PATH": str(tmp_path / "x.db")},
                                            timeout=1)}
    assert checks["data path"].message == "NX_DATA_PATH is not set"
    assert "nor NX_DATA_PATH" in checks["records path"].message


def test_sessions_show_gives_every_time_in_the_instruments_zone_with_the_zone(cli_site,
                                                                             capsys):
    assert cli(capsys, "instruments", "add", "titan", "--filestore-path", "Titan",
               "--timezone", "America/New_York")[0] == 0
    code, out, _ = cli(capsys, "sessions", "add", "titan", "--id", "s-tz",
                       "--start", "2024-01-05T09:00", "--end", "2024-01-05T16:30:00+00:00")
    assert code == 0
    code, out, _ = cli(capsys, "sessions", "show", "s-tz")
    assert code == 0
    rows = [line for line in out.splitlines() if line.split()[1:2] in (["START"], ["END"])]
    assert [r.split()[2:5] for r in rows] == [["2024-01-05", "09:00:00", "EST"],
                                             ["2024-01-05", "11:30:00", "EST"]]
    code, out, _ = cli(capsys, "sessions", "list")
    [row] = [line.split() for line in out.splitlines() if line.startswith("s-tz ")]
    assert row[2:8] == ["2024-01-05", "09:00:00", "EST", "2024-01-05", "11:30:00", "EST"]


def test_doctor_says_first_when_there_is_no_env_file(tmp_path, monkeypatch, capsys):
    import json

    for name in list(__import__("os").environ):
        if name.startswith("NX_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    code, out, _ = cli(capsys, "doctor", "--json", "--timeout", "1")
    first = json.loads(out)[0]
    assert code == 1 and first["name"] == "settings file" and first["status"] == "warning"
    assert str(tmp_path) in first["message"]
