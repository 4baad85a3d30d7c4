"""What ``nexuslims config show`` prints: every setting's effective value and its source.

Each setting any module reads has its default here (:data:`DEFAULTS`, in the words a
facility reads, held complete by a test), and the NexusLIMS 1.x names each setting is
also read under (:data:`OLD_NAMES`), plug-ins' included: a 1.x ``.env`` shows the values
a run really uses, not "unset".
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from nexuslims.config import (
    DEFAULT_IGNORE_PATTERNS,
    LEGACY_NAMES,
    Settings,
    known_setting_names,
    load_settings,
    read_environment,
    shown_value,
    unknown_settings,
)
from nexuslims.errors import ConfigError

#: The value a setting takes when it is not set. Every known setting is here, in
#: :data:`DERIVED` (its default comes from another) or in :data:`UNSET_MEANS`.
DEFAULTS: dict[str, str] = {
    "NX_ALERT_EXPORT_HOURS": "24",
    "NX_ALERT_UNREACHABLE_PASSES": "3",
    "NX_BUILDER_LEASE": "120",
    "NX_BUILD_DELAY_MINUTES": "0",
    "NX_CDCS_ASSIGN_TO_PUBLIC_WORKSPACE": "true",
    "NX_CDCS_RETRIES": "3",
    "NX_CDCS_TIMEOUT": "30",
    "NX_CLUSTERING_SENSITIVITY": "1",
    "NX_DASK_TIMEOUT": "10",
    "NX_DATACITE_EXPORT": "false",
    "NX_DATACITE_PUBLISHER": "(:unav)",
    "NX_ELN_EXPORT": "false",
    "NX_ELN_MAX_FILE_MB": "99",
    "NX_ELN_LICENSE": "none stated",
    "NX_ELABFTW_TIMEOUT": "30",
    "NX_ELABFTW_RETRIES": "3",
    "NX_DB_BUSY_TIMEOUT": "30",
    "NX_DB_LOCKED_RETRY": "300",
    "NX_DOCTOR_IDLE_DAYS": "30",
    "NX_EMAIL_SMTP_PORT": "587 (25 without TLS)",
    "NX_EMAIL_USE_TLS": "true",
    "NX_EXECUTOR": "local",
    "NX_EXPORT_STRATEGY": "all",
    "NX_EXTRACT_CACHE": "on",
    "NX_EXTRACT_MEMORY_MB": "4096, at most half the RAM",
    "NX_EXTRACT_TIMEOUT": "120",
    "NX_EXTRACT_WORKERS": "up to 4",
    "NX_FILE_DELAY_DAYS": "2",
    "NX_FILE_STRATEGY": "exclusive",
    "NX_IGNORE_PATTERNS": json.dumps(list(DEFAULT_IGNORE_PATTERNS)),
    "NX_NEMO_BACKOFF": "1",
    "NX_NEMO_FIRST_HARVEST_DAYS": "7",
    "NX_NEMO_OVERLAP_HOURS": "48",
    "NX_NEMO_RETRIES": "3",
    "NX_NEMO_TIMEOUT": "30",
    "NX_RETRY_DELAY_MINUTES": "10",
    "NX_SHAREPOINT_BACKOFF": "1",
    "NX_SHAREPOINT_RETRIES": "3",
    "NX_SHAREPOINT_TIMEOUT": "30",
    "NX_API_CLOCK_SKEW_MINUTES": "5",
    "NX_API_MAX_AGE_HOURS": "24",
    "NX_API_MAX_SESSION_HOURS": "72",
    "NX_FIND_TIMEOUT": "600",
    "NX_FIND_MAX_ENTRIES": "5000000",
    "NX_INSTRUMENT_DATA_MOUNT": "false",
    "NX_WEB_TRUSTED_PROXIES": "127.0.0.1 ::1",
    "NX_WEB_MAX_BODY_BYTES": "65536",
    "NX_WEB_AUTH": "open",
    "NX_WEB_HEALTH_MAX_AGE": "60",
    "NX_WEB_HOST": "127.0.0.1",
    "NX_WEB_PORT": "8080",
    "NX_WEB_SERVE_RAW_FILES": "false",
    "NX_WEB_USER_HEADER": "X-Remote-User",
}

#: Settings without a default that are never "off": what stands in for them.
DERIVED = {
    "NX_RECORDS_PATH": "NX_DATA_PATH/records",
    "NX_LOG_PATH": "NX_DATA_PATH/logs",
    "NX_DB_URL": "sqlite:/// + NX_DB_PATH",
    "NX_DASK_DATA_PATH": "NX_INSTRUMENT_DATA_PATH",
    "NX_SHAREPOINT_TZ": "asked from the server",
    "NX_SHAREPOINT_XSLT": "the packaged sharepoint-reservation.xsl",
    "NX_CDCS_TEMPLATE": "the server's only global template",
    "NX_CERT_BUNDLE_FILE": "the system's certificate authorities",
}

#: Settings with no default: what leaving them unset means.
UNSET_MEANS = {
    "NX_INSTRUMENT_DATA_PATH": "required",
    "NX_DATA_PATH": "required",
    "NX_DB_PATH": "required unless NX_DB_URL",
    "NX_CDCS_URL": "no CDCS export",
    "NX_CDCS_TOKEN": "CDCS logs in with NX_CDCS_USER",
    "NX_CDCS_USER": "CDCS logs in with NX_CDCS_TOKEN",
    "NX_CDCS_PASSWORD": "CDCS logs in with NX_CDCS_TOKEN",
    "NX_DASK_SCHEDULER": "needed with NX_EXECUTOR=dask only",
    "NX_DATACITE_EXPORT_PATH": "beside the record",
    "NX_DATACITE_DOI_PREFIX": "records get no DOI",
    "NX_ELN_EXPORT_PATH": "beside the record",
    "NX_ELABFTW_URL": "no eLabFTW export",
    "NX_ELABFTW_API_KEY": "needed with NX_ELABFTW_URL",
    "NX_ELABFTW_EXPERIMENT_CATEGORY": "the team's default category",
    "NX_ELABFTW_EXPERIMENT_STATUS": "the team's default status",
    "NX_WEB_PUBLIC_URL": "exports link to no page",
    "NX_INSTRUMENT_DATA_ROOTS": "no folder outside an instrument's is read",
    "NX_INSTRUMENT_DATA_MARKER": "no marker file is needed",
    "NX_EMAIL_SMTP_HOST": "no alert emails",
    "NX_EMAIL_SMTP_USERNAME": "no SMTP login",
    "NX_EMAIL_SMTP_PASSWORD": "no SMTP login",
    "NX_EMAIL_SENDER": "needed with NX_EMAIL_SMTP_HOST",
    "NX_EMAIL_RECIPIENTS": "needed with NX_EMAIL_SMTP_HOST",
    "NX_LOCAL_EXPORT_PATH": "no local copy",
    "NX_LOCAL_PROFILES_PATH": "no profiles from files",
    "NX_METRICS_PATH": "no metrics file",
    "NX_SHAREPOINT_USER": "no SharePoint calendars",
    "NX_SHAREPOINT_PASSWORD": "no SharePoint calendars",
    "NX_WEB_BASIC_USER": "needed with NX_WEB_AUTH=basic",
    "NX_WEB_BASIC_PASSWORD": "needed with NX_WEB_AUTH=basic",
    "NX_WEB_ROOT_PATH": "served at the site root",
}

#: Every NexusLIMS 1.x name a setting is also read under (``legacy_setting`` calls and
#: :data:`nexuslims.config.LEGACY_NAMES`); 1.x used one account for CDCS and SharePoint.
OLD_NAMES: dict[str, tuple[str, ...]] = {
    **{new: (old,) for old, new in LEGACY_NAMES.items()},
    "NX_CDCS_URL": ("cdcs_url",),
    "NX_CDCS_USER": ("nexusLIMS_user",),
    "NX_CDCS_PASSWORD": ("nexusLIMS_pass",),
    "NX_SHAREPOINT_USER": ("nexusLIMS_user",),
    "NX_SHAREPOINT_PASSWORD": ("nexusLIMS_pass",),
}


@dataclass(frozen=True)
class EffectiveSetting:
    """One setting as a run sees it, for ``nexuslims config show``."""

    name: str
    value: str
    """The value used, secrets replaced by ``***``; empty when unset with no default."""
    source: str
    """``environment``, ``.env file``, ``1.x name <old name>``, ``default``,
    ``default: <what it derives from>``, ``unset: <what that means>``, or
    ``ignored: unknown name (...)`` (a name no module reads, a typo usually)."""


def effective_settings(env_file: Path | None = None,
                       environ: Mapping[str, str] | None = None,
                       ) -> tuple[list[EffectiveSetting], list[str]]:
    """Every known setting with the value a run would use and where it came from.

    Returns
    -------
    settings, problems
        One entry per known setting (numbered ones as set), secrets redacted; and the
        problems :func:`load_settings` would report (empty when the values are valid).
    """
    environ = os.environ if environ is None else environ
    merged = read_environment(env_file, environ)
    in_environ = {k for k in environ if k.startswith("NX_") or k in LEGACY_NAMES
                  or any(k in olds for olds in OLD_NAMES.values())}
    problems: list[str] = []
    try:
        checked: Settings | None = load_settings(merged, frozenset())
    except ConfigError as exc:
        checked, problems = None, list(exc.problems)
    derived = _derived_values(checked)
    names = sorted(known_setting_names() | {n for n in merged if n.startswith("NX_")})
    shown = []
    for name in names:
        raw = (merged.get(name) or "").strip()
        old = next((o for o in OLD_NAMES.get(name, ()) if (merged.get(o) or "").strip()), None)
        where = "environment" if name in in_environ else ".env file"
        if raw:
            source = f"ignored: unknown name ({where})" if unknown_settings([name]) else where
        elif old is not None:
            raw = merged[old].strip()
            source = f"1.x name {old}"
        elif name in DEFAULTS:
            raw, source = DEFAULTS[name], "default"
        elif name in derived:
            raw, source = derived[name], f"default: {DERIVED[name]}"
        elif name in DERIVED:
            raw, source = "", f"default: {DERIVED[name]}"
        elif name in UNSET_MEANS:
            source = f"unset: {UNSET_MEANS[name]}"
        else:
            source = "unset"
        shown.append(EffectiveSetting(name, shown_value(name, raw), source))
    return shown, problems


def _derived_values(checked: Settings | None) -> dict[str, str]:
    """The values derived settings take here, when the settings could be read."""
    if checked is None:
        return {}
    values = {}
    if checked.data_path is not None:
        values["NX_RECORDS_PATH"] = str(checked.records_path)
        values["NX_LOG_PATH"] = str(checked.log_path)
    if checked.db_url is not None and not checked.env.get("NX_DB_URL"):
        values["NX_DB_URL"] = checked.db_url
    if checked.instrument_data_path is not None:
        values["NX_DASK_DATA_PATH"] = str(checked.instrument_data_path)
    return values
