"""``nexuslims support-bundle``: one zip a data manager can send when asking for help.

It holds the settings (secrets replaced by ``***``), doctor's results, the latest pass
logs and ``events.jsonl``, the build history per stage, the sessions in problem states
first, the export attempts, the versions of nexuslims and its main dependencies, and the
platform. Every member goes through :func:`redact`, which removes the value of every
secret setting wherever it appears (a token pasted into a log line too).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import platform
import re
import sys
import zipfile
from collections.abc import Callable, Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

from nexuslims import __version__
from nexuslims.config import shown_value

logger = logging.getLogger(__name__)

#: Our settings and NexusLIMS 1.x's, as shown in settings.txt.
OUR_NAME = re.compile(r"^(NX_|NEMO_|nexusLIMS_|NexusLIMS_|mmfnexus_|cdcs_)")
MAIN_PACKAGES = ("sqlalchemy", "alembic", "lxml", "hyperspy", "rosettasciio", "exspy",
                 "numpy", "scipy", "scikit-learn", "requests", "requests-ntlm",
                 "python-dotenv", "pillow", "tifffile", "h5py", "rich", "psycopg")
#: Problem states first, in this order.
PROBLEM_STATES = ("ERROR", "BUILT_NOT_EXPORTED", "WAITING_FOR_END", "TO_BE_BUILT",
                  "NO_FILES_FOUND")
MAX_LOGS = 10
MAX_EVENT_LINES = 5000
MAX_SESSIONS = 500


def redact(text: str, env: Mapping[str, str]) -> str:
    """``text`` with every secret of ``env`` (in every form :mod:`nexuslims.redact` knows),
    every Authorization value and every URL password replaced by ``***``."""
    from nexuslims import redact as central

    for secret in sorted(central.secrets_in(env), key=len, reverse=True):
        text = text.replace(secret, central.MASK)
    return central.redact(text)


def settings_text(env: Mapping[str, str]) -> str:
    """``NAME=value`` for each of our settings, secrets shown as ``***``."""
    lines = []
    for name in sorted(n for n in env if OUR_NAME.match(n)):
        value = shown_value(name, env[name])
        lines.append(f"{name}={value}")
    return "\n".join(lines) + "\n"


def versions() -> dict[str, Any]:
    """nexuslims, Python, the platform and the installed versions of the main packages."""
    packages: dict[str, str | None] = {}
    for name in MAIN_PACKAGES:
        try:
            packages[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            packages[name] = None
    return {"nexuslims": __version__, "python": sys.version, "platform": platform.platform(),
            "machine": platform.machine(), "packages": packages}


def make_bundle(env: Mapping[str, str], out: Path, *,
                now: dt.datetime | None = None, timeout: float = 5.0,
                commands: Mapping[str, Callable] | None = None) -> list[str]:
    """Write the support bundle to ``out``; return the names of its members.

    Parameters
    ----------
    env
        The variables (``read_environment``); settings may be wrong: what cannot be read
        is noted in the member instead.
    out
        The zip file to write.
    timeout
        Seconds each server gets to answer doctor's checks.
    commands
        Other commands' settings readers, for doctor's checks (see ``run_checks``).
    """
    now = now or dt.datetime.now(dt.UTC)
    out.parent.mkdir(parents=True, exist_ok=True)  # fail before the slow part
    members: dict[str, str] = {}

    def add(name: str, produce: Callable[[], str]) -> None:
        try:
            members[name] = produce()
        except Exception as exc:  # a broken site is exactly when a bundle is needed
            logger.warning("support bundle: %s could not be made: %s", name, exc)
            members[name] = f"could not be made: {exc.__class__.__name__}: {exc}\n"

    from nexuslims.config import Settings, load_settings
    from nexuslims.ops.doctor import run_checks

    settings: Settings | None
    try:
        settings = load_settings(env, frozenset())
    except Exception:
        settings = None
    add("settings.txt", lambda: settings_text(env))
    add("doctor.json", lambda: _json([c.as_dict() for c in run_checks(env, timeout=timeout,
                                                                    commands=commands)]))
    add("versions.json", lambda: _json(versions()))
    url = settings.db_url if settings is not None else None
    if url:
        add("sessions.json", lambda: _json(_sessions(url)))
        add("stages.json", lambda: _json(_database(url, "recent_stages")))
        add("uploads.json", lambda: _json(_database(url, "recent_uploads")))
    if settings is not None and settings.log_path is not None:
        for name, text in _logs(settings.log_path).items():
            members[f"logs/{name}"] = text
    members["README.txt"] = (f"nexuslims support bundle, made {now.isoformat()} on "
                             f"{platform.node()} by nexuslims {__version__}.\nSecrets are "
                             "replaced by ***. Members: " + ", ".join(sorted(members)) + "\n")
    tmp = out.with_name(f".{out.name}.tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, text in members.items():
            zf.writestr(name, redact(text, env))
    tmp.replace(out)
    return sorted(members)


def _json(value: object) -> str:
    return json.dumps(value, indent=2, default=str) + "\n"


def _database(url: str, what: str) -> list[dict[str, Any]]:
    from nexuslims import db
    from nexuslims.db import monitoring

    engine = db.make_engine(url)
    try:
        return getattr(monitoring, what)(engine)
    finally:
        engine.dispose()


def _sessions(url: str) -> list[dict[str, Any]]:
    """Sessions in problem states first (with their attempts), then the latest others."""
    from dataclasses import asdict

    from nexuslims import db

    engine = db.make_engine(url)
    try:
        sessions = db.list_sessions(engine)
        rank = {s: i for i, s in enumerate(PROBLEM_STATES)}
        sessions.sort(key=lambda s: rank.get(s.status, len(rank)))
        out = []
        for s in sessions[:MAX_SESSIONS]:
            entry = asdict(s)
            if s.status in rank:
                detail = db.session_detail(engine, s.identifier)
                entry["attempts"] = [asdict(a) for a in detail.attempts] if detail else []
            out.append(entry)
        return out
    finally:
        engine.dispose()


def _logs(log_path: Path) -> dict[str, str]:
    """The latest pass logs and the end of ``events.jsonl``."""
    logs = sorted(log_path.glob("*/*/*/*.log"))[-MAX_LOGS:] if log_path.is_dir() else []
    found = {p.relative_to(log_path).as_posix(): p.read_text("utf-8", "replace") for p in logs}
    events = log_path / "events.jsonl"
    if events.is_file():
        lines = events.read_text("utf-8", "replace").splitlines()[-MAX_EVENT_LINES:]
        found["events.jsonl"] = "\n".join(lines) + "\n"
    return found
