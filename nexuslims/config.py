"""Settings: read once from the environment and a ``.env`` file, checked, then passed down.

Names are those of NexusLIMS 2.x (``NX_*``) so an existing deployment keeps its ``.env``;
the NexusLIMS 1.x names are accepted with a deprecation warning. The process environment
wins over the ``.env`` file. Every problem is collected, so one message names each bad
setting and what it expects.

Longer than most modules on purpose: every setting any command reads is parsed and checked
here, in one place, so that one message can name each bad setting.
"""

from __future__ import annotations

import difflib
import functools
import importlib.util
import json
import logging
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from dotenv import dotenv_values

from nexuslims import redact
from nexuslims.errors import ConfigError

logger = logging.getLogger(__name__)

# NexusLIMS 1.x name -> our name
LEGACY_NAMES = {
    "mmfnexus_path": "NX_INSTRUMENT_DATA_PATH",
    "nexusLIMS_path": "NX_DATA_PATH",
    "nexusLIMS_db_path": "NX_DB_PATH",
    "NexusLIMS_file_strategy": "NX_FILE_STRATEGY",
    "NexusLIMS_ignore_patterns": "NX_IGNORE_PATTERNS",
    "nexusLIMS_file_delay_days": "NX_FILE_DELAY_DAYS",
}

DEFAULT_IGNORE_PATTERNS = ("*.mib", "*.db", "*.emi", "*.hdr")

#: Numbered settings (``NX_NEMO_ADDRESS_1``, ``NX_NEMO_TOKEN_2``...): any name that starts
#: with one of these is known. Every other setting is known by being read somewhere in the
#: package under its full name (see :func:`known_setting_names`).
NUMBERED_SETTINGS = ("NX_NEMO_ADDRESS_", "NX_NEMO_TOKEN_", "NX_NEMO_TZ_",
                     "NX_NEMO_STRFTIME_FMT_", "NX_NEMO_STRPTIME_FMT_")

# What each command needs; "validate" and "--help" need nothing.
NEEDS_DB = frozenset({"db"})
NEEDS_ALL = frozenset({"db", "instrument_data", "data"})


_ADDRESS = re.compile(r"^(tcp|tls|ws|wss|ucx)://[^/\s]+:\d+/?$")


@dataclass(frozen=True)
class ExecutorChoice:
    """The checked ``NX_EXECUTOR`` and ``NX_DASK_*`` settings."""

    kind: str = "local"
    """``local``, ``local-cluster`` (``local:N``) or ``dask``."""
    workers: int | None = None
    """Worker processes of a ``local:N`` cluster."""
    scheduler: str | None = None
    """The scheduler's address (``dask``)."""
    data_path: Path | None = None
    """NX_INSTRUMENT_DATA_PATH as the Dask workers see it (None: the same path)."""
    timeout: float = 10.0
    """Seconds to reach the scheduler and find a worker."""

    @property
    def remote(self) -> bool:
        """Whether files are read by Dask workers, which hand back plain data."""
        return self.kind != "local"

    def describe(self) -> str:
        if self.kind == "dask":
            return f"the Dask cluster at {self.scheduler}"
        if self.kind == "local-cluster":
            return f"a local Dask cluster of {self.workers} worker(s)"
        return "the local process pool"


def executor_setting(env: Mapping[str, str], problems: list[str]) -> ExecutorChoice:
    """``NX_EXECUTOR`` and the ``NX_DASK_*`` settings, checked (problems appended)."""
    raw = (env.get("NX_EXECUTOR") or "").strip()
    kind, workers = "local", None
    if raw and raw.lower() not in ("local", "dask"):
        match = re.fullmatch(r"local:(\d+)", raw.lower())
        if match is None or int(match.group(1)) < 1:
            problems.append(f"NX_EXECUTOR={raw}: expects local (this machine's process pool, "
                            "the default), local:N (a Dask cluster of N worker processes "
                            "started for each pass) or dask (the cluster at "
                            "NX_DASK_SCHEDULER)")
            return ExecutorChoice()
        kind, workers = "local-cluster", int(match.group(1))
    elif raw:
        kind = raw.lower()
    scheduler = (env.get("NX_DASK_SCHEDULER") or "").strip() or None
    if kind == "dask" and scheduler is None:
        problems.append("NX_DASK_SCHEDULER is not set: NX_EXECUTOR=dask expects the address "
                        "of the Dask scheduler, e.g. tcp://scheduler.example.org:8786")
    elif kind == "dask" and scheduler is not None and not _ADDRESS.match(scheduler):
        problems.append(f"NX_DASK_SCHEDULER={scheduler}: expects a scheduler address with "
                        "a port, e.g. tcp://scheduler.example.org:8786")
    raw_data = (env.get("NX_DASK_DATA_PATH") or "").strip()
    data_path = Path(raw_data) if raw_data else None
    if data_path is not None and not data_path.is_absolute():
        problems.append(f"NX_DASK_DATA_PATH={raw_data}: expects the absolute path under "
                        "which the Dask workers see NX_INSTRUMENT_DATA_PATH")
    timeout = number_setting(env, "NX_DASK_TIMEOUT", 10.0, problems, minimum=0.1,
                             expects="seconds > 0 to reach the Dask scheduler (e.g. 10)")
    if kind != "local" and importlib.util.find_spec("distributed") is None:
        problems.append(f"NX_EXECUTOR={raw}: needs dask.distributed, which is not "
                        "installed: pip install 'distributed>=2024.1' (the dask "
                        "extra: pip install '.[dask]' in a nexuslims clone)")
    return ExecutorChoice(kind, workers, scheduler, data_path, timeout)


@dataclass(frozen=True)
class ShareSettings:
    """How far the instrument share is trusted and walked (see docs/security.md)."""

    extra_roots: tuple[Path, ...] = ()
    """NX_INSTRUMENT_DATA_ROOTS: folders outside an instrument's own that its symlinks
    may lead to; every other link out is skipped."""
    find_timeout: float = 600.0
    """NX_FIND_TIMEOUT: seconds one walk of an instrument folder may take (0: no limit)."""
    find_max_entries: int = 5_000_000
    """NX_FIND_MAX_ENTRIES: entries one walk may look at (0: no limit)."""
    is_mount: bool = False
    """NX_INSTRUMENT_DATA_MOUNT: NX_INSTRUMENT_DATA_PATH must be a mount point."""
    marker: str | None = None
    """NX_INSTRUMENT_DATA_MARKER: a file that must exist in NX_INSTRUMENT_DATA_PATH."""


def share_settings(env: Mapping[str, str], problems: list[str]) -> ShareSettings:
    """The ``NX_INSTRUMENT_DATA_ROOTS``, ``NX_FIND_*`` and mount/marker settings."""
    roots: tuple[Path, ...] = ()
    raw_roots = (env.get("NX_INSTRUMENT_DATA_ROOTS") or "").strip()
    if raw_roots:
        try:
            parsed = json.loads(raw_roots)
            if not isinstance(parsed, list) or not all(
                    isinstance(p, str) and os.path.isabs(p) for p in parsed):
                raise ValueError
            roots = tuple(Path(p) for p in parsed)
        except ValueError:
            problems.append(f"NX_INSTRUMENT_DATA_ROOTS={raw_roots}: expects a JSON list of "
                            'absolute folder paths, e.g. ["/mnt/archive"]')
    timeout = number_setting(env, "NX_FIND_TIMEOUT", 600.0, problems, minimum=0,
                             expects="seconds >= 0 one walk of an instrument folder may "
                             "take (0 = no limit)")
    entries = number_setting(env, "NX_FIND_MAX_ENTRIES", 5_000_000, problems, minimum=0,
                             whole=True, expects="a whole number >= 0 of entries one walk "
                             "may look at (0 = no limit)")
    raw_mount = (env.get("NX_INSTRUMENT_DATA_MOUNT") or "false").strip().lower()
    if raw_mount not in ("true", "false", "1", "0", "yes", "no"):
        problems.append(f"NX_INSTRUMENT_DATA_MOUNT={raw_mount}: expects true (the path must "
                        "be a mount point) or false")
    marker = (env.get("NX_INSTRUMENT_DATA_MARKER") or "").strip() or None
    if marker is not None and (os.path.isabs(marker) or ".." in Path(marker).parts):
        problems.append(f"NX_INSTRUMENT_DATA_MARKER={marker}: expects a file name inside "
                        "NX_INSTRUMENT_DATA_PATH, e.g. .nexuslims-share")
    return ShareSettings(roots, timeout, int(entries), raw_mount in ("true", "1", "yes"),
                         marker)


@dataclass(frozen=True)
class Settings:
    """Checked settings for one run."""

    instrument_data_path: Path | None
    data_path: Path | None
    db_url: str | None
    records_path: Path | None = None
    log_path: Path | None = None
    file_strategy: str = "exclusive"
    ignore_patterns: tuple[str, ...] = DEFAULT_IGNORE_PATTERNS
    file_delay_days: float = 2.0
    build_delay_minutes: float = 0.0
    retry_delay_minutes: float = 10.0
    clustering_sensitivity: float = 1.0
    extract_workers: int | None = None
    extract_timeout: float = 120.0
    """Seconds one file may take to extract, and as much again per GB (0: no limit)."""
    extract_memory_mb: int | None = None
    """Memory ceiling per extraction worker in MB (None: the default; 0: no limit)."""
    executor: ExecutorChoice = field(default_factory=ExecutorChoice)
    """Where files are extracted: NX_EXECUTOR and the NX_DASK_* settings."""
    extract_cache: bool = True
    """Reuse the sidecars and previews of files unchanged since an earlier build."""
    share: ShareSettings = field(default_factory=ShareSettings)
    """Symlinks out of instrument folders, walk limits, the mount/marker check."""
    deprecated_names: tuple[str, ...] = field(default=(), compare=False)
    env: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)
    """Every variable seen (environment over .env), for plug-ins that read their own
    settings (harvesters, export destinations); may hold secrets, so never printed."""


def read_environment(env_file: Path | None = None,
                     environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """Merge a ``.env`` file (``env_file`` or ``./.env``) under the process environment.

    Raises
    ------
    ConfigError
        When ``env_file`` is given but does not exist.
    """
    environ = os.environ if environ is None else environ
    values: dict[str, str] = {}
    if env_file is not None:
        if not env_file.is_file():
            raise ConfigError([f"--env-file {env_file}: no such file"])
        path: Path | None = env_file
    else:
        path = Path(".env") if Path(".env").is_file() else None
    if path is not None:
        from_file = {k: v for k, v in dotenv_values(path).items() if v is not None}
        warn_unknown_settings(from_file, f"{path}")
        values.update(from_file)
    warn_unknown_settings(environ, "the environment")
    values.update(environ)
    return values


@functools.cache
def known_setting_names() -> frozenset[str]:
    """Every ``NX_*`` setting some module of the package reads.

    A setting is declared by the module that reads it, as the quoted literal of its full
    name (``env.get("NX_CDCS_URL")``), the same literals the test of ``.env.example``
    collects; so a module's new setting is known here with nothing else to register.
    Numbered settings are :data:`NUMBERED_SETTINGS`.
    """
    literal = re.compile(r"""["'](NX_[A-Z0-9_]*[A-Z0-9])["']""")
    names: set[str] = set()
    for module in Path(__file__).parent.rglob("*.py"):
        names.update(literal.findall(module.read_text(encoding="utf-8", errors="replace")))
    return frozenset(names)


def unknown_settings(names: Iterable[str]) -> list[tuple[str, str | None]]:
    """The ``NX_*`` names nexuslims does not read, each with the closest real name (or None)."""
    known = known_setting_names()
    unknown = sorted(n for n in names if n.startswith("NX_") and n not in known
                     and not n.startswith(NUMBERED_SETTINGS))
    return [(n, next(iter(difflib.get_close_matches(n, known, n=1, cutoff=0.6)), None))
            for n in unknown]


def warn_unknown_settings(env: Mapping[str, str], where: str) -> None:
    """Warn about each ``NX_*`` name in ``env`` that no module reads (a typo, usually),
    once per process."""
    for name, closest in unknown_settings(env):
        if (name, where) in _warned_unknown:
            continue
        _warned_unknown.add((name, where))
        logger.warning("%s in %s is not a nexuslims setting and is ignored%s", name, where,
                       f"; did you mean {closest}?" if closest else "")


def load_settings(env: Mapping[str, str], needs: frozenset[str] = NEEDS_ALL) -> Settings:
    """Check ``env`` and build :class:`Settings`.

    Parameters
    ----------
    env
        Variables, e.g. from :func:`read_environment`.
    needs
        Which groups must be present: ``"db"``, ``"instrument_data"``, ``"data"``.

    Raises
    ------
    ConfigError
        Naming every missing or invalid setting and what it expects.
    """
    env = dict(env)
    redact.register(env)  # before anything can log, print or store a secret
    deprecated = []
    for old, new in LEGACY_NAMES.items():
        if old in env and env[old] != "":
            deprecated.append(old)
            env.setdefault(new, env[old])
            if not env.get(new):
                env[new] = env[old]
    for old in deprecated:
        if old not in _warned_legacy:
            _warned_legacy.add(old)
            logger.warning("%s is a NexusLIMS 1.x setting name; rename it to %s",
                           old, LEGACY_NAMES[old])

    problems: list[str] = []

    def path_setting(name: str, required: bool, *, must_exist: bool) -> Path | None:
        raw = env.get(name, "").strip()
        if not raw:
            if required:
                problems.append(f"{name} is not set: it expects {_EXPECTS[name]}")
            return None
        path = Path(raw).expanduser()
        if must_exist and not path.is_dir():
            problems.append(f"{name}={raw}: no such directory (it expects {_EXPECTS[name]})")
        return path

    instrument_data = path_setting("NX_INSTRUMENT_DATA_PATH", "instrument_data" in needs,
                                   must_exist="instrument_data" in needs)
    data = path_setting("NX_DATA_PATH", "data" in needs, must_exist=False)
    if data is not None and "data" in needs:
        problem = _writable_dir_problem(data)
        if problem:
            problems.append(f"NX_DATA_PATH={data}: {problem}")

    db_url = env.get("NX_DB_URL", "").strip() or None
    db_path = env.get("NX_DB_PATH", "").strip()
    if db_url is None and db_path:
        db_url = f"sqlite:///{Path(db_path).expanduser().resolve()}"
    if db_url is None and "db" in needs:
        problems.append("NX_DB_PATH is not set: it expects the path of the session-log SQLite "
                        "file (or set NX_DB_URL to an SQLAlchemy URL)")
    elif db_url is not None and "://" not in db_url:
        problems.append(f"NX_DB_URL={db_url}: expects an SQLAlchemy URL such as "
                        "sqlite:////path/to/db.sqlite or postgresql+psycopg://user@host/db")

    records = path_setting("NX_RECORDS_PATH", False, must_exist=False)
    logs = path_setting("NX_LOG_PATH", False, must_exist=False)
    if data is not None:
        records = records or data / "records"
        logs = logs or data / "logs"

    strategy = env.get("NX_FILE_STRATEGY", "exclusive").strip().lower() or "exclusive"
    if strategy not in ("exclusive", "inclusive"):
        problems.append(f"NX_FILE_STRATEGY={strategy}: expects 'exclusive' (only files an "
                        "extractor knows) or 'inclusive' (every file)")

    ignore = DEFAULT_IGNORE_PATTERNS
    raw_ignore = env.get("NX_IGNORE_PATTERNS", "").strip()
    if raw_ignore:
        try:
            parsed = json.loads(raw_ignore)
            if not isinstance(parsed, list) or not all(isinstance(p, str) for p in parsed):
                raise ValueError
            ignore = tuple(parsed)
        except ValueError:
            problems.append(f"NX_IGNORE_PATTERNS={raw_ignore}: expects a JSON list of "
                            'file-name patterns, e.g. ["*.mib", "*.db"]')

    delay = number_setting(env, "NX_FILE_DELAY_DAYS", 2.0, problems, minimum=0,
                           expects="a number of days >= 0 (e.g. 2 or 0.5)")
    build_delay = number_setting(env, "NX_BUILD_DELAY_MINUTES", 0.0, problems, minimum=0,
                                 expects="a number of minutes >= 0 (e.g. 0 or 30)")
    retry_delay = number_setting(env, "NX_RETRY_DELAY_MINUTES", 10.0, problems, minimum=0,
                                 expects="a number of minutes >= 0 (e.g. 10; 0 retries "
                                 "on every pass)")
    sensitivity = number_setting(env, "NX_CLUSTERING_SENSITIVITY", 1.0, problems, minimum=0,
                                 expects="a number >= 0 (1 = default grouping, 0 = one "
                                 "activity)")

    workers: int | None = None
    raw_workers = env.get("NX_EXTRACT_WORKERS", "").strip()
    if raw_workers:
        try:
            workers = int(raw_workers)
            if workers < 1:
                raise ValueError
        except ValueError:
            problems.append(f"NX_EXTRACT_WORKERS={raw_workers}: expects a whole number >= 1")

    extract_timeout = number_setting(env, "NX_EXTRACT_TIMEOUT", 120.0, problems, minimum=0,
                                     expects="seconds >= 0 per file, plus as much per GB "
                                     "(0 = no limit)")
    raw_memory = (env.get("NX_EXTRACT_MEMORY_MB") or "").strip()
    extract_memory = int(number_setting(env, "NX_EXTRACT_MEMORY_MB", 0, problems, minimum=0,
                                        whole=True, expects="a whole number of MB >= 0 "
                                        "(0 = no limit)")) if raw_memory else None
    executor = executor_setting(env, problems)
    raw_cache = env.get("NX_EXTRACT_CACHE", "on").strip().lower() or "on"
    if raw_cache not in ("on", "off"):
        problems.append(f"NX_EXTRACT_CACHE={raw_cache}: expects 'on' (reuse the sidecars of "
                        "unchanged files) or 'off' (read every file on every build)")

    share = share_settings(env, problems)

    if problems:
        raise ConfigError(problems)
    return Settings(
        instrument_data_path=instrument_data,
        data_path=data,
        db_url=db_url,
        records_path=records,
        log_path=logs,
        file_strategy=strategy,
        ignore_patterns=ignore,
        file_delay_days=delay,
        build_delay_minutes=build_delay,
        retry_delay_minutes=retry_delay,
        clustering_sensitivity=sensitivity,
        extract_workers=workers,
        extract_timeout=extract_timeout,
        extract_memory_mb=extract_memory,
        executor=executor,
        extract_cache=raw_cache != "off",
        share=share,
        deprecated_names=tuple(deprecated),
        env=env,
    )


_EXPECTS = {
    "NX_INSTRUMENT_DATA_PATH": "the read-only root directory of the instruments' data files",
    "NX_DATA_PATH": "a writable directory for metadata sidecars, previews, records and logs",
    "NX_RECORDS_PATH": "a directory for the XML records",
    "NX_LOG_PATH": "a directory for log files",
}


def is_web_url(value: str) -> bool:
    """Whether ``value`` is an ``http(s)://host...`` address."""
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def number_setting(env: Mapping[str, str], name: str, default: float, problems: list[str],
                   *, minimum: float, expects: str, whole: bool = False) -> float:
    """``env[name]`` as a number ``>= minimum`` (a whole one if ``whole``), else ``default``.

    An unset or empty value gives ``default``; a bad one adds "NAME=value: expects ..."
    to ``problems`` (the caller raises one ConfigError naming every problem).
    """
    raw = (env.get(name) or "").strip()
    if not raw:
        return default
    try:
        value = int(raw) if whole else float(raw)
        if not value >= minimum:  # also refuses NaN
            raise ValueError
    except ValueError:
        problems.append(f"{name}={raw}: expects {expects}")
        return default
    return value


def file_setting(env: Mapping[str, str], name: str, problems: list[str],
                 expects: str) -> Path | None:
    """``env[name]`` as the path of an existing file, None when unset."""
    raw = (env.get(name) or "").strip()
    if not raw:
        return None
    path = Path(raw).expanduser()
    if not path.is_file():
        problems.append(f"{name}={raw}: no such file (it expects {expects})")
    return path


_warned_legacy: set[str] = set()
_warned_unknown: set[tuple[str, str]] = set()


def legacy_setting(env: Mapping[str, str], name: str, *legacy: str,
                   warn: bool = True) -> tuple[str, str]:
    """The value of ``name``, else of the first NexusLIMS 1.x name set; and which it was.

    A 1.x name in use is warned about once per process, however many modules read it
    (unless ``warn`` is false: a check that only looks).
    """
    value = (env.get(name) or "").strip()
    if value:
        return value, name
    for old in legacy:
        value = (env.get(old) or "").strip()
        if value:
            if warn and old not in _warned_legacy:
                _warned_legacy.add(old)
                logger.warning("%s is a NexusLIMS 1.x setting name; rename it to %s", old,
                               name)
            return value, old
    return "", name


def _writable_dir_problem(path: Path) -> str | None:
    """Why ``path`` can't serve as a writable directory, or None if it can."""
    probe = path
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    if probe.exists() and not probe.is_dir():
        return f"{probe} is not a directory"
    if not os.access(probe, os.W_OK | os.X_OK):
        return f"{probe} is not writable"
    return None


def shown_value(name: str, value: str) -> str:
    """``value`` fit to show: ``***`` for a secret setting; a URL's credentials and query
    (where signatures and keys travel) hidden."""
    if not value:
        return value
    # Notification URLs (Apprise style, slack://tokenA/tokenB) carry secrets in the path.
    if redact.SECRET_NAME.search(name) or re.search(r"_PASS$|ALERT_URL", name):
        return redact.MASK
    if "://" in value:
        parts = urlsplit(value)
        if not (parts.username or parts.password or parts.query):
            return value  # unsplitting would also turn sqlite://// into sqlite://
        host = parts.netloc.rpartition("@")[2]
        if parts.username or parts.password:
            host = f"***@{host}"
        return urlunsplit((parts.scheme, host, parts.path, "***" if parts.query else "",
                           parts.fragment))
    return value
