"""doctor's checks of the settings themselves, and ``config show``'s value and source for
every setting (issue 20: doctor passed settings that ``serve`` refused, lost misspelt
names, and half-done calendars stopped every command)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from nexuslims import db
from nexuslims.config import known_setting_names
from nexuslims.model.session import Instrument
from nexuslims.ops.config_view import DEFAULTS, DERIVED, OLD_NAMES, UNSET_MEANS
from tests.cli.conftest import cli

REPO = Path(__file__).resolve().parents[2]


def _append(site, text: str) -> None:
    with (site.root / ".env").open("a") as env:
        env.write(text)


def _doctor(capsys) -> tuple[int, dict[str, dict]]:
    code, out, _ = cli(capsys, "doctor", "--json", "--timeout", "1")
    return code, {c["name"]: c for c in json.loads(out)}


def test_a_misspelt_setting_is_a_doctor_warning_with_the_closest_name(cli_site, capsys):
    _append(cli_site, "NX_CLUSTERING_SENSITIVTY=2\n")
    code, checks = _doctor(capsys)
    bad = checks["setting NX_CLUSTERING_SENSITIVTY"]
    assert bad["status"] == "warning"
    assert "did you mean NX_CLUSTERING_SENSITIVITY?" in bad["message"]
    assert checks["settings"]["status"] == "ok" and code == 0


def test_doctor_checks_the_settings_serve_reads(cli_site, capsys):
    _append(cli_site, "NX_WEB_PORT=80a\nNX_WEB_SERVE_RAW_FILES=maybe\n")
    code, checks = _doctor(capsys)
    serve = checks["settings of serve"]
    assert code == 1 and serve["status"] == "failure"
    assert "NX_WEB_PORT=80a" in serve["message"]
    assert "NX_WEB_SERVE_RAW_FILES=maybe" in serve["message"]
    code, out, err = cli(capsys, "serve", "--port", "1")  # the command itself refuses too
    assert code == 1 and "NX_WEB_PORT=80a" in err


def test_doctor_fails_a_value_a_pass_would_replace_by_its_default(cli_site, capsys):
    _append(cli_site, "NX_DB_BUSY_TIMEOUT=ten\nNX_BUILDER_LEASE=2m\n")
    code, checks = _doctor(capsys)
    other = checks["other settings"]
    assert code == 1 and other["status"] == "failure"
    assert "NX_DB_BUSY_TIMEOUT=ten" in other["message"]
    assert "NX_BUILDER_LEASE=2m" in other["message"]


def test_a_sharepoint_password_without_a_user_is_a_warning_until_an_instrument_needs_it(
        cli_site, capsys):
    _append(cli_site, "NX_SHAREPOINT_PASSWORD=pw-7e6d\n")
    ran = cli_site.subprocess("process", "--dry-run")  # a fresh process: warned once
    code, err = ran.returncode, ran.stderr
    assert code == 0, err  # it stopped every command
    assert err.count("NX_SHAREPOINT_PASSWORD is set but NX_SHAREPOINT_USER is not") == 1, err
    code, checks = _doctor(capsys)
    assert code == 0
    half = checks["calendar sharepoint"]
    assert half["status"] == "warning" and "NX_SHAREPOINT_USER" in half["message"]
    engine = db.make_engine(cli_site.settings_url())
    db.add_instrument(engine, Instrument(pid="titan", filestore_path="Titan",
                                         harvester="sharepoint", timezone="UTC"))
    engine.dispose()
    code, checks = _doctor(capsys)
    half = checks["calendar sharepoint"]
    assert code == 1 and half["status"] == "failure" and "needed by titan" in half["message"]
    assert "pw-7e6d" not in json.dumps(checks)


def test_a_cdcs_token_without_its_url_is_named_not_silently_ignored(cli_site, capsys):
    _append(cli_site, "NX_CDCS_TOKEN=tok-1a2b\n")
    code, checks = _doctor(capsys)
    half = checks["destination cdcs"]
    assert code == 0 and half["status"] == "warning"
    assert "NX_CDCS_TOKEN is set but NX_CDCS_URL is not" in half["message"]
    ran = cli_site.subprocess("process", "--dry-run")  # a fresh process: warned once
    assert ran.returncode == 0
    assert ran.stderr.count("NX_CDCS_TOKEN is set but NX_CDCS_URL is not") == 1, ran.stderr


def test_a_warning_is_printed_once_by_the_support_bundle(cli_site, capsys):
    _append(cli_site, "NX_SHAREPOINT_USER=nodomain\nNX_SHAREPOINT_PASSWORD=pw\n")
    ran = cli_site.subprocess("support-bundle", "-o", str(cli_site.root / "b.zip"))
    assert ran.returncode == 0, ran.stderr
    assert ran.stderr.count("has no DOMAIN") == 1, ran.stderr


def test_config_show_gives_1x_names_their_values_and_every_setting_a_value_or_meaning(
        cli_site, capsys):
    _append(cli_site, "cdcs_url=https://cdcs.example/\nnexusLIMS_user=NIST\\\\alice\n")
    code, out, _ = cli(capsys, "config", "show", "--json")
    shown = {s["name"]: (s["value"], s["source"]) for s in json.loads(out)["settings"]}
    assert shown["NX_CDCS_URL"] == ("https://cdcs.example/", "1.x name cdcs_url")
    assert shown["NX_CDCS_USER"][1] == "1.x name nexusLIMS_user"
    assert shown["NX_SHAREPOINT_USER"][1] == "1.x name nexusLIMS_user"
    assert shown["NX_WEB_PORT"] == ("8080", "default")
    assert shown["NX_EXPORT_STRATEGY"] == ("all", "default")
    assert shown["NX_DB_URL"] == (cli_site.settings_url(), "default: sqlite:/// + NX_DB_PATH")
    assert shown["NX_METRICS_PATH"] == ("", "unset: no metrics file")
    # Every setting says what it is when unset: a value, what it derives from, or what
    # leaving it unset means; none is a bare "unset".
    assert [n for n, (_, source) in shown.items() if source == "unset"] == []


def test_every_setting_has_a_default_or_says_what_unset_means():
    described = DEFAULTS.keys() | DERIVED.keys() | UNSET_MEANS.keys()
    assert sorted(known_setting_names() - described) == []
    assert sorted(described - known_setting_names()) == []


def test_every_1x_name_a_module_reads_is_shown():
    pattern = re.compile(r'legacy_setting\([^,]+, "(NX_\w+)", "(\w+)"')
    read = {m.groups() for path in (REPO / "nexuslims").rglob("*.py")
            for m in pattern.finditer(path.read_text())}
    assert read and all(old in OLD_NAMES.get(new, ()) for new, old in read)


#: Settings any value of which is valid where they are read (a path made when needed, a
#: host or user name), or that are read only with another setting this test leaves unset.
FREE_TEXT = {
    "NX_DATA_PATH", "NX_LOG_PATH", "NX_RECORDS_PATH", "NX_METRICS_PATH",  # relative paths
    "NX_WEB_HOST", "NX_WEB_USER_HEADER", "NX_WEB_BASIC_USER", "NX_WEB_BASIC_PASSWORD",
    "NX_DASK_SCHEDULER",  # with NX_EXECUTOR=dask
    "NX_DATACITE_EXPORT_PATH",  # with NX_DATACITE_EXPORT=true
    "NX_CERT_BUNDLE_FILE",  # with CDCS, SharePoint or the mail server
}


def test_doctor_reports_a_wrong_value_of_every_setting_a_command_reads(cli_site):
    """Each setting set to "maybe": doctor says something about it (a failure, or a
    warning that what it belongs to is off), unless any value is valid for it."""
    from nexuslims.ops.doctor import run_checks
    from nexuslims.web.settings import load_web_settings

    def not_ok(env: dict[str, str]) -> set[str]:
        checks = run_checks(env, timeout=0.5, commands={"serve": load_web_settings})
        return {f"{c.name}: {c.message}" for c in checks if c.status != "ok"}

    baseline = not_ok(cli_site.env)
    silent = [name for name in sorted(known_setting_names() - FREE_TEXT)
              if not not_ok({**cli_site.env, name: "maybe"}) - baseline]
    assert silent == []
