"""Doctor's checks of the settings themselves: unknown names, every command's settings,
and calendars or destinations configured half-way.

``load_site`` checks the settings a pass needs; these add what it does not see: an
``NX_*`` name no module reads (a typo: its setting silently keeps its default), the
settings other commands read (``serve``'s are passed in by the command line, which sits
above the web face), values that would be replaced by a default with only a log line,
and a calendar or destination given some of its settings but not enough to be used.
"""

from __future__ import annotations

from collections.abc import Iterable

from nexuslims.errors import ConfigError
from nexuslims.ops.doctor.checks import FAILURE, OK, WARNING, Check, Site


def check_unknown_names(site: Site) -> Iterable[Check]:
    """Each ``NX_*`` name that no module reads: a warning, with the closest real name."""
    from nexuslims.config import unknown_settings

    for name, closest in unknown_settings(site.env):
        advice = f"did you mean {closest}?" if closest else "fix its name or remove it"
        yield Check(f"setting {name}", WARNING,
                    f"{name} is not a nexuslims setting and is ignored; {advice}")


def check_tuning_settings(site: Site) -> Iterable[Check]:
    """Settings a pass reads where it goes, not in ``load_settings``: a bad value there
    only logs a line and falls back to the default, so doctor is where it shows."""
    from nexuslims.config import number_setting

    problems: list[str] = []
    for name, default, expects in (
            ("NX_DB_BUSY_TIMEOUT", 30, "seconds >= 0 an SQLite statement waits for a lock"),
            ("NX_DB_LOCKED_RETRY", 300, "seconds >= 0 a write is tried again while the "
                                        "database stays locked"),
            ("NX_BUILDER_LEASE", 120, "seconds >= 1 a builder's lease lasts without a "
                                      "heartbeat"),
            ("NX_DOCTOR_IDLE_DAYS", 30, "days >= 0 before doctor warns about a quiet "
                                        "instrument folder")):
        before = len(problems)
        number_setting(site.env, name, default, problems, minimum=0, expects=expects)
        if len(problems) > before:
            problems[-1] += f" (a pass uses {default} instead)"
    metrics = (site.env.get("NX_METRICS_PATH") or "").strip()
    if metrics:
        from pathlib import Path

        folder = Path(metrics).expanduser().parent
        if not folder.is_dir():
            problems.append(f"NX_METRICS_PATH={metrics}: no folder {folder} (it expects a "
                            ".prom file in node_exporter's textfile-collector folder)")
    profiles = (site.env.get("NX_LOCAL_PROFILES_PATH") or "").strip()
    if profiles:
        from pathlib import Path

        if not Path(profiles).expanduser().is_dir():
            problems.append(f"NX_LOCAL_PROFILES_PATH={profiles}: no such folder (it expects "
                            "a folder of <instrument>.toml extraction profiles)")
    public = (site.env.get("NX_WEB_PUBLIC_URL") or "").strip()
    if public:
        from nexuslims.config import is_web_url

        if not is_web_url(public):
            problems.append(f"NX_WEB_PUBLIC_URL={public}: expects the address people reach "
                            "the pages at, e.g. https://nexus.example.org/nexuslims (exports "
                            "link to it)")
    if problems:
        yield Check("other settings", FAILURE, "fix these settings: " + "; ".join(problems))


def check_command_settings(site: Site) -> Iterable[Check]:
    """The settings of each other command (``serve``...), read as that command reads
    them: doctor passing a ``.env`` that a command then refuses helps nobody."""
    for command, read in sorted(site.commands.items()):
        try:
            read(site.env)
        except ConfigError as exc:
            yield Check(f"settings of {command}", FAILURE,
                        f"nexuslims {command} would refuse to start; fix: "
                        + "; ".join(exc.problems))
        else:
            yield Check(f"settings of {command}", OK, f"nexuslims {command} can start")


def check_half_done(site: Site) -> Iterable[Check]:
    """A calendar or destination given some settings but not enough to be used: a
    warning naming what is missing, a failure when an instrument needs it."""
    from nexuslims.export.destinations import incomplete_destinations
    from nexuslims.reservations.sharepoint.settings import incomplete

    for name, missing in incomplete_destinations(site.env).items():
        yield Check(f"destination {name}", WARNING, missing)
    mail = sorted(n for n in site.env if n.startswith("NX_EMAIL_")
                  and n != "NX_EMAIL_SMTP_HOST" and (site.env.get(n) or "").strip())
    if mail and not (site.env.get("NX_EMAIL_SMTP_HOST") or "").strip():
        yield Check("alerts by email", WARNING,
                    f"{' and '.join(mail)} {'is' if len(mail) == 1 else 'are'} set but "
                    "NX_EMAIL_SMTP_HOST is not: no alert emails are sent (set it, or "
                    f"remove {'it' if len(mail) == 1 else 'them'})")
    sharepoint = incomplete(site.env)
    if sharepoint is not None:
        users = sorted(i.pid for i in site.instruments
                       if (i.harvester or "").strip().lower() == "sharepoint")
        if users:
            yield Check("calendar sharepoint", FAILURE,
                        f"{sharepoint}; needed by {', '.join(users)}, whose sessions wait")
        else:
            yield Check("calendar sharepoint", WARNING, sharepoint)


#: Run after the settings check, by ``doctor`` and before every pass.
CHECKS = (check_unknown_names, check_tuning_settings, check_command_settings, check_half_done)
