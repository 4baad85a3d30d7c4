"""Settings: NX names, 1.x names, .env vs environment, and messages for bad values."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from nexuslims.config import NEEDS_ALL, NEEDS_DB, load_settings, read_environment
from nexuslims.errors import ConfigError


@pytest.fixture
def dirs(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "instr").mkdir()
    return {"NX_INSTRUMENT_DATA_PATH": str(tmp_path / "instr"),
            "NX_DATA_PATH": str(tmp_path / "data"),
            "NX_DB_PATH": str(tmp_path / "db.sqlite")}


def test_defaults_follow_the_data_path(dirs: dict[str, str], tmp_path: Path) -> None:
    s = load_settings(dirs)
    assert s.records_path == tmp_path / "data" / "records"
    assert s.log_path == tmp_path / "data" / "logs"
    assert s.db_url == f"sqlite:///{tmp_path / 'db.sqlite'}"
    assert (s.file_strategy, s.file_delay_days, s.clustering_sensitivity) == ("exclusive", 2.0, 1.0)
    assert "*.mib" in s.ignore_patterns


def test_legacy_names_work_with_a_deprecation_warning(
        dirs: dict[str, str], caplog: pytest.LogCaptureFixture) -> None:
    legacy = {"mmfnexus_path": dirs["NX_INSTRUMENT_DATA_PATH"],
              "nexusLIMS_path": dirs["NX_DATA_PATH"],
              "nexusLIMS_db_path": dirs["NX_DB_PATH"],
              "NexusLIMS_file_strategy": "inclusive",
              "NexusLIMS_ignore_patterns": '["*.foo"]',
              "nexusLIMS_file_delay_days": "0.5"}
    with caplog.at_level(logging.WARNING):
        s = load_settings(legacy)
    assert s.instrument_data_path == Path(dirs["NX_INSTRUMENT_DATA_PATH"])
    assert (s.file_strategy, s.ignore_patterns, s.file_delay_days) == ("inclusive", ("*.foo",), 0.5)
    assert set(s.deprecated_names) == set(legacy)
    assert "mmfnexus_path is a NexusLIMS 1.x setting name; rename it to NX_INSTRUMENT_DATA_PATH" \
        in caplog.text


def test_new_name_wins_over_legacy_name(dirs: dict[str, str]) -> None:
    env = dict(dirs, NexusLIMS_file_strategy="inclusive", NX_FILE_STRATEGY="exclusive")
    assert load_settings(env).file_strategy == "exclusive"


def test_every_bad_setting_is_named_at_once(tmp_path: Path) -> None:
    env = {"NX_INSTRUMENT_DATA_PATH": str(tmp_path / "missing"),
           "NX_FILE_STRATEGY": "sometimes",
           "NX_IGNORE_PATTERNS": "*.mib",
           "NX_FILE_DELAY_DAYS": "two",
           "NX_CLUSTERING_SENSITIVITY": "-1"}
    with pytest.raises(ConfigError) as info:
        load_settings(env, NEEDS_ALL)
    text = "\n".join(info.value.problems)
    assert len(info.value.problems) == 7
    for name in ("NX_INSTRUMENT_DATA_PATH", "NX_DATA_PATH is not set", "NX_DB_PATH is not set",
                 "NX_FILE_STRATEGY=sometimes", "NX_IGNORE_PATTERNS=*.mib",
                 "NX_FILE_DELAY_DAYS=two", "NX_CLUSTERING_SENSITIVITY=-1"):
        assert name in text
    assert "no such directory" in text and "JSON list" in text


def test_db_url_instead_of_path_and_bad_url(tmp_path: Path) -> None:
    assert load_settings({"NX_DB_URL": "postgresql+psycopg://u@h/db"}, NEEDS_DB).db_url \
        == "postgresql+psycopg://u@h/db"
    with pytest.raises(ConfigError, match="NX_DB_URL=just-a-path"):
        load_settings({"NX_DB_URL": "just-a-path"}, NEEDS_DB)


def test_unwritable_data_path_is_reported(dirs: dict[str, str], tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ConfigError, match="is not a directory"):
        load_settings(dict(dirs, NX_DATA_PATH=str(blocker / "data")))


def test_environment_wins_over_env_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env_file = tmp_path / "site.env"
    env_file.write_text("NX_FILE_STRATEGY=inclusive\nNX_FILE_DELAY_DAYS=3\n")
    merged = read_environment(env_file, environ={"NX_FILE_DELAY_DAYS": "1"})
    assert merged["NX_FILE_STRATEGY"] == "inclusive" and merged["NX_FILE_DELAY_DAYS"] == "1"
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("NX_CLUSTERING_SENSITIVITY=2\n")
    assert read_environment(None, environ={})["NX_CLUSTERING_SENSITIVITY"] == "2"
    with pytest.raises(ConfigError, match="no such file"):
        read_environment(tmp_path / "absent.env", environ={})


def test_a_legacy_name_read_by_several_modules_is_warned_about_once(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    from nexuslims import config

    env = {"nexusLIMS_user": "NIST\\alice", "NX_CDCS_USER": ""}
    with caplog.at_level(logging.WARNING):
        assert config.legacy_setting(env, "NX_SHAREPOINT_USER", "nexusLIMS_user") == (
            "NIST\\alice", "nexusLIMS_user")
        assert config.legacy_setting(env, "NX_CDCS_USER", "nexusLIMS_user")[0] == "NIST\\alice"
    assert caplog.text.count("nexusLIMS_user is a NexusLIMS 1.x setting name") == 1
    assert config.legacy_setting({"NX_CDCS_USER": "bob", "nexusLIMS_user": "x"},
                                 "NX_CDCS_USER", "nexusLIMS_user") == ("bob", "NX_CDCS_USER")


@pytest.mark.parametrize(("raw", "whole", "expected"), [
    ("", False, 5.0), ("2.5", False, 2.5), ("3", True, 3), ("nan", False, None),
    ("-1", False, None), ("2.5", True, None), ("many", False, None)])
def test_number_settings(raw: str, whole: bool, expected: float | None) -> None:
    from nexuslims.config import number_setting

    problems: list[str] = []
    value = number_setting({"NX_X": raw}, "NX_X", 5.0, problems, minimum=0, whole=whole,
                           expects="a number >= 0")
    if expected is None:
        assert value == 5.0 and problems == [f"NX_X={raw}: expects a number >= 0"]
    else:
        assert value == expected and problems == []
