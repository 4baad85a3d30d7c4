"""Fixtures shared by every test: the real-file corpus, the reference schema, no network."""

from __future__ import annotations

import ipaddress
import os
import socket
from pathlib import Path

import pytest

from tests.dask_cluster import dask_cluster  # noqa: F401  (a real Dask cluster, on first use)
from tests.postgres import pg_server, pg_url  # noqa: F401  (fixtures for every test)

REPO = Path(__file__).resolve().parents[1]


def corpus_path() -> Path | None:
    """The shared instrument-file corpus named by NEXUSLIMS_TEST_CORPUS, if present."""
    raw = os.environ.get("NEXUSLIMS_TEST_CORPUS")
    if not raw:
        return None
    path = Path(raw)
    if not path.is_absolute():
        path = (REPO / path).resolve()
    return path if path.is_dir() else None


def reference_schema_path() -> Path | None:
    """The published NexusLIMS schema existing CDCS servers validate against, if present."""
    raw = os.environ.get("NEXUSLIMS_TEST_REFERENCE")
    path = Path(raw) if raw else REPO.parent / "shared/reference/nexus-experiment-v1.0.xsd"
    return path if path.is_file() else None


@pytest.fixture(scope="session")
def corpus() -> Path:
    """Root of the real instrument files; skips the test when NEXUSLIMS_TEST_CORPUS is unset."""
    path = corpus_path()
    if path is None:
        pytest.skip("set NEXUSLIMS_TEST_CORPUS to the shared corpus of real instrument files")
    return path


@pytest.fixture(scope="session")
def extra_files() -> Path:
    """Real instrument files from public repositories, outside the shared corpus.

    ``NEXUSLIMS_TEST_EXTRA_FILES`` names a folder laid out as RosettaSciIO's
    ``rsciio/tests/data`` (``tiff/``, ``phenom/``, ``mrc/``...), with its zip archives
    unpacked (``tiff/tiff_Zeiss_SEM/...``). docs/formats.md lists the files used and
    where they come from. Skips the test when unset.
    """
    raw = os.environ.get("NEXUSLIMS_TEST_EXTRA_FILES")
    path = Path(raw) if raw else None
    if path is None or not path.is_dir():
        pytest.skip("set NEXUSLIMS_TEST_EXTRA_FILES to a folder of public instrument files")
    return path


@pytest.fixture(scope="session")
def reference_schema() -> Path:
    path = reference_schema_path()
    if path is None:
        pytest.skip("reference schema ../shared/reference/nexus-experiment-v1.0.xsd not present")
    return path


@pytest.fixture(autouse=True)
def _loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests may talk to servers on 127.0.0.1 only: any other connection is an error."""
    real_connect = socket.socket.connect

    def connect(self: socket.socket, address: object) -> object:
        if self.family in (socket.AF_INET, socket.AF_INET6):
            host = address[0] if isinstance(address, tuple) else address
            try:
                loopback = ipaddress.ip_address(host).is_loopback
            except ValueError:
                loopback = host == "localhost"
            if not loopback:
                raise OSError(f"test tried to reach {address}: only loopback is allowed")
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", connect)


@pytest.fixture(autouse=True)
def _fresh_legacy_warnings(monkeypatch: pytest.MonkeyPatch) -> None:
    """A 1.x setting name is warned about once per process: once per test, here."""
    from nexuslims import config

    monkeypatch.setattr(config, "_warned_legacy", set())
    monkeypatch.setattr(config, "_warned_unknown", set())


@pytest.fixture
def plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The misbehaving plug-in of :mod:`tests.faulty_plugin`, loaded in this process."""
    from tests.faulty_plugin import make_plugin_site, plugin_loaded

    with plugin_loaded(make_plugin_site(tmp_path / "site"), monkeypatch) as site:
        yield site
