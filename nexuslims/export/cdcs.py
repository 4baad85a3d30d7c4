"""The ``cdcs`` destination: records published in the facility's CDCS repository.

For each record: find the global template (``NX_CDCS_TEMPLATE``, or the only one), look
for a record of the same title (a pass that crashed after uploading must not upload
again), upload it (``POST rest/data/``) if there is none, and assign it to the public
workspace. The CDCS title of a record is its file name without ``.xml``
(``2024-03-05_titan_<session>``), unique per session.

Connection errors, timeouts and server errors are retried within the pass
(``NX_CDCS_RETRIES`` tries in all, 1 s then 2 s, 4 s... apart); every retry starts with
the title lookup, so a POST whose answer was lost is never repeated. Refused credentials
(HTTP 401/403) are a configuration problem: CDCS is not asked again this pass. A record
CDCS refuses as invalid (HTTP 400, or 500 with a message: how CDCS reports a record its
template does not accept) is rejected with CDCS's message. Tokens and passwords are sent
in headers only, never written to a message or log.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import requests

from nexuslims.config import file_setting, is_web_url, legacy_setting, number_setting
from nexuslims.errors import shown_url
from nexuslims.export.base import ExportResult, Failure, RecordFile, retried, setting, truthy
from nexuslims.export.errors import DestinationRefused, DestinationUnavailable, RecordRejected

if TYPE_CHECKING:
    from nexuslims.config import Settings

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S = 30.0
DEFAULT_TRIES = 3


@dataclass(frozen=True)
class CDCSSettings:
    """How to reach and use a CDCS server."""

    url: str
    """Base URL, ending with ``/``."""
    token: str | None = None
    user: str | None = None
    password: str | None = None
    template: str | None = None
    """Title of the global template records follow; None: the only one."""
    assign_public: bool = True
    verify: bool | str = True
    """``True``, or the path of a CA bundle (``NX_CERT_BUNDLE_FILE``)."""
    timeout: float = DEFAULT_TIMEOUT_S
    tries: int = DEFAULT_TRIES

    def __repr__(self) -> str:  # never show the secrets
        return f"CDCSSettings(url={shown_url(self.url)!r}, template={self.template!r})"

    @classmethod
    def read(cls, env: Mapping[str, str]) -> tuple[CDCSSettings | None, list[str]]:
        """The settings from ``env`` and the problems found (each naming its variable)."""
        problems: list[str] = []
        url, _ = legacy_setting(env, "NX_CDCS_URL", "cdcs_url")
        if not is_web_url(url):
            problems.append(f"NX_CDCS_URL={shown_url(url)}: expects the CDCS base URL, "
                            "e.g. https://cdcs.example.org/")
        token = setting(env, "NX_CDCS_TOKEN") or None
        user = legacy_setting(env, "NX_CDCS_USER", "nexusLIMS_user")[0] or None
        password = legacy_setting(env, "NX_CDCS_PASSWORD", "nexusLIMS_pass")[0] or None
        if not token and not (user and password):
            problems.append("NX_CDCS_URL is set but CDCS credentials are not: set "
                            "NX_CDCS_TOKEN (an API token), or NX_CDCS_USER and "
                            "NX_CDCS_PASSWORD")
        assign = truthy(env, "NX_CDCS_ASSIGN_TO_PUBLIC_WORKSPACE", True)
        if assign is None:
            problems.append(f"NX_CDCS_ASSIGN_TO_PUBLIC_WORKSPACE="
                            f"{env['NX_CDCS_ASSIGN_TO_PUBLIC_WORKSPACE']}: expects true or false")
        bundle = file_setting(env, "NX_CERT_BUNDLE_FILE", problems,
                              "a PEM file of the certificate authorities to trust")
        verify: bool | str = str(bundle) if bundle else True
        timeout = number_setting(env, "NX_CDCS_TIMEOUT", DEFAULT_TIMEOUT_S, problems,
                                 minimum=0.001, expects="a number of seconds > 0 (e.g. 30)")
        tries = int(number_setting(env, "NX_CDCS_RETRIES", DEFAULT_TRIES, problems, minimum=1,
                                   expects="a whole number of tries >= 1 (e.g. 3)",
                                   whole=True))
        if problems:
            return None, problems
        return cls(url=url if url.endswith("/") else url + "/", token=token, user=user,
                   password=password, template=setting(env, "NX_CDCS_TEMPLATE") or None,
                   assign_public=bool(assign), verify=verify, timeout=timeout,
                   tries=tries), []


class CDCSClient:
    """The few CDCS REST calls export needs; errors come out as ExportErrors.

    Parameters
    ----------
    config
        Where the server is and how to log in.
    """

    def __init__(self, config: CDCSSettings):
        self.config = config
        self.base = shown_url(config.url)
        self.http = requests.Session()
        self.http.verify = config.verify
        self.http.headers["Accept"] = "application/json"
        if config.token:
            self.http.headers["Authorization"] = f"Token {config.token}"
        else:
            self.http.auth = (config.user or "", config.password or "")
        self._template: str | None = None
        self._workspace: str | None = None

    def call(self, method: str, path: str, *, ok: tuple[int, ...] = (200,),
             **kwargs: Any) -> requests.Response:
        """One request to ``<base>/<path>``; its answer if its status is in ``ok``.

        Raises
        ------
        DestinationUnavailable
            No connection, no answer in time, or a server error (5xx).
        DestinationRefused
            Credentials refused (401/403) or another client error (a wrong URL...).
        """
        where = f"{method} {self.base}{path}"
        try:
            response = self.http.request(method, self.config.url + path,
                                         timeout=self.config.timeout, **kwargs)
        except requests.Timeout:
            raise DestinationUnavailable(
                f"CDCS did not answer {where} within {self.config.timeout:g} s "
                "(NX_CDCS_TIMEOUT)") from None
        except requests.RequestException as exc:
            raise DestinationUnavailable(f"cannot reach CDCS ({where}): {_reason(exc)}") from None
        code = response.status_code
        if code in ok:
            return response
        if code in (401, 403):
            how = "NX_CDCS_TOKEN" if self.config.token else "NX_CDCS_USER/NX_CDCS_PASSWORD"
            raise DestinationRefused(
                f"CDCS at {self.base} refused our credentials (HTTP {code} on {where}): "
                f"check {how} and that this user may upload records; CDCS is not asked "
                "again this pass")
        if code >= 500:
            raise DestinationUnavailable(f"CDCS answered HTTP {code} to {where}: "
                                         f"{_detail(response)}")
        raise DestinationRefused(f"CDCS answered HTTP {code} to {where}: {_detail(response)} "
                                 "(is NX_CDCS_URL the base URL of a CDCS server?)")

    def json(self, response: requests.Response) -> Any:
        """The JSON body of an answer; DestinationRefused if it has none (not a CDCS?)."""
        try:
            return response.json()
        except ValueError:
            raise DestinationRefused(
                f"CDCS at {self.base} answered {response.request.method} {response.url} "
                "with something other than JSON: is NX_CDCS_URL the base URL of a CDCS "
                "server?") from None

    def template_id(self) -> str:
        """The id of the current version of the records' global template (cached)."""
        if self._template is None:
            managers = [m for m in self.json(self.call(
                "GET", "rest/template-version-manager/global/")) if not m.get("is_disabled")]
            titles = ", ".join(repr(m.get("title")) for m in managers) or "none"
            wanted = self.config.template
            chosen = [m for m in managers if m.get("title") == wanted] if wanted else managers
            if wanted and not chosen:
                raise DestinationRefused(f"CDCS at {self.base} has no global template titled "
                                         f"{wanted!r} (NX_CDCS_TEMPLATE); it has: {titles}")
            if not chosen:
                raise DestinationRefused(f"CDCS at {self.base} has no global template: upload "
                                         "the Experiment schema there as a global template")
            if len(chosen) > 1:
                raise DestinationRefused(f"CDCS at {self.base} has {len(chosen)} global "
                                         f"templates ({titles}): set NX_CDCS_TEMPLATE to the "
                                         "title of the one records follow")
            self._template = str(chosen[0]["current"])
        return self._template

    def public_workspace_id(self) -> str:
        """The id of the public workspace this user can read (cached)."""
        if self._workspace is None:
            spaces = [w for w in self.json(self.call("GET", "rest/workspace/read_access"))
                      if w.get("is_public")]
            if not spaces:
                raise DestinationRefused(
                    f"CDCS at {self.base} shows this user no public workspace: give it "
                    "access, or set NX_CDCS_ASSIGN_TO_PUBLIC_WORKSPACE=false")
            spaces.sort(key=lambda w: (w.get("owner") is not None, str(w.get("id"))))
            self._workspace = str(spaces[0]["id"])
        return self._workspace

    def find(self, title: str) -> list[dict[str, Any]]:
        """This user's records titled exactly ``title``, oldest first."""
        body = self.json(self.call("GET", "rest/data/", params={"title": title}))
        items = body.get("results", []) if isinstance(body, dict) else body
        found = [d for d in items if d.get("title") == title]
        return sorted(found, key=lambda d: int(d["id"]) if str(d["id"]).isdigit() else 0)

    def upload(self, title: str, template: str, xml: str) -> dict[str, Any]:
        """Create a record; RecordRejected when CDCS refuses its content."""
        response = self.call("POST", "rest/data/", ok=(201, 400, 500),
                             json={"title": title, "template": template, "xml_content": xml})
        if response.status_code == 201:
            return dict(self.json(response))
        message = _message(response)
        if response.status_code == 400 or message is not None:
            raise RecordRejected(f"CDCS at {self.base} rejected the record: "
                                 f"{message or _detail(response)}")
        raise DestinationUnavailable(f"CDCS answered HTTP 500 to POST {self.base}rest/data/: "
                                     f"{_detail(response)}")

    def assign(self, data_id: str, workspace: str) -> None:
        """Put record ``data_id`` in ``workspace`` (the URL has no trailing slash)."""
        self.call("PATCH", f"rest/data/{data_id}/assign/{workspace}")

    def record_url(self, data_id: str) -> str:
        """Where people see record ``data_id``."""
        return f"{self.base}data?id={data_id}"

    def publish(self, title: str, xml: str) -> tuple[dict[str, Any], bool]:
        """The record titled ``title``, uploaded unless CDCS has it already; public.

        Returns
        -------
        (data, existing)
            CDCS's description of the record, and whether it was there already.
        """
        template = self.template_id()
        existing = self.find(title)
        if len(existing) > 1:
            logger.warning("CDCS at %s has %d records titled %r; using id %s", self.base,
                           len(existing), title, existing[0]["id"])
        data = existing[0] if existing else self.upload(title, template, xml)
        if self.config.assign_public:
            workspace = self.public_workspace_id()
            if str(data.get("workspace")) != workspace:
                self.assign(str(data["id"]), workspace)
                data["workspace"] = workspace
        return data, bool(existing)


class CDCSDestination:
    """Publishes records to ``NX_CDCS_URL``."""

    name = "cdcs"
    priority = 200

    @classmethod
    def check(cls, settings: Settings) -> list[str]:
        """Problems of the ``NX_CDCS_*`` settings."""
        return CDCSSettings.read(settings.env)[1]

    def __init__(self, settings: Settings, *, sleep: Callable[[float], None] = time.sleep):
        config, problems = CDCSSettings.read(settings.env)
        assert config is not None, problems
        self.client = CDCSClient(config)
        self.sleep = sleep

    def export(self, record: RecordFile) -> ExportResult:
        """Publish ``record``; report, never raise."""
        try:
            xml = record.read().decode("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            return ExportResult.failed(Failure.UNAVAILABLE, f"cannot read {record.path}: {exc}")
        published = retried(lambda: self.client.publish(record.name, xml),
                            tries=self.client.config.tries, sleep=self.sleep,
                            later="the record waits in the outbox for a later pass")
        if isinstance(published, ExportResult):
            return published
        data, existing = published
        data_id = str(data["id"])
        url = self.client.record_url(data_id)
        if existing:
            logger.info("record %s was already in CDCS as %s", record.name, url)
        else:
            logger.info("record %s published at %s", record.name, url)
        return ExportResult.ok(data_id, url, title=record.name,
                               template=str(data.get("template")),
                               workspace=data.get("workspace"), found_existing=existing)


def _reason(exc: requests.RequestException) -> str:
    """The useful part of a requests error ("[Errno 111] Connection refused")."""
    text = str(exc)
    match = re.search(r"\[Errno -?\d+\][^'\")\]]*", text)
    if match:
        return match.group(0).strip()
    return exc.__class__.__name__


def _message(response: requests.Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    if isinstance(body, dict) and body.get("message"):
        return str(body["message"])
    return None


def _detail(response: requests.Response) -> str:
    message = _message(response)
    if message:
        return message
    text = re.sub(r"<[^>]+>", " ", response.text or "")
    text = re.sub(r"\s+", " ", text).strip()
    return text[:300] or response.reason or "no details"
