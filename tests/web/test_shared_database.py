"""A web server on one host and the builder on another, sharing one PostgreSQL.

Each "host" is a separate process with its own environment, working directory and
temporary folder; all they share is ``NX_DB_URL`` and the builder's ``NX_DATA_PATH``
(records, sidecars, previews), which the web host mounts read-only at the same path.
The web host does not mount the instruments' data. The two run at once: the web logs
sessions while a pass builds, neither locks the other out, and the next pass builds
the session the web logged.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
import sqlalchemy as sa

from nexuslims import db
from nexuslims.db.tokens import create_token
from nexuslims.model.session import Instrument
from nexuslims.sessions.logbook import add_session
from tests.faulty_plugin import make_plugin_site
from tests.web.world import REPO, WebServer

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.corpus]

TZ = ZoneInfo("America/Chicago")
PID = "FEI-Titan-shared-db"
DAY = dt.date.today() - dt.timedelta(days=3)
#: The pass's session (built first) and the one the web logs during that pass.
FIRST = (dt.datetime.combine(DAY, dt.time(9), TZ), dt.datetime.combine(DAY, dt.time(11), TZ))
SECOND = (dt.datetime.combine(DAY, dt.time(13), TZ), dt.datetime.combine(DAY, dt.time(14), TZ))
FIRST_FILES = ["digitalmicrograph/test_STEM_image.dm3",
               "digitalmicrograph/test_diffraction_pattern.dm3",
               "digitalmicrograph/test-EELS_spectrum.dm3",
               "tiff/FEI-Helios-Ebeam-8bits.tif"]
SECOND_FILES = ["tiff/FEI-Helios-Ebeam-16bits.tif", "digitalmicrograph/test-EDS_spectrum.dm3"]


def host_env(home: Path, tmp: Path, *path: Path, **settings: str) -> dict[str, str]:
    """A host's own environment: none of ours NX_*, its own HOME and TMPDIR.

    TMPDIR stays short: the worker pool's socket lives there, and a Unix socket's path
    may not exceed 107 bytes (pytest's tmp_path can).
    """
    home.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("NX_")}
    env.update(settings, HOME=str(home), TMPDIR=str(tmp),
               PYTHONPATH=os.pathsep.join(map(str, [REPO, *path])))
    return env


def builder_pass(env: dict[str, str], cwd: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "nexuslims", "process"], env=env, cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def copy_files(corpus: Path, folder: Path, names: list[str],
               window: tuple[dt.datetime, dt.datetime]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    start = window[0].timestamp()
    for n, name in enumerate(names):
        target = folder / Path(name).name
        shutil.copyfile(corpus / name, target)
        os.utime(target, (start + 300 + 60 * n, start + 300 + 60 * n))


def unfinished_attempts(engine: sa.Engine) -> int:
    """Build attempts running now, as a third client of the database sees them."""
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT count(*) FROM build_attempts "
                                    "WHERE finished IS NULL")).scalar_one()


@pytest.fixture
def short_tmp() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="nx-hosts-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_web_and_builder_on_two_hosts_share_one_postgresql(pg_url, corpus, tmp_path,
                                                           short_tmp):
    # The administrator's setup, once: schema, instrument, the first session, a token.
    db.init_db(pg_url)
    admin = db.make_engine(pg_url)
    db.add_instrument(admin, Instrument(pid=PID, filestore_path="Titan", timezone=str(TZ)))
    add_session(admin, PID, *FIRST, user="alice", identifier="first-session")
    _, token = create_token(admin, instrument=PID, note="instrument PC")

    instrument_data, data = tmp_path / "instrument-data", tmp_path / "shared/data"
    copy_files(corpus, instrument_data / "Titan/alice", FIRST_FILES, FIRST)
    copy_files(corpus, instrument_data / "Titan/bob", SECOND_FILES, SECOND)
    (short_tmp / "builder").mkdir()
    (short_tmp / "web").mkdir()
    # A plug-in file whose reader holds the pass in extraction until the web has written:
    # the two certainly overlap, however fast the pass.
    go = tmp_path / "go"
    held = instrument_data / "Titan/alice/held.fault"
    held.write_text(f"wait {go}")
    os.utime(held, (FIRST[1].timestamp() - 60,) * 2)
    plugins = make_plugin_site(tmp_path / "plugins")
    builder = host_env(tmp_path / "builder-host", short_tmp / "builder", plugins,
                       NX_DB_URL=pg_url,
                       NX_INSTRUMENT_DATA_PATH=str(instrument_data), NX_DATA_PATH=str(data),
                       NX_EXTRACT_WORKERS="1")  # one worker's imports: a shorter test
    # The PC logs a session three days old: allowed by a wider NX_API_MAX_AGE_HOURS.
    web_env = host_env(tmp_path / "web-host", short_tmp / "web", NX_DB_URL=pg_url,
                       NX_DATA_PATH=str(data), NX_API_MAX_AGE_HOURS="168")
    web = WebServer(web_env, tmp_path / "web-host/serve.log").wait()
    auth = {"Authorization": f"Bearer {token}"}
    try:
        health = httpx.get(f"{web.url}/healthz", timeout=10)
        assert health.status_code == 503 and health.json()["last_pass"] is None

        running = builder_pass(builder, tmp_path / "builder-host")
        logged, during_pass, second = 0, 0, None
        while running.poll() is None:
            busy = unfinished_attempts(admin)
            if second is None and busy:  # the pass has read the session log already
                started = httpx.post(f"{web.url}/api/sessions/start", headers=auth, timeout=30,
                                     json={"instrument": PID, "user": "bob",
                                           "time": SECOND[0].isoformat()})
                assert started.status_code == 201, started.text
                second = started.json()["id"]
                ended = httpx.post(f"{web.url}/api/sessions/{second}/end", headers=auth,
                                   json={"time": SECOND[1].isoformat()}, timeout=30)
                assert ended.status_code == 200, ended.text
            else:  # a session logged now, at the PC, while the pass runs
                started = httpx.post(f"{web.url}/api/sessions/start", headers=auth,
                                     json={"instrument": PID, "user": "carol"}, timeout=30)
                assert started.status_code == 201, started.text
            listed = httpx.get(f"{web.url}/api/sessions", timeout=30)
            assert listed.status_code == 200
            logged += 1
            during_pass += bool(busy and unfinished_attempts(admin))
            if second is not None and during_pass:
                go.touch()  # let the pass go on
            time.sleep(0.2)
        output = running.communicate()[0]
        assert running.returncode == 0, output
        assert second is not None and during_pass >= 1, (
            "the web wrote nothing while a session was being built", output)
        assert "1 built, 0 failed" in output, output

        # The web host shows what the builder host built: record, previews, pass log.
        health = httpx.get(f"{web.url}/healthz", timeout=10).json()
        assert health["status"] == "ok" and health["last_pass"]["built"] == 1
        records = httpx.get(f"{web.url}/api/records", timeout=10).json()
        assert [r["session"] for r in records["records"]] == ["first-session"]
        record = httpx.get(f"{web.url}/api/records/{records['records'][0]['id']}",
                           timeout=10).json()
        datasets = [d for a in record["activities"] for d in a["datasets"]]
        assert {d["name"] for d in datasets} == {Path(n).name for n in FIRST_FILES} | {
            held.name}
        preview = httpx.get(web.url + datasets[0]["preview_url"], timeout=10)
        assert preview.status_code == 200 and preview.content.startswith(b"\x89PNG")
        assert datasets[0]["raw_url"] is None  # the web host has no instrument data
        builder_page = httpx.get(f"{web.url}/builder", timeout=10).text
        assert "No pass recorded yet" not in builder_page

        # The builder's next pass builds the session the web logged during the last one.
        again = builder_pass(builder, tmp_path / "builder-host")
        output = again.communicate(timeout=120)[0]
        assert again.returncode == 0 and "1 built, 0 failed" in output, output
        sessions = {s["id"]: s for s in httpx.get(f"{web.url}/api/sessions",
                                                  timeout=10).json()}
        assert sessions[second]["status"] == "COMPLETED"
        assert sessions["first-session"]["status"] == "COMPLETED"
        assert sum(s["user"] == "carol" and s["status"] == "WAITING_FOR_END"
                   for s in sessions.values()) == logged - 1
        records = httpx.get(f"{web.url}/api/records", timeout=10).json()
        assert {r["session"] for r in records["records"]} == {"first-session", second}
        health = httpx.get(f"{web.url}/healthz", timeout=10).json()
        assert health["status"] == "ok" and health["last_pass"]["built"] == 1
    finally:
        go.touch()
        web.stop()
        admin.dispose()
