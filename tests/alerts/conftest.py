"""Fixtures: a real SMTP server on 127.0.0.1, and a small site with a session database."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.alerts.smtp_server import SMTPServer, make_certificate
from tests.servers import free_port


@pytest.fixture(scope="session")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return make_certificate(tmp_path_factory.mktemp("smtp-tls"))


@pytest.fixture
def smtp(certificate: tuple[Path, Path]):
    server = SMTPServer(free_port(), *certificate)
    server.start()
    yield server
    server.stop()
