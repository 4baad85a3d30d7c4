"""A real CDCS (core-main-app 2.23) on 127.0.0.1 for the export tests.

core-main-app is installed once into a cached virtual environment outside the repo,
``${XDG_CACHE_HOME:-~/.cache}/nexuslims-tests/cdcs-2.23-py<X.Y>/``, built under a
temporary name and renamed into place when complete, so a half-built one is never used.
Beside it, a migrated database with a superuser and an API token is cached per version
of ``cdcs_site/settings.py``; each test session starts from a copy of it. Scripts run as
``python manage.py`` with the cached interpreter (a renamed venv's entry-point scripts
keep the old path in their shebang; its interpreter finds its packages by itself).
"""

from __future__ import annotations

import hashlib
import http.client
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import requests

from tests.servers import PY, ServerProcess, build_atomically, cache_dir, cached_venv, free_port

CDCS_REQUIREMENT = "core-main-app==2.23.*"
SITE = Path(__file__).resolve().parent / "cdcs_site"
USER, PASSWORD = "nexuslims", "not-a-real-password"
TOKEN = "5eed0f7e575c0de0000000000000000000000001"


def cdcs_venv() -> Path:
    """The cached core-main-app virtual environment, installed now if absent."""
    return cached_venv("cdcs-2.23", CDCS_REQUIREMENT)


def pristine_database(venv: Path) -> Path:
    """A migrated CDCS database with our user and token (cached per settings.py)."""
    digest = hashlib.sha256((SITE / "settings.py").read_bytes()).hexdigest()[:12]

    def migrate(path: Path) -> None:
        path.mkdir(parents=True)
        env = cdcs_env(path)
        manage(venv, ["migrate", "-v", "0"], env)
        manage(venv, ["shell", "-c",
                      "from django.contrib.auth.models import User\n"
                      "from rest_framework.authtoken.models import Token\n"
                      f"u = User.objects.create_superuser({USER!r}, 'nx@example.org', "
                      f"{PASSWORD!r})\n"
                      f"Token.objects.create(user=u, key={TOKEN!r})\n"], env)

    return build_atomically(cache_dir() / f"cdcs-2.23-{PY}-db-{digest}", migrate) \
        / "cdcs.sqlite3"


def cdcs_env(state: Path, uri: str = "http://127.0.0.1:8000") -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PYTHON", "DJANGO", "VIRTUAL_ENV", "NX_"))}
    env.update(NXTEST_CDCS_STATE=str(state), NXTEST_CDCS_URI=uri)
    return env


def manage(venv: Path, args: list[str], env: dict[str, str]) -> None:
    done = subprocess.run([str(venv / "bin" / "python"), str(SITE / "manage.py"), *args],
                          env=env, cwd=env["NXTEST_CDCS_STATE"], capture_output=True,
                          text=True, timeout=300)
    if done.returncode != 0:
        raise RuntimeError(f"manage.py {args[0]} failed:\n{done.stdout[-2000:]}\n"
                           f"{done.stderr[-3000:]}")


class CDCSServer(ServerProcess):
    """One CDCS server with its own database copy and port; stop and start at will."""

    def __init__(self, venv: Path, state: Path, pristine: Path):
        self.venv, self.state = venv, state
        state.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(pristine, state / "cdcs.sqlite3")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.proc: subprocess.Popen[bytes] | None = None
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Token {TOKEN}"

    def start(self) -> None:
        log = open(self.state / "server.log", "ab")  # noqa: SIM115 - lives with the process
        self.proc = subprocess.Popen(
            [str(self.venv / "bin" / "python"), str(SITE / "manage.py"), "runserver",
             f"127.0.0.1:{self.port}", "--noreload", "--skip-checks"],
            env=cdcs_env(self.state, self.url.rstrip("/")), cwd=self.state, stdout=log,
            stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("CDCS exited: "
                                   + (self.state / "server.log").read_text()[-3000:])
            try:
                if self.http.get(self.url + "rest/workspace/read_access",
                                 timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                time.sleep(0.1)
        raise RuntimeError("CDCS did not start within 90 s")


    def api(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return self.http.request(method, self.url + path, timeout=30, **kwargs)

    def upload_template(self, title: str, xsd: str) -> None:
        r = self.api("POST", "rest/template/global/",
                     json={"title": title, "filename": f"{title}.xsd", "content": xsd})
        assert r.status_code == 201, r.text

    def records(self, title: str) -> list[dict[str, Any]]:
        r = self.api("GET", "rest/data/", params={"title": title})
        assert r.status_code == 200, r.text
        body = r.json()
        return body["results"] if isinstance(body, dict) else body

    def download(self, data_id: str) -> bytes:
        r = self.api("GET", f"rest/data/download/{data_id}/")
        assert r.status_code == 200, r.text
        return r.content

    def public_workspace(self) -> str:
        spaces = self.api("GET", "rest/workspace/read_access").json()
        return next(str(w["id"]) for w in spaces if w["is_public"] and w["owner"] is None)


class Proxy:
    """An HTTP proxy on 127.0.0.1 in front of ``upstream`` that counts requests.

    ``after`` is called with (method, path, status) once the upstream answered and
    before the client gets the answer; returning False drops the answer (the
    connection closes unanswered), as a crash or a lost reply would.
    """

    def __init__(self, upstream: str):
        self.upstream = upstream.rstrip("/")
        self.requests: list[tuple[str, str]] = []
        self.after: Callable[[str, str, int], bool] = lambda method, path, status: True
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _forward(self) -> None:
                proxy.requests.append((self.command, self.path))
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                host = proxy.upstream.split("//", 1)[1]
                conn = http.client.HTTPConnection(host, timeout=60)
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() not in ("host", "connection")}
                conn.request(self.command, self.path, body=body or None, headers=headers)
                answer = conn.getresponse()
                data = answer.read()
                conn.close()
                if not proxy.after(self.command, self.path, answer.status):
                    self.close_connection = True
                    return
                self.send_response(answer.status)
                for k, v in answer.getheaders():
                    if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = _forward

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
