"""The support bundle: what it holds, and that no secret leaves in it."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from urllib.parse import quote

from nexuslims import db
from nexuslims.config import load_settings
from nexuslims.model.session import EventType, Instrument, Status
from nexuslims.ops.bundle import redact
from tests.servers import free_port

SECRETS = {
    "NX_NEMO_TOKEN_1": "nemo-token-Zq81xK",
    "NX_NEMO_TOKEN_2": "nemo-token-second-Yp72",
    "NX_CDCS_TOKEN": "cdcs-token-Wm55rT",
    "NX_CDCS_PASSWORD": "cdcs-pass-Vn44#s",
    "NX_SHAREPOINT_PASSWORD": "sharepoint-pass-Ul33",
    "NX_EMAIL_SMTP_PASSWORD": "smtp-pass-Tk22!q",
    "nexusLIMS_pass": "legacy-pass-Sj11",
}
URL_PASSWORD = "url-pass-Rh00@x"  # inside NX_CDCS_URL and NX_DB_URL, percent-encoded there


def test_no_secret_appears_anywhere_in_the_bundle(tmp_path: Path) -> None:
    closed = free_port()  # nothing listens: the servers' checks fail quickly
    (tmp_path / "instrument-data" / "Titan").mkdir(parents=True)
    logs = tmp_path / "logs"
    env = {"NX_INSTRUMENT_DATA_PATH": str(tmp_path / "instrument-data"),
           "NX_DATA_PATH": str(tmp_path / "data"), "NX_DB_PATH": str(tmp_path / "nx.db"),
           "NX_LOG_PATH": str(logs),
           "NX_NEMO_ADDRESS_1": f"http://127.0.0.1:{closed}/api/",
           "NX_NEMO_ADDRESS_2": f"http://127.0.0.1:{closed}/two/api/",
           "NX_CDCS_URL": f"http://curator:{quote(URL_PASSWORD)}@127.0.0.1:{closed}/",
           "NX_CDCS_USER": "curator",
           "NX_SHAREPOINT_USER": "LAB\\calendar",
           "NX_EMAIL_SMTP_HOST": "127.0.0.1", "NX_EMAIL_SMTP_PORT": str(closed),
           "NX_EMAIL_SMTP_USERNAME": "alerts", "NX_EMAIL_SENDER": "nx@example.org",
           "NX_EMAIL_RECIPIENTS": "admin@example.org", "NX_EMAIL_USE_TLS": "false",
           "NX_DB_URL": f"sqlite:///{tmp_path / 'nx.db'}",
           **SECRETS}
    settings = load_settings(env)
    db.init_db(settings.db_url)
    engine = db.make_engine(settings.db_url)
    db.add_instrument(engine, Instrument(pid="titan", filestore_path="Titan", timezone="UTC"))
    start = dt.datetime(2024, 3, 5, 9, 0, tzinfo=dt.UTC)
    for ident, status in (("fine-1", Status.COMPLETED), ("broken-1", Status.ERROR)):
        for event, when in ((EventType.START, start), (EventType.END, start)):
            db.log_session_event(engine, ident, "titan", when, event, status)
    engine.dispose()
    everything = [*SECRETS.values(), URL_PASSWORD, quote(URL_PASSWORD)]
    day = logs / "2024" / "03" / "05"
    day.mkdir(parents=True)
    (day / "120000_process.log").write_text(
        "12:00:00 INFO nexuslims: pass started\n"
        + "".join(f"12:00:01 DEBUG leaked: {s} in a request\n" for s in everything)
        + f"12:00:02 ERROR GET http://curator:{quote(URL_PASSWORD)}@cdcs/ failed\n")
    (logs / "events.jsonl").write_text(json.dumps({"event": "stage", "error": everything}) + "\n")

    out = tmp_path / "bundle.zip"
    clean = {k: v for k, v in os.environ.items() if not k.startswith("NX_")}
    result = subprocess.run([sys.executable, "-m", "nexuslims", "support-bundle", "-o", str(out)],
                            env={**clean, **env}, cwd=tmp_path, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    assert f"wrote {out}" in result.stdout

    with zipfile.ZipFile(out) as zf:
        members = {name: zf.read(name).decode("utf-8") for name in zf.namelist()}
    assert {"README.txt", "settings.txt", "doctor.json", "versions.json", "sessions.json",
            "stages.json", "uploads.json", "logs/2024/03/05/120000_process.log",
            "logs/events.jsonl"} <= set(members)
    for name, text in members.items():
        for secret in everything:
            assert secret not in text, f"{secret!r} is in {name}"
    assert "NX_NEMO_TOKEN_1=***" in members["settings.txt"]
    assert "NX_EMAIL_SMTP_USERNAME=alerts" in members["settings.txt"]  # not a secret
    assert "http://curator:***@cdcs/" in members["logs/2024/03/05/120000_process.log"]
    checks = json.loads(members["doctor.json"])
    assert any(c["name"].startswith("NEMO") and c["status"] == "failure" for c in checks)
    assert any(c["name"].startswith("mail") and c["status"] == "failure" for c in checks)
    sessions = json.loads(members["sessions.json"])
    assert [s["identifier"] for s in sessions] == ["broken-1", "fine-1"]  # problems first
    assert "attempts" in sessions[0]
    assert json.loads(members["versions.json"])["nexuslims"]


def test_redact_removes_url_passwords_it_was_not_told_about() -> None:
    text = "postgresql+psycopg://nx:hunter22@db/nx and https://u:p4ss@host/x"
    assert redact(text, {}) == "postgresql+psycopg://nx:***@db/nx and https://u:***@host/x"


def test_an_unwritable_output_is_one_line_and_exit_1(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("not a folder")
    clean = {k: v for k, v in os.environ.items() if not k.startswith("NX_")}
    result = subprocess.run([sys.executable, "-m", "nexuslims", "support-bundle", "-o",
                             str(tmp_path / "a-file" / "bundle.zip")], env=clean,
                            cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "cannot write" in result.stderr and "-o FILE" in result.stderr
