"""A fake eLabFTW on 127.0.0.1, held to eLabFTW's published API v2 description.

No eLabFTW can run here (PHP 8.3, MySQL, Composer), so this server stands in for one:
a real HTTP server (werkzeug) that keeps experiments, extra fields, tags and uploads,
answers the calls the ``elabftw`` destination and the official ``elabapi-python``
client make, and checks with ``openapi-core``:

- every request it receives, against ``../shared/reference/elabftw-openapi-v2.yaml``
  (the spec's known faults corrected in memory first, see :func:`load_spec`);
- every answer it gives, in its spec form, before applying the real server's known
  differences from the spec (:data:`DIFFERENCES`): ``metadata`` sent back as a JSON
  string, integer error ``code``, tags joined with ``|``, a ``Location`` on the
  server's own site URL, no ``hash`` for uploads of 100 MB or more.

Whatever breaks the contract is kept in :attr:`ELabFTW.violations` (tests assert it is
empty) and answered 400 (request) or 500 (answer). Faults (a 500, a lost answer after
the work is done, a hang) are queued with :meth:`ELabFTW.fail`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from tests.servers import free_port

SPEC = Path(__file__).resolve().parents[3] / "shared" / "reference" / "elabftw-openapi-v2.yaml"
API_KEY = "3-0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0a1b2c3d4e5f6a7b8"
SITE_URL = "https://elab.example.org"
"""The site URL the server believes it has: ``Location`` headers use it."""
NO_HASH_AT = 100 * 1024 * 1024
DIFFERENCES = ("metadata as a JSON string", "integer error code", "tags joined with |",
               "Location on the configured site URL", "no hash for uploads >= 100 MB")


def load_spec(path: Path = SPEC) -> dict[str, Any]:
    """The spec with its known faults corrected (a strict loader refuses it as published).

    Outside the endpoints the destination uses, about 15 schemas say ``type: int``, give
    ``null`` defaults or examples without ``nullable: true``, or an integer ``enum`` for
    a string with a string default; and ``GET /info`` answers ``oneOf`` two schemas that
    any object matches. Each is corrected to what it evidently means.
    """
    spec = yaml.safe_load(path.read_text())

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "int":
                node["type"] = "integer"
            if node.get("type") == "string" and "enum" in node:
                node["enum"] = [str(v) for v in node["enum"]]
            for key in ("default", "example"):
                if key in node and node[key] is None and "type" in node:
                    node["nullable"] = True
                if node.get("type") == "string" and node.get(key) is not None \
                        and not isinstance(node[key], str):
                    node[key] = str(node[key])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(spec)
    # GET /info answers one of two objects that require nothing, so every answer matches
    # both and "exactly one" can never hold: the evident meaning is "either".
    info = spec["paths"]["/info"]["get"]["responses"]["200"]["content"]["application/json"]
    info["schema"]["anyOf"] = info["schema"].pop("oneOf")
    return spec


@dataclass
class Fault:
    """What the server does instead of (or after) answering one matching request."""

    method: str
    path: str
    """A regular expression the request path (after ``/api/v2``) must match fully."""
    kind: str
    """``500``: answer HTTP 500 without doing it; ``lost``: do it, then hold the answer
    until the server stops (the client times out); ``hang``: hold it without doing it."""
    times: int = 1
    skip: int = 0
    """Let this many matching requests through first."""


@dataclass
class Upload:
    id: int
    real_name: str
    comment: str
    data: bytes
    created_at: str
    state: int = 1


@dataclass
class Experiment:
    id: int
    title: str
    body: str | None
    metadata: dict[str, Any] | None
    category: int | None = None
    status: int | None = None
    tags: list[str] = field(default_factory=list)
    uploads: list[Upload] = field(default_factory=list)
    state: int = 1
    created_at: str = ""
    modified_at: str = ""


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


class ELabFTW:
    """The fake server: start it, point ``NX_ELABFTW_URL`` at :attr:`url`, read its state."""

    def __init__(self, *, api_key: str = API_KEY, site_url: str = SITE_URL,
                 no_hash_at: int = NO_HASH_AT, extrafield_search: bool = True):
        from openapi_core import OpenAPI

        self.api_key = api_key
        self.site_url = site_url
        self.no_hash_at = no_hash_at
        self.extrafield_search = extrafield_search
        """False: ``extended`` finds nothing (a server whose query grammar differs)."""
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        spec = load_spec()
        spec["servers"] = [{"url": f"{self.url}/api/v2"}]
        self.openapi = OpenAPI.from_dict(spec)
        self.experiments: dict[int, Experiment] = {}
        self.violations: list[str] = []
        self.requests: list[tuple[str, str]] = []
        self.faults: list[Fault] = []
        self.release = threading.Event()
        self._ids = {"experiment": 0, "upload": 0, "tag": 0}
        self._lock = threading.Lock()
        self._server = make_server("127.0.0.1", self.port, self._wsgi, threaded=True)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    # ------------------------------------------------------------------ control

    def start(self) -> ELabFTW:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.release.set()
        self._server.shutdown()
        self._server.server_close()

    def fail(self, method: str, path: str, kind: str = "500", *, times: int = 1,
             skip: int = 0) -> None:
        """Queue a fault for requests ``method path`` (a regular expression)."""
        self.faults.append(Fault(method, path, kind, times, skip))

    def live(self) -> list[Experiment]:
        """Experiments not deleted."""
        return [e for e in self.experiments.values() if e.state != 3]

    def new_id(self, kind: str) -> int:
        with self._lock:
            self._ids[kind] += 1
            return self._ids[kind]

    # ------------------------------------------------------------------ the WSGI app

    def _wsgi(self, environ: dict[str, Any], start_response: Callable) -> Any:
        request = Request(environ)
        response = self._handle(request)
        return response(environ, start_response)

    def _handle(self, request: Request) -> Response:
        from openapi_core.contrib.werkzeug import WerkzeugOpenAPIRequest, WerkzeugOpenAPIResponse

        path = request.path.removeprefix("/api/v2")
        self.requests.append((request.method, path))
        fault = self._fault(request.method, path)
        if fault == "hang":
            self.release.wait(60)
            return self._error(503, "released")
        if fault == "500":
            return self._error(500, "Unexpected error", "injected fault")
        if request.headers.get("Authorization") != self.api_key:
            return self._error(401, "Authentication required",
                               "No corresponding API key found!")
        try:
            self.openapi.validate_request(WerkzeugOpenAPIRequest(request))
        except Exception as exc:
            self.violations.append(f"request {request.method} {path}: {_why(exc)}")
            return self._error(400, "request does not follow the API description", _why(exc))
        status, body, headers = self._route(request, path)
        canonical = Response(json.dumps(body) if body is not None else None, status=status,
                             headers=headers, content_type="application/json")
        if status >= 400:
            canonical = Response(json.dumps({"code": str(status), **body}), status=status,
                                 content_type="application/json")
        try:
            self.openapi.validate_response(WerkzeugOpenAPIRequest(request),
                                           WerkzeugOpenAPIResponse(canonical))
        except Exception as exc:
            self.violations.append(f"answer to {request.method} {path}: {_why(exc)}")
            return self._error(500, "answer does not follow the API description", _why(exc))
        if fault == "lost":  # done, but the client never hears: it times out
            self.release.wait(60)
        return self._as_real_server(status, body, headers)

    def _fault(self, method: str, path: str) -> str | None:
        with self._lock:
            for fault in self.faults:
                if fault.method == method and re.fullmatch(fault.path, path) and fault.times:
                    if fault.skip:
                        fault.skip -= 1
                        return None
                    fault.times -= 1
                    return fault.kind
        return None

    def _as_real_server(self, status: int, body: Any, headers: dict[str, str]) -> Response:
        """The spec-checked answer as eLabFTW really sends it (see :data:`DIFFERENCES`)."""

        def real(entity: Any) -> Any:
            if isinstance(entity, dict) and "metadata" in entity \
                    and isinstance(entity["metadata"], dict):
                entity = {**entity, "metadata": json.dumps(entity["metadata"])}
            return entity

        body = [real(b) for b in body] if isinstance(body, list) else real(body)
        return Response(json.dumps(body) if body is not None else None, status=status,
                        headers=headers, content_type="application/json")

    def _error(self, status: int, message: str, description: str = "") -> Response:
        return Response(json.dumps({"code": status, "message": message,
                                    "description": description}),
                        status=status, content_type="application/json")

    # ------------------------------------------------------------------ the API

    def _route(self, request: Request, path: str) -> tuple[int, Any, dict[str, str]]:
        m = request.method
        if path == "/info" and m == "GET":
            return 200, {"elabftw_version": "5.6.0", "elabftw_version_int": 50600,
                         "experiments_count": len(self.live())}, {}
        if path == "/experiments" and m == "POST":
            return self._create(request.get_json())
        if path == "/experiments" and m == "GET":
            return 200, [self._entity(e) for e in self._search(request.args)], {}
        match = re.fullmatch(r"/experiments/(\d+)(/(uploads|tags)(/(\d+))?)?", path)
        if not match or int(match[1]) not in self.experiments \
                or self.experiments[int(match[1])].state == 3:
            return 404, {"message": "Nothing to show with this id", "description": ""}, {}
        exp = self.experiments[int(match[1])]
        part, sub = match[3], match[5]
        if part is None and m == "GET":
            return 200, self._entity(exp, full=True), {}
        if part is None and m == "PATCH":
            self._apply(exp, request.get_json())
            return 200, self._entity(exp, full=True), {}
        if part is None and m == "DELETE":
            exp.state = 3
            return 204, None, {}
        if part == "tags" and m == "POST":
            tag = request.get_json()["tag"]
            if tag not in exp.tags:
                exp.tags.append(tag)
            return 201, None, {"Location": f"{self.site_url}/api/v2/experiments/{exp.id}/tags"}
        if part == "tags" and m == "GET":
            return 200, [{"id": i + 1, "tag": t, "item_count": 1, "is_favorite": 0, "team": 1}
                         for i, t in enumerate(exp.tags)], {}
        if part == "uploads" and sub is None and m == "GET":
            return 200, [self._upload(exp, u) for u in exp.uploads if u.state == 1], {}
        if part == "uploads" and m == "POST":
            file = request.files["file"]
            upload = Upload(self.new_id("upload"), file.filename or "file",
                            request.form.get("comment", ""), file.read(), _now())
            if sub is not None:  # replace: the old one is archived
                old = [u for u in exp.uploads if u.id == int(sub) and u.state == 1]
                if not old:
                    return 404, {"message": "Nothing to show with this id",
                                 "description": ""}, {}
                old[0].state = 2
            exp.uploads.append(upload)
            return 201, None, {"Location": f"{self.site_url}/api/v2/experiments/{exp.id}"
                                           f"/uploads/{upload.id}"}
        if part == "uploads" and sub is not None and m == "GET":
            found = [u for u in exp.uploads if u.id == int(sub) and u.state != 3]
            if not found:
                return 404, {"message": "Nothing to show with this id", "description": ""}, {}
            return 200, self._upload(exp, found[0]), {}
        if part == "uploads" and sub is not None and m == "DELETE":
            for u in exp.uploads:
                if u.id == int(sub):
                    u.state = 3
            return 204, None, {}
        return 400, {"message": f"{m} {path} is not served by this fake",
                     "description": ""}, {}

    def _create(self, body: dict[str, Any]) -> tuple[int, Any, dict[str, str]]:
        exp = Experiment(self.new_id("experiment"), body.get("title") or "Untitled",
                         body.get("body"), body.get("metadata"), body.get("category"),
                         body.get("status"), created_at=_now(), modified_at=_now())
        self.experiments[exp.id] = exp
        return 201, None, {"Location": f"{self.site_url}/api/v2/experiments/{exp.id}"}

    def _apply(self, exp: Experiment, body: dict[str, Any]) -> None:
        for key in ("title", "body", "metadata", "category", "status"):
            if key in body:
                setattr(exp, key, body[key])
        exp.modified_at = _now()

    def _search(self, args: Any) -> list[Experiment]:
        """Experiments matching ``q`` (in title, body, elabid) and ``extended`` (only
        ``extrafield:"key":"value"`` is understood here)."""
        found = self.live()
        if args.get("q"):
            found = [e for e in found if args["q"] in f"{e.title} {e.body} elab-{e.id}"]
        extended = args.get("extended")
        if extended:
            match = re.fullmatch(r'extrafield:"((?:[^"\\]|\\.)*)":"((?:[^"\\]|\\.)*)"',
                                 extended)
            if not match or not self.extrafield_search:
                return []
            key, value = (re.sub(r"\\(.)", r"\1", g) for g in match.groups())
            found = [e for e in found
                     if ((e.metadata or {}).get("extra_fields") or {}).get(key, {})
                     .get("value") == value]
        return sorted(found, key=lambda e: -e.id)[:int(args.get("limit", 15))]

    def _entity(self, exp: Experiment, full: bool = False) -> dict[str, Any]:
        entity = {"id": exp.id, "title": exp.title, "body": exp.body, "metadata": exp.metadata,
                  "category": exp.category, "status": exp.status, "state": exp.state,
                  "tags": "|".join(exp.tags) or None, "created_at": exp.created_at,
                  "modified_at": exp.modified_at, "elabid": f"elab-{exp.id}",
                  "type": "experiments", "page": "experiments", "team": 1}
        if full:
            entity["uploads"] = [self._upload(exp, u) for u in exp.uploads if u.state == 1]
        return entity

    def _upload(self, exp: Experiment, upload: Upload) -> dict[str, Any]:
        body = {"id": upload.id, "real_name": upload.real_name,
                "long_name": f"{upload.id:02x}/{upload.real_name}", "comment": upload.comment,
                "item_id": exp.id, "userid": 1, "type": "experiments",
                "created_at": upload.created_at, "filesize": len(upload.data),
                "state": upload.state, "storage": 1, "immutable": 0, "fullname": "NexusLIMS"}
        if len(upload.data) < self.no_hash_at:
            body["hash"] = hashlib.sha256(upload.data).hexdigest()
            body["hash_algorithm"] = "sha256"
        return body


def _why(exc: Exception) -> str:
    parts = [str(exc)]
    cause = exc.__cause__ or exc.__context__
    while cause is not None and len(parts) < 4:
        details = getattr(cause, "schema_errors", None)
        parts.append(str(cause) + (f" {[str(e)[:200] for e in details]}" if details else ""))
        cause = cause.__cause__ or cause.__context__
    return " <- ".join(parts)[:1500]
