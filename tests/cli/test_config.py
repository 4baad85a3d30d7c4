"""``nexuslims config show`` and the warning about settings nexuslims does not know."""

from __future__ import annotations

import json

from nexuslims.config import known_setting_names, unknown_settings
from tests.cli.conftest import cli


def test_config_show_says_where_each_value_came_from_and_hides_secrets(
        cli_site, capsys, monkeypatch) -> None:
    with (cli_site.root / ".env").open("a") as env:
        env.write("NX_CDCS_TOKEN=tok-9f8e7d\nNX_CDCS_URL=https://nx:pw-5c4b@cdcs.example/\n"
                  "NX_DB_URL=postgresql+psycopg://nx:dbpw-3a2b@db/nx\n"
                  "nexusLIMS_file_delay_days=3\n"
                  "NX_SHAREPOINT_URL=https://sp.example/cal?sig=sig-1d2e\n")
    monkeypatch.setenv("NX_EXTRACT_WORKERS", "3")
    code, out, err = cli(capsys, "config", "show", "--json")
    assert code == 0
    shown = {s["name"]: (s["value"], s["source"]) for s in json.loads(out)["settings"]}
    assert shown["NX_EXTRACT_WORKERS"] == ("3", "environment")
    assert shown["NX_DATA_PATH"] == (cli_site.env["NX_DATA_PATH"], ".env file")
    assert shown["NX_FILE_DELAY_DAYS"] == ("3", "1.x name nexusLIMS_file_delay_days")
    assert shown["NX_CLUSTERING_SENSITIVITY"] == ("1", "default")
    assert shown["NX_RECORDS_PATH"] == (cli_site.env["NX_DATA_PATH"] + "/records",
                                        "default: NX_DATA_PATH/records")
    assert shown["NX_CDCS_TOKEN"] == ("***", ".env file")
    assert shown["NX_CDCS_URL"][0] == "https://***@cdcs.example/"
    assert shown["NX_DB_URL"][0] == "postgresql+psycopg://***@db/nx"
    assert shown["NX_SHAREPOINT_PASSWORD"] == ("", "unset: no SharePoint calendars")
    code, table, _ = cli(capsys, "config", "show")
    assert code == 0 and table.split()[:3] == ["SETTING", "VALUE", "SOURCE"]
    assert shown["NX_SHAREPOINT_URL"][0] == "https://sp.example/cal?***"
    for secret in ("tok-9f8e7d", "pw-5c4b", "dbpw-3a2b", "sig-1d2e"):
        assert secret not in out + table + err


def test_misspelt_settings_are_named_with_the_closest_real_name(cli_site, capsys,
                                                                 monkeypatch) -> None:
    with (cli_site.root / ".env").open("a") as env:
        env.write("NX_FILE_STRATGY=exclusive\nNX_NEMO_ADDRESS_2=https://nemo.example/api/\n"
                  "NX_NEMO_TOKEN_2=t\n")
    monkeypatch.setenv("NX_CDCS_TOKN", "x")
    monkeypatch.setenv("NX_ZZZZZZZZZZ", "y")
    code, out, err = cli(capsys, "sessions", "list")  # any command that reads settings
    assert code == 0
    assert "NX_FILE_STRATGY in .env is not a nexuslims setting and is ignored; did you mean " \
           "NX_FILE_STRATEGY?" in err
    assert "NX_CDCS_TOKN in the environment is not a nexuslims setting" in err
    assert "did you mean NX_CDCS_TOKEN?" in err
    assert "NX_ZZZZZZZZZZ in the environment is not a nexuslims setting and is ignored\n" in err
    assert "NX_NEMO_ADDRESS_2" not in err and "NX_NEMO_TOKEN_2" not in err
    code, out, _ = cli(capsys, "config", "show", "--json")
    shown = {s["name"]: s["source"] for s in json.loads(out)["settings"]}
    assert shown["NX_FILE_STRATGY"] == "ignored: unknown name (.env file)"


def test_every_setting_a_module_reads_is_known() -> None:
    from tests.test_cli import REPO

    documented = (REPO / ".env.example").read_text()
    known = known_setting_names()
    assert {"NX_DB_PATH", "NX_CDCS_URL", "NX_SHAREPOINT_USER", "NX_LOCAL_EXPORT_PATH"} <= known
    # Known names are the ones .env.example must document (tests/test_cli.py checks that).
    assert sorted(n for n in known if n not in documented) == []
    assert unknown_settings(["NX_NEMO_TZ_7", "NX_NEMO_STRPTIME_FMT_lab", "OTHER"]) == []


def test_config_show_reports_bad_values_and_a_missing_env_file(cli_site, capsys) -> None:
    with (cli_site.root / ".env").open("a") as env:
        env.write("NX_FILE_DELAY_DAYS=soon\n")
    code, out, err = cli(capsys, "config", "show")
    assert code == 0 and "NX_FILE_DELAY_DAYS" in out
    assert "nexuslims: NX_FILE_DELAY_DAYS=soon: expects a number of days" in err
    code, out, err = cli(capsys, "config", "show", "--json", "--env-file", "absent.env")
    assert code == 1 and out == "" and "absent.env: no such file" in err


def test_a_misspelt_setting_is_warned_about_once_per_command(cli_site) -> None:
    with (cli_site.root / ".env").open("a") as env:
        # With a bad value too, so that the pass cannot run and its alert path reads the
        # settings a second time.
        env.write("NX_DATAPATH=/elsewhere\nNX_FILE_STRATEGY=sometimes\n")
    ran = cli_site.subprocess("process")
    assert ran.returncode == 1 and "NX_FILE_STRATEGY" in ran.stderr, ran.stderr
    assert ran.stderr.count("NX_DATAPATH in .env is not a nexuslims setting") == 1, ran.stderr
    assert "did you mean NX_DATA_PATH?" in ran.stderr
