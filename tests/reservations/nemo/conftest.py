"""Worlds for the reservation tests: real NEMO servers on 127.0.0.1 and a small facility.

``nemo_servers`` (session-scoped) installs NEMO into a cached virtual environment,
seeds two servers from :mod:`tests.reservations.nemo.world` and starts them; ``site`` is a
fresh nexuslims database, instrument folders with a few text files, and settings
pointing at both servers.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from nexuslims import db
from nexuslims.config import Settings, load_settings
from nexuslims.model.session import EventType, Instrument, Status
from tests.reservations.nemo import world
from tests.reservations.nemo.nemo_server import NemoProcess, empty_database, nemo_venv


@dataclass
class NemoServers:
    a: NemoProcess
    b: NemoProcess


@pytest.fixture(scope="session")
def nemo_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NemoServers]:
    """Servers A and B, seeded and running; stopped at the end of the test run."""
    venv = nemo_venv()
    root = tmp_path_factory.mktemp("nemo")
    template = empty_database(venv, root / "template" / "nemo.sqlite3")
    servers = NemoServers(
        a=NemoProcess(venv, root / "a", template, world.WORLD_A, "America/New_York"),
        b=NemoProcess(venv, root / "b", template, world.WORLD_B, "UTC"))
    try:
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(lambda s: (s.seed(), s.start()), (servers.a, servers.b)))
        yield servers
    finally:
        servers.a.stop()
        servers.b.stop()


@pytest.fixture
def nemo(nemo_servers: NemoServers) -> NemoServers:
    """Both servers, running (a test may have stopped one)."""
    nemo_servers.a.ensure_running()
    nemo_servers.b.ensure_running()
    return nemo_servers


def patch(server: NemoProcess, path: str, body: dict) -> dict:
    """Change an object through NEMO's REST API, as staff would in NEMO."""
    response = requests.patch(server.address + path, json=body, timeout=30,
                              headers={"Authorization": f"Token {server.token}"})
    response.raise_for_status()
    return response.json()


def nemo_env(servers: NemoServers) -> dict[str, str]:
    return {
        "NX_NEMO_ADDRESS_1": servers.a.address, "NX_NEMO_TOKEN_1": servers.a.token,
        "NX_NEMO_ADDRESS_2": servers.b.address, "NX_NEMO_TOKEN_2": servers.b.token,
        "NX_NEMO_TZ_2": "America/Denver",
        "NX_NEMO_STRFTIME_FMT_2": "%Y-%m-%dT%H:%M:%S",
        "NX_NEMO_STRPTIME_FMT_2": "%Y-%m-%dT%H:%M:%S%z",
        "NX_NEMO_RETRIES": "1", "NX_NEMO_BACKOFF": "0.05", "NX_NEMO_TIMEOUT": "10",
    }


@dataclass
class Site:
    """A facility: its settings (with env), database and folders."""

    settings: Settings
    env: dict[str, str]
    engine: object
    root: Path

    @property
    def db_file(self) -> Path:
        return Path(self.settings.db_url.removeprefix("sqlite:///"))


@pytest.fixture
def site(tmp_path: Path, nemo: NemoServers) -> Iterator[Site]:
    """A nexuslims site whose titan/quanta are on server A and helios on server B."""
    data = tmp_path / "instrument-data"
    for folder, name, mtime in world.FILES:
        path = data / folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"{name}: acquisition notes\n")
        os.utime(path, (mtime.timestamp(), mtime.timestamp()))
    env = {"NX_INSTRUMENT_DATA_PATH": str(data), "NX_DATA_PATH": str(tmp_path / "data"),
           "NX_DB_PATH": str(tmp_path / "nexuslims.db"), "NX_FILE_STRATEGY": "inclusive",
           "NX_EXTRACT_WORKERS": "1", **nemo_env(nemo)}
    settings = load_settings(env)
    db.init_db(settings.db_url)
    engine = db.make_engine(settings.db_url)
    servers = {"A": nemo.a, "B": nemo.b}
    for pid, server, tool, folder in world.INSTRUMENTS:
        db.add_instrument(engine, Instrument(
            pid=pid, filestore_path=folder, harvester="nemo", schema_name=pid.title(),
            api_url=f"{servers[server].address}tools/?id={tool}",
            timezone="America/Denver" if server == "B" else "America/New_York"))
    db.add_instrument(engine, Instrument(pid="plain", filestore_path="Plain",
                                         timezone="America/New_York"))
    for event, hour in ((EventType.START, 11), (EventType.END, 13)):
        db.log_session_event(engine, "plain-session", "plain",
                             dt.datetime(2024, 11, 1, hour, tzinfo=world.NY),
                             event, Status.TO_BE_BUILT, "erin")
    yield Site(settings, env, engine, tmp_path)
    engine.dispose()
