"""The web face's settings: ``NX_WEB_*`` on top of the builder's own."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from nexuslims.config import NEEDS_DB, Settings, load_settings, number_setting
from nexuslims.errors import ConfigError

AUTH_MODES = ("open", "basic", "header")

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
LOOPBACK: tuple[IPNetwork, ...] = (ipaddress.ip_network("127.0.0.0/8"),
                                   ipaddress.ip_network("::1/128"))


def is_loopback(host: str) -> bool:
    """Whether ``host`` (an address or ``localhost``) is this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def trusted(networks: tuple[IPNetwork, ...], host: str | None) -> bool:
    """Whether the peer ``host`` lies in one of ``networks``."""
    try:
        address = ipaddress.ip_address(host or "")
    except ValueError:
        return False
    return any(address in network for network in networks)


def _networks(raw: str, problems: list[str]) -> tuple[IPNetwork, ...]:
    found: list[IPNetwork] = []
    for part in raw.replace(",", " ").split():
        try:
            found.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            problems.append(f"NX_WEB_TRUSTED_PROXIES: {part!r} is not an IP address or "
                            "network (e.g. 127.0.0.1 10.0.0.0/24)")
    return tuple(found)


@dataclass(frozen=True)
class WebSettings:
    """Checked settings of ``nexuslims serve``."""

    settings: Settings
    """The builder's settings: database, data and records paths."""
    host: str = "127.0.0.1"
    port: int = 8080
    auth: str = "open"
    """Who may read: ``open`` (anyone who reaches it), ``basic`` (HTTP basic auth with
    :attr:`basic_user`/:attr:`basic_password`) or ``header`` (a reverse proxy that
    authenticated the user sets :attr:`user_header`)."""
    basic_user: str | None = None
    basic_password: str | None = None
    user_header: str = "X-Remote-User"
    serve_raw_files: bool = False
    health_max_age_minutes: float = 60.0
    root_path: str = ""
    """The path prefix a reverse proxy serves the app under (e.g. ``/nexuslims``)."""
    trusted_proxies: tuple[IPNetwork, ...] = field(default_factory=lambda: LOOPBACK)
    """Addresses whose requests may carry :attr:`user_header` and X-Forwarded-* headers."""
    trusted_proxies_set: bool = False
    """Whether NX_WEB_TRUSTED_PROXIES was set (header mode off loopback needs it)."""
    max_body_bytes: int = 65_536
    """The largest request body accepted (NX_WEB_MAX_BODY_BYTES)."""
    api_clock_skew_minutes: float = 5.0
    """How far in the future a session start or end sent to the API may lie."""
    api_max_age_hours: float = 24.0
    """How far in the past a start or end sent to the API may lie."""
    api_max_session_hours: float = 72.0
    """The longest session the API logs; longer ones go through `sessions add`."""

    @property
    def data_path(self) -> Path:
        assert self.settings.data_path is not None
        return self.settings.data_path

    @property
    def records_path(self) -> Path:
        assert self.settings.records_path is not None
        return self.settings.records_path


def load_web_settings(env: Mapping[str, str]) -> WebSettings:
    """Check ``env`` for the web face.

    Raises
    ------
    ConfigError
        Naming every missing or invalid setting.
    """
    problems: list[str] = []
    try:
        settings = load_settings(env, NEEDS_DB)
    except ConfigError as exc:
        problems += exc.problems
        settings = None
    if settings is not None and settings.data_path is None:
        problems.append("NX_DATA_PATH is not set: the web pages read records, sidecars and "
                        "previews from it")
    auth = (env.get("NX_WEB_AUTH") or "open").strip().lower()
    if auth not in AUTH_MODES:
        problems.append(f"NX_WEB_AUTH={auth}: expects open, basic or header")
    user = (env.get("NX_WEB_BASIC_USER") or "").strip() or None
    password = env.get("NX_WEB_BASIC_PASSWORD") or None
    if auth == "basic" and not (user and password):
        problems.append("NX_WEB_AUTH=basic needs NX_WEB_BASIC_USER and NX_WEB_BASIC_PASSWORD")
    header = (env.get("NX_WEB_USER_HEADER") or "X-Remote-User").strip()
    raw = (env.get("NX_WEB_SERVE_RAW_FILES") or "false").strip().lower()
    if raw not in ("true", "false", "1", "0", "yes", "no"):
        problems.append(f"NX_WEB_SERVE_RAW_FILES={raw}: expects true or false")
    serve_raw = raw in ("true", "1", "yes")
    if serve_raw and settings is not None and settings.instrument_data_path is None:
        problems.append("NX_WEB_SERVE_RAW_FILES=true needs NX_INSTRUMENT_DATA_PATH")
    health_age = number_setting(env, "NX_WEB_HEALTH_MAX_AGE", 60.0, problems, minimum=1,
                             expects="minutes >= 1 since the last pass before /healthz "
                                     "answers 503")
    port = number_setting(env, "NX_WEB_PORT", 8080, problems, minimum=1, whole=True,
                          expects="a TCP port number")
    root_path = (env.get("NX_WEB_ROOT_PATH") or "").strip().rstrip("/")
    if root_path and not root_path.startswith("/"):
        problems.append(f"NX_WEB_ROOT_PATH={root_path}: expects a path such as /nexuslims")
    raw_proxies = (env.get("NX_WEB_TRUSTED_PROXIES") or "").strip()
    proxies = _networks(raw_proxies, problems) if raw_proxies else LOOPBACK
    max_body = number_setting(env, "NX_WEB_MAX_BODY_BYTES", 65_536, problems, minimum=1024,
                              whole=True, expects="a whole number of bytes >= 1024")
    skew = number_setting(env, "NX_API_CLOCK_SKEW_MINUTES", 5.0, problems, minimum=0,
                          expects="minutes >= 0 a session time sent to the API may lie ahead")
    max_age = number_setting(env, "NX_API_MAX_AGE_HOURS", 24.0, problems, minimum=0.1,
                             expects="hours > 0 a session time sent to the API may lie behind")
    max_session = number_setting(env, "NX_API_MAX_SESSION_HOURS", 72.0, problems,
                                 minimum=0.1, expects="hours > 0: the longest session the API "
                                 "logs")
    if problems:
        raise ConfigError(problems)
    assert settings is not None
    return WebSettings(settings=settings, host=(env.get("NX_WEB_HOST") or "127.0.0.1").strip(),
                       port=int(port), auth=auth, basic_user=user, basic_password=password,
                       user_header=header, serve_raw_files=serve_raw,
                       health_max_age_minutes=health_age, root_path=root_path,
                       trusted_proxies=proxies, trusted_proxies_set=bool(raw_proxies),
                       max_body_bytes=int(max_body), api_clock_skew_minutes=skew,
                       api_max_age_hours=max_age, api_max_session_hours=max_session)
