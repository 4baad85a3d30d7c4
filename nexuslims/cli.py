"""The ``nexuslims`` command: parses arguments, calls the pipeline or a stage, prints.

Nothing heavy is imported before a sub-command runs, so ``--help`` is instant and needs
no configuration.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import sys
from pathlib import Path

from nexuslims import __version__
from nexuslims.errors import ConfigError, LockHeld, NexusLIMSError

logger = logging.getLogger("nexuslims")

EPILOG = """\
configuration: settings come from the environment and a .env file (the current
directory's, or --env-file); the environment wins. See .env.example or the README.
exit status: 0 ran (even if some sessions failed), 1 could not run, 2 usage error."""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every sub-command."""
    # The options every sub-command accepts too; on sub-commands their defaults are
    # suppressed so that `nexuslims -v process` keeps the -v given before the command.
    top, common = (_common_options(argparse.ArgumentParser(add_help=False), default)
                   for default in (True, False))

    parser = argparse.ArgumentParser(
        prog="nexuslims", parents=[top], epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Build Experiment records from microscope sessions and their files.")
    parser.add_argument("--version", action="version", version=f"nexuslims {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("process", parents=[common], help="run one pass of the record builder",
                       description="Build a record for every session waiting in the session "
                       "log (status TO_BE_BUILT).")
    p.add_argument("--dry-run", action="store_true",
                   help="report the files and activities each session would get; write nothing")
    p.add_argument("--from", dest="since", metavar="DATE", type=_date_arg,
                   help="only sessions starting on or after DATE (YYYY-MM-DD or ISO time)")
    p.add_argument("--to", dest="until", metavar="DATE", type=_date_arg,
                   help="only sessions starting before DATE")

    p = sub.add_parser("export", parents=[common],
                       help="export built records now (again), ignoring the retry backoff",
                       description="Send records waiting in the outbox (BUILT_NOT_EXPORTED) to "
                       "the configured destinations now. Destinations that already have a "
                       "record are not sent it again.")
    p.add_argument("--session", metavar="ID",
                   help="only this session (a COMPLETED one goes to destinations that lack it)")
    p.add_argument("--retry-failed", action="store_true",
                   help="also sessions whose export ended in ERROR (a destination rejected the "
                   "record)")

    p = sub.add_parser("db", parents=[common], help="create, upgrade or inspect the database")
    dbsub = p.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    dbsub.add_parser("init", parents=[common], help="create a new, empty session database")
    dbsub.add_parser("upgrade", parents=[common],
                     help="adopt a NexusLIMS 1.x/2.x database or upgrade ours, keeping every row")
    dbsub.add_parser("current", parents=[common], help="print the database's schema revision")

    p = sub.add_parser("instruments", parents=[common], help="add or list instruments")
    isub = p.add_subparsers(dest="instruments_command", metavar="ACTION", required=True)
    a = isub.add_parser("add", parents=[common], help="add an instrument")
    a.add_argument("pid", help="instrument PID, e.g. FEI-Titan-TEM-635816")
    a.add_argument("--filestore-path", required=True,
                   help="its data directory, relative to NX_INSTRUMENT_DATA_PATH")
    a.add_argument("--name", dest="schema_name", help="name shown in records (schema_name)")
    a.add_argument("--timezone", help="IANA timezone, e.g. America/New_York (default: local)")
    a.add_argument("--harvester", choices=["", "nemo", "sharepoint"], default="",
                   help="reservation calendar (default: none)")
    for opt in ("api-url", "calendar-name", "calendar-url", "location", "property-tag",
                "computer-name", "computer-ip", "computer-mount"):
        a.add_argument(f"--{opt}")
    ls = isub.add_parser("list", parents=[common], help="list instruments")
    ls.add_argument("--json", action="store_true", help="JSON instead of a table")

    p = sub.add_parser("sessions", parents=[common], help="list sessions and their build history")
    ssub = p.add_subparsers(dest="sessions_command", metavar="ACTION", required=True)
    ls = ssub.add_parser("list", parents=[common], help="list sessions")
    ls.add_argument("--status", help="only sessions with this status, e.g. ERROR")
    ls.add_argument("--limit", type=int, default=None, help="at most N sessions")
    ls.add_argument("--json", action="store_true", help="JSON instead of a table")
    sh = ssub.add_parser("show", parents=[common],
                         help="a session, every build attempt and its stages")
    sh.add_argument("identifier", help="the session_identifier")

    p = sub.add_parser("validate", parents=[common], help="check an XML record against the schema")
    p.add_argument("files", nargs="+", type=Path, metavar="FILE.xml")
    p.add_argument("--schema", type=Path, help="another XSD (default: the project's)")

    p = sub.add_parser("extract", parents=[common],
                       help="extract metadata (and previews) from files, no configuration needed")
    p.add_argument("paths", nargs="+", metavar="PATH", help="files or directories (recursive)")
    p.add_argument("--json", action="store_true", help="one JSON object per dataset per line")
    p.add_argument("--no-preview", action="store_true", help="do not render previews")
    p.add_argument("--preview-dir", metavar="DIR", help="write previews to DIR")

    p = sub.add_parser("demo", parents=[common],
                       help="build a self-contained demo site and run one pass on it",
                       description="Create DIR with a SQLite session log, one instrument, a file "
                       "store of generated microscope data and one session, then run one pass. "
                       "Needs no configuration and no network.")
    p.add_argument("dir", nargs="?", type=Path, default=Path("nexuslims-demo"),
                   help="where to create the site (default: ./nexuslims-demo)")
    return parser


def _common_options(parser: argparse.ArgumentParser,
                    defaults: bool) -> argparse.ArgumentParser:
    def default(value: object) -> object:
        return value if defaults else argparse.SUPPRESS

    parser.add_argument("--env-file", type=Path, metavar="FILE", default=default(None),
                        help="read settings from FILE instead of ./.env")
    parser.add_argument("-v", "--verbose", action="count", default=default(0),
                        help="more detail (-vv for debug logging)")
    parser.add_argument("-q", "--quiet", action="store_true", default=default(False),
                        help="only warnings and errors")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``nexuslims`` console script."""
    args = build_parser().parse_args(argv)
    _setup_logging(args.verbose, args.quiet)
    try:
        return _COMMANDS[args.command](args)
    except ConfigError as exc:
        print("nexuslims: configuration problem:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  - {problem}", file=sys.stderr)
        return 1
    except LockHeld as exc:
        print(f"nexuslims: {exc}; nothing to do", file=sys.stderr)
        return 0
    except NexusLIMSError as exc:
        print(f"nexuslims: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("nexuslims: interrupted", file=sys.stderr)
        return 130


def _settings(args: argparse.Namespace, needs: frozenset[str]):
    from nexuslims.config import load_settings, read_environment

    return load_settings(read_environment(args.env_file), needs)


def _cmd_process(args: argparse.Namespace) -> int:
    from nexuslims.config import NEEDS_ALL
    from nexuslims.lock import builder_lock

    settings = _settings(args, NEEDS_ALL)
    from nexuslims.pipeline import run_pass

    if args.dry_run:
        summary = run_pass(settings, dry_run=True, since=args.since, until=args.until)
    else:
        _log_to_files(settings)
        with builder_lock(settings.lock_path):
            summary = run_pass(settings, since=args.since, until=args.until)
    _print_summary(summary, verbose=args.verbose)
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from nexuslims.config import NEEDS_ALL
    from nexuslims.export.command import run_export

    settings = _settings(args, NEEDS_ALL)
    _log_to_files(settings)
    return run_export(settings, session=args.session, retry_failed=args.retry_failed)


def _cmd_db(args: argparse.Namespace) -> int:
    from nexuslims import db
    from nexuslims.config import NEEDS_DB

    url = _settings(args, NEEDS_DB).db_url
    if args.db_command == "init":
        print(f"created database at revision {db.init_db(url)}")
    elif args.db_command == "upgrade":
        before, after = db.upgrade_db(url)
        print(f"database upgraded from {before or 'nothing'} to {after}"
              if before != after else f"database already at {after}")
    else:
        print(db.current_revision(url) or "no nexuslims schema (run: nexuslims db init)")
    return 0


def _cmd_instruments(args: argparse.Namespace) -> int:
    from nexuslims import db
    from nexuslims.config import NEEDS_DB
    from nexuslims.sessions import Instrument

    engine = db.make_engine(_settings(args, NEEDS_DB).db_url)
    db.require_head(engine)
    if args.instruments_command == "add":
        if args.timezone:
            _check_timezone(args.timezone)
        instrument = Instrument(
            pid=args.pid, filestore_path=args.filestore_path, schema_name=args.schema_name,
            timezone=args.timezone, harvester=args.harvester or None, api_url=args.api_url,
            calendar_name=args.calendar_name, calendar_url=args.calendar_url,
            location=args.location, property_tag=args.property_tag,
            computer_name=args.computer_name, computer_ip=args.computer_ip,
            computer_mount=args.computer_mount)
        db.add_instrument(engine, instrument)
        print(f"added instrument {args.pid}")
        return 0
    instruments = sorted(db.load_instruments(engine).values(), key=lambda i: i.pid)
    if args.json:
        from dataclasses import asdict

        print(json.dumps([asdict(i) for i in instruments], indent=2))
    else:
        _print_table(["PID", "NAME", "FILESTORE PATH", "HARVESTER", "TIMEZONE"],
                     [[i.pid, i.schema_name or "", i.filestore_path, i.harvester or "",
                       i.timezone or ""] for i in instruments])
    return 0


def _cmd_sessions(args: argparse.Namespace) -> int:
    from nexuslims import db
    from nexuslims.config import NEEDS_DB

    engine = db.make_engine(_settings(args, NEEDS_DB).db_url)
    db.require_head(engine)
    if args.sessions_command == "list":
        sessions = db.list_sessions(engine, status=args.status, limit=args.limit)
        if args.json:
            from dataclasses import asdict

            print(json.dumps([asdict(s) for s in sessions], indent=2, default=str))
        else:
            _print_table(["SESSION", "INSTRUMENT", "USER", "START", "END", "STATUS", "ATTEMPTS"],
                         [[s.identifier, s.instrument, s.user or "", s.start or "",
                           s.end or "", s.status, s.attempts] for s in sessions])
        return 0
    detail = db.session_detail(engine, args.identifier)
    if detail is None:
        print(f"nexuslims: no session {args.identifier!r} in the session log", file=sys.stderr)
        return 1
    from nexuslims.db.uploads import uploads_of_session

    _print_session_detail(detail, uploads_of_session(engine, args.identifier))
    return 0


def _print_session_detail(detail, uploads=()) -> None:
    print(f"session {detail.identifier}: {detail.status}")
    _print_table(["ROW", "EVENT", "TIMESTAMP", "STATUS", "INSTRUMENT", "USER"],
                 [[r.id, r.event_type, r.timestamp, r.record_status, r.instrument, r.user or ""]
                  for r in detail.rows])
    if not detail.attempts:
        print("no build attempts")
    for a in detail.attempts:
        took = f"{a.duration_s:.2f} s" if a.duration_s is not None else "unfinished"
        print(f"\nattempt {a.id}: {a.status}, started {a.started:%Y-%m-%d %H:%M:%S %Z}, {took}"
              + (" (dry run)" if a.dry_run else ""))
        if a.record_path:
            print(f"  record: {a.record_path}")
        if a.error:
            print(f"  error: {a.error}")
        _print_table(["STAGE", "STATUS", "SECONDS", "FILES", "BYTES", "DATASETS", "FAILURES",
                      "ERROR"],
                     [[st.name, st.status, f"{st.duration_s:.3f}", _blank(st.files_found),
                       _blank(st.bytes_found), _blank(st.datasets), _blank(st.failures),
                       st.error or ""] for st in a.stages])
    print("\nexport attempts:")
    _print_table(["TIME", "DESTINATION", "RESULT", "ID", "URL / ERROR"],
                 [[f"{u.timestamp:%Y-%m-%d %H:%M:%S %Z}", u.destination,
                   "ok" if u.success else "failed", u.record_id or "",
                   (u.record_url or "") if u.success else (u.error or "")] for u in uploads])


def _blank(value: object) -> object:
    return "" if value is None else value


def _cmd_validate(args: argparse.Namespace) -> int:
    from nexuslims.validation import validate_record

    bad = 0
    for path in args.files:
        if not path.is_file():
            print(f"{path}: no such file", file=sys.stderr)
            bad += 1
            continue
        problems = validate_record(path, args.schema)
        if problems:
            bad += 1
            for p in problems:
                print(f"{path}:{p.line}:{p.column}: {p.message}")
        else:
            print(f"{path}: valid")
    return 1 if bad else 0


def _cmd_extract(args: argparse.Namespace) -> int:
    from nexuslims.extract_command import run_extract

    return run_extract(args.paths, json_out=args.json, no_preview=args.no_preview,
                       preview_dir=args.preview_dir)


def _cmd_demo(args: argparse.Namespace) -> int:
    from nexuslims.demo import run_demo

    return run_demo(args.dir, verbose=args.verbose)


_COMMANDS = {"process": _cmd_process, "export": _cmd_export, "db": _cmd_db,
             "instruments": _cmd_instruments, "sessions": _cmd_sessions,
             "validate": _cmd_validate, "extract": _cmd_extract, "demo": _cmd_demo}


def print_summary(summary, *, verbose: int = 0) -> None:
    """Print what a pass did, session by session, then one summary line."""
    _print_summary(summary, verbose=verbose)


def _print_summary(summary, *, verbose: int = 0) -> None:
    for o in summary.outcomes:
        window = (f"{o.start:%Y-%m-%d %H:%M} to {o.end:%Y-%m-%d %H:%M %Z}"
                  if o.start and o.end else "")
        print(f"{o.identifier} [{o.instrument}] {window}: {o.status}"
              + (f" - {o.message}" if o.message else ""))
        if summary.dry_run and o.reservation is not None:
            r = o.reservation
            print(f"  reservation: {r.title!r}"
                  + (f" by {', '.join(r.experimenters)}" if r.experimenters else "")
                  + (f"; {r.url}" if r.url else ""))
        if o.activities:
            print(f"  {o.files} file(s) in {len(o.activities)} activit"
                  f"{'y' if len(o.activities) == 1 else 'ies'}"
                  + (f", {o.datasets} dataset(s), {o.failures} with warnings"
                     if o.datasets else ""))
        if summary.dry_run or verbose:
            for i, files in enumerate(o.activities):
                print(f"    activity {i}: {len(files)} file(s)")
                shown = files if verbose else files[:5]
                for f in shown:
                    print(f"      {f}")
                if len(files) > len(shown):
                    print(f"      ... and {len(files) - len(shown)} more (-v lists all)")
        if o.record_path:
            print(f"  record: {o.record_path}")
    for o in summary.exports:
        print(f"{o.identifier} [{o.instrument}] export retried: {o.status}"
              + (f" - {o.message}" if o.message else ""))
    verb = "would build" if summary.dry_run else "built"
    print(f"{'Dry run' if summary.dry_run else 'Pass'} finished in {summary.seconds:.1f} s: "
          f"{summary.built} {verb}, {summary.failed} failed, {summary.skipped} skipped; "
          f"{summary.files} file(s)"
          + (f"; {summary.exported} of {len(summary.exports)} earlier record(s) exported"
             if summary.exports else ""))


def _print_table(header: list[str], rows: list[list[object]]) -> None:
    cells = [header] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    for row in cells:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    if not rows:
        print("(none)")


def _date_arg(text: str) -> dt.datetime:
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a date: use YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS][+HH:MM]") from None
    return value if value.tzinfo else value.astimezone()


def _check_timezone(name: str) -> None:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError([f"--timezone {name}: not an IANA timezone name "
                           "(e.g. America/New_York, Europe/Berlin, UTC)"]) from None


def _setup_logging(verbose: int, quiet: bool) -> None:
    level = logging.WARNING if quiet else logging.DEBUG if verbose >= 2 else logging.INFO
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s",
                                           "%H:%M:%S"))
    root = logging.getLogger("nexuslims")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False
    if verbose < 2:
        from nexuslims.extractors._quiet import quiet_hyperspy

        quiet_hyperspy()
    events = logging.getLogger("nexuslims.events")
    events.propagate = False  # machine-readable lines go to the events file only
    events.setLevel(logging.INFO)


def _log_to_files(settings) -> None:
    """Each pass logs to ``NX_LOG_PATH/YYYY/MM/DD/HHMMSS_process.log`` plus events.jsonl."""
    now = dt.datetime.now()
    folder = settings.log_path / now.strftime("%Y/%m/%d")
    folder.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(folder / now.strftime("%H%M%S_process.log"), encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.setLevel(logging.DEBUG)
    root = logging.getLogger("nexuslims")
    root.addHandler(handler)
    if root.level > logging.INFO:
        root.setLevel(logging.INFO)
    events_handler = logging.FileHandler(settings.log_path / "events.jsonl", encoding="utf-8")
    events_handler.setFormatter(logging.Formatter("%(message)s"))
    logging.getLogger("nexuslims.events").addHandler(events_handler)
