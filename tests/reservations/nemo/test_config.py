"""NEMO settings: numbered servers, 1.x names, every problem named, tokens never shown."""

from __future__ import annotations

import datetime as dt
import logging
from zoneinfo import ZoneInfo

import pytest

from nexuslims.config import load_settings
from nexuslims.errors import ConfigError
from nexuslims.reservations import build_harvesters
from nexuslims.reservations.nemo import from_settings, parse_settings
from nexuslims.reservations.nemo.config import replace_zone, tool_id

SECRET = "s3cr3t-token-value"


def test_no_nemo_server_configured_means_no_harvester(tmp_path) -> None:
    settings = load_settings({"NX_DB_PATH": str(tmp_path / "db")}, frozenset())
    assert from_settings(settings) is None
    assert "nemo" not in build_harvesters(settings)


def test_any_number_of_servers_with_their_own_zone_and_formats() -> None:
    nemo = parse_settings({
        "NX_NEMO_ADDRESS_1": "https://nemo.example.org/api/", "NX_NEMO_TOKEN_1": SECRET,
        "NX_NEMO_ADDRESS_12": "http://other.example.org/nemo/api/", "NX_NEMO_TOKEN_12": "t",
        "NX_NEMO_TZ_12": "Europe/Paris", "NX_NEMO_STRFTIME_FMT_12": "%Y-%m-%dT%H:%M:%S",
        "NX_NEMO_TIMEOUT": "5", "NX_NEMO_RETRIES": "0", "NX_NEMO_FIRST_HARVEST_DAYS": "1"})
    assert [s.number for s in nemo.servers] == ["1", "12"]
    second = nemo.servers[1]
    assert second.timezone == ZoneInfo("Europe/Paris")
    assert second.root == "http://other.example.org/nemo/"
    assert (nemo.timeout, nemo.retries, nemo.first_harvest) == (5.0, 0, dt.timedelta(days=1))
    assert nemo.server_for("http://other.example.org/nemo/api/tools/?id=4") is second
    assert nemo.server_for("https://elsewhere.example.org/api/tools/?id=4") is None
    assert SECRET not in repr(nemo)
    assert second.format_time(dt.datetime(2024, 7, 1, 12, tzinfo=dt.UTC)) \
        == "2024-07-01T14:00:00"


def test_nexuslims_1x_names_work_with_a_deprecation_warning(caplog) -> None:
    with caplog.at_level(logging.WARNING):
        nemo = parse_settings({"NEMO_address_1": "https://nemo.example.org/api/",
                               "NEMO_token_1": SECRET, "NEMO_tz_1": "America/Denver"})
    assert nemo.servers[0].address == "https://nemo.example.org/api/"
    assert nemo.servers[0].timezone == ZoneInfo("America/Denver")
    assert "NEMO_address_1 is a NexusLIMS 1.x setting name; rename it to NX_NEMO_ADDRESS_1" \
        in caplog.text
    assert SECRET not in caplog.text


def test_every_wrong_setting_is_named_and_no_token_is_shown() -> None:
    with pytest.raises(ConfigError) as err:
        parse_settings({
            "NX_NEMO_ADDRESS_1": "https://nemo.example.org/api/",          # no token
            "NX_NEMO_ADDRESS_2": "https://nemo.example.org/", "NX_NEMO_TOKEN_2": SECRET,
            "NX_NEMO_ADDRESS_3": "https://n3.example.org/api/", "NX_NEMO_TOKEN_3": SECRET,
            "NX_NEMO_TZ_3": "Mars/Olympus",
            "NX_NEMO_TOKEN_4": SECRET,                                       # no address
            "NX_NEMO_TIMEOUT": "soon"})
    problems = err.value.problems
    assert len(problems) == 5
    assert any(p.startswith("NX_NEMO_TOKEN_1 is not set") for p in problems)
    assert any(p.startswith("NX_NEMO_ADDRESS_2=https://nemo.example.org/: expects") and
               "/api/" in p for p in problems)
    assert any(p.startswith("NX_NEMO_TZ_3=Mars/Olympus") for p in problems)
    assert any("NX_NEMO_ADDRESS_4 is not" in p for p in problems)
    assert any(p.startswith("NX_NEMO_TIMEOUT=soon") for p in problems)
    assert SECRET not in str(err.value)


def test_tool_ids_come_from_the_api_url() -> None:
    assert tool_id("https://nemo.example.org/api/tools/?id=17") == 17
    assert tool_id("https://nemo.example.org/api/tools/") is None
    assert tool_id(None) is None


def test_a_configured_zone_replaces_the_offset_and_keeps_the_repeated_hour_apart() -> None:
    ny = ZoneInfo("America/New_York")
    first = replace_zone(dt.datetime.fromisoformat("2024-11-03T01:30:00-04:00"), ny)
    second = replace_zone(dt.datetime.fromisoformat("2024-11-03T01:30:00-05:00"), ny)
    assert second - first == dt.timedelta(0) and second.astimezone(dt.UTC) \
        - first.astimezone(dt.UTC) == dt.timedelta(hours=1)
    # A server that says UTC but means New York wall-clock time.
    wall = replace_zone(dt.datetime.fromisoformat("2024-07-01T09:00:00+00:00"), ny)
    assert wall.isoformat() == "2024-07-01T09:00:00-04:00"
