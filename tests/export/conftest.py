"""Small worlds for the export tests: a facility (DB, file store, sessions) and a CDCS."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from nexuslims import db
from nexuslims.builder.outcome import PassSummary
from nexuslims.builder.run import run_pass
from nexuslims.config import Settings, load_settings
from nexuslims.db.uploads import UploadAttempt, uploads_of_session
from nexuslims.model.session import EventType, Instrument, Status
from tests.export.cdcs_server import TOKEN, CDCSServer, cdcs_venv, pristine_database
from tests.export.elabftw_server import ELabFTW

REPO = Path(__file__).resolve().parents[2]
BASE = dt.datetime(2024, 3, 5, 9, 0, tzinfo=dt.UTC)
NEXUS_TEMPLATE = "nexus-experiment"
STRICT_TEMPLATE = "strict-experiment"
# Same namespace and root as our records, but it wants an element they never have.
STRICT_XSD = """<?xml version="1.0" encoding="UTF-8"?>
<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema"
           targetNamespace="https://data.nist.gov/od/dm/nexus/experiment/v1.0"
           elementFormDefault="qualified">
  <xs:element name="Experiment">
    <xs:complexType><xs:sequence>
      <xs:element name="approvedBy" type="xs:string"/>
    </xs:sequence></xs:complexType>
  </xs:element>
</xs:schema>
"""


def later(hours: float = 25) -> dt.datetime:
    """A pass time beyond any export backoff (24 h at most)."""
    return dt.datetime.now(dt.UTC) + dt.timedelta(hours=hours)


class Site:
    """A facility: SQLite session log, one instrument with no calendar, a file store.

    Each session gets three small text files whose modification times fall in it.
    """

    def __init__(self, root: Path, env: dict[str, str]):
        self.root = root
        self.prefix = uuid.uuid4().hex[:8]  # record titles stay unique on the shared CDCS
        self.instrument = "scope"
        self.store = root / "instrument-data" / "Scope"
        self.store.mkdir(parents=True)
        self.base_env = {"NX_INSTRUMENT_DATA_PATH": str(root / "instrument-data"),
                         "NX_DATA_PATH": str(root / "data"),
                         "NX_DB_PATH": str(root / "nexuslims.db"),
                         "NX_FILE_STRATEGY": "inclusive", "NX_EXTRACT_WORKERS": "1"}
        self.env = {**self.base_env, **env}
        db.init_db(self.settings.db_url)
        self.engine = db.make_engine(self.settings.db_url)
        db.add_instrument(self.engine, Instrument(pid=self.instrument, filestore_path="Scope",
                                                  schema_name="Test Scope", timezone="UTC"))
        self.sessions: list[str] = []

    @property
    def settings(self) -> Settings:
        return load_settings(self.env)

    def add_session(self, name: str = "s") -> str:
        """Log a finished session (START/END TO_BE_BUILT) and write its files."""
        ident = f"{self.prefix}-{name}"
        start = BASE + dt.timedelta(days=len(self.sessions))
        folder = self.store / ident
        folder.mkdir()
        for i in range(3):
            f = folder / f"notes {i}.txt"
            f.write_text(f"session {ident}, note {i}\n" * (i + 1))
            t = (start + dt.timedelta(minutes=10 + i)).timestamp()
            os.utime(f, (t, t))
        return self._log(ident, start)

    def add_corpus_session(self, corpus: Path, files: list[str], name: str = "c") -> str:
        """Log a finished session whose files are copies of real instrument files.

        ``files`` are paths under the corpus; the copies get modification times a few
        minutes apart inside the session (the corpus's own times mean nothing).
        """
        ident = f"{self.prefix}-{name}"
        start = BASE + dt.timedelta(days=len(self.sessions))
        folder = self.store / ident
        folder.mkdir()
        for i, relative in enumerate(files):
            copy = folder / Path(relative).name
            shutil.copyfile(corpus / relative, copy)
            t = (start + dt.timedelta(minutes=10 + 5 * i)).timestamp()
            os.utime(copy, (t, t))
        return self._log(ident, start)

    def _log(self, ident: str, start: dt.datetime) -> str:
        """Log session ``ident`` as two hours from ``start``, finished and waiting."""
        for event, when in ((EventType.START, start),
                            (EventType.END, start + dt.timedelta(hours=2))):
            db.log_session_event(self.engine, ident, self.instrument, when, event,
                                 Status.TO_BE_BUILT, "alice")
        self.sessions.append(ident)
        return ident

    def run(self, now: dt.datetime | None = None) -> PassSummary:
        return run_pass(self.settings, now=now)

    def status(self, ident: str) -> str:
        detail = db.session_detail(self.engine, ident)
        assert detail is not None
        return str(detail.status)

    def uploads(self, ident: str) -> list[UploadAttempt]:
        return uploads_of_session(self.engine, ident)

    def record(self, ident: str) -> Path:
        records = [p for p in self.settings.records_path.glob("*.xml") if ident in p.name
                   and not p.name.endswith(".datacite.xml")]
        assert len(records) == 1, records
        return records[0]

    def cli(self, *args: str, env: dict[str, str] | None = None,
            ) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "nexuslims", *args], cwd=self.root,
                              env=self.process_env(env), capture_output=True, text=True,
                              timeout=300)

    def process_env(self, env: dict[str, str] | None = None) -> dict[str, str]:
        clean = {k: v for k, v in os.environ.items()
                 if not k.startswith(("NX_", "nexusLIMS", "NexusLIMS", "mmfnexus", "cdcs_"))}
        return {**clean, **self.env, **(env or {})}


@pytest.fixture
def make_site(tmp_path: Path) -> Iterator:
    sites: list[Site] = []

    def make(**env: str) -> Site:
        site = Site(tmp_path / f"site{len(sites)}", env)
        sites.append(site)
        return site

    yield make
    for site in sites:
        site.engine.dispose()


@pytest.fixture(scope="session")
def cdcs_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CDCSServer]:
    """A CDCS on 127.0.0.1 with the project's schema as template (and a stricter one)."""
    venv = cdcs_venv()
    server = CDCSServer(venv, tmp_path_factory.mktemp("cdcs"), pristine_database(venv))
    server.start()
    try:
        server.upload_template(NEXUS_TEMPLATE,
                               (REPO / "schemas" / "nexus-experiment.xsd").read_text())
        server.upload_template(STRICT_TEMPLATE, STRICT_XSD)
        yield server
    finally:
        server.stop()


@pytest.fixture
def cdcs(cdcs_server: CDCSServer) -> Iterator[CDCSServer]:
    """The shared CDCS, running (restarted if a test stopped it)."""
    if not cdcs_server.running:
        cdcs_server.start()
    yield cdcs_server
    if not cdcs_server.running:
        cdcs_server.start()


@pytest.fixture
def elabftw() -> Iterator[ELabFTW]:
    """A fake eLabFTW on 127.0.0.1 held to the API description; no contract broken."""
    server = ELabFTW().start()
    try:
        yield server
    finally:
        server.stop()
    assert server.violations == []


def elabftw_env(server: ELabFTW, **more: str) -> dict[str, str]:
    """Settings that export to the fake eLabFTW ``server``."""
    return {"NX_ELABFTW_URL": server.url, "NX_ELABFTW_API_KEY": server.api_key,
            "NX_ELABFTW_RETRIES": "2", "NX_ELABFTW_TIMEOUT": "5", **more}


def cdcs_env(url: str, *, token: str = TOKEN, template: str | None = NEXUS_TEMPLATE,
             **more: str) -> dict[str, str]:
    """Settings that export to the CDCS at ``url``."""
    env = {"NX_CDCS_URL": url, "NX_CDCS_TOKEN": token, "NX_CDCS_RETRIES": "2", **more}
    if template:
        env["NX_CDCS_TEMPLATE"] = template
    return env
