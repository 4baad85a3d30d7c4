"""The ``nexuslims`` command: parses arguments, calls the pipeline or a stage, prints.

One module per command group (``process``, ``sessions``, ...), each with ``add_parser``
and a thin ``run`` over plain functions. Nothing heavy is imported before a sub-command
runs, so ``--help`` is instant and needs no configuration.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import logging
import os
import re
import sys
from pathlib import Path

from nexuslims import __version__
from nexuslims.errors import ConfigError, LockHeld, NexusLIMSError, UsageError

logger = logging.getLogger("nexuslims")

EPILOG = """\
configuration: settings come from the environment and a .env file (the current
directory's, or --env-file); the environment wins. See .env.example or the README.
exit status: 0 ran (even if some sessions failed), 1 could not run, 2 usage error."""

# Command modules, in the order --help lists them.
COMMAND_MODULES = ("process", "export", "db", "instruments", "sessions", "validate", "extract",
                   "demo", "config", "doctor", "support", "serve", "tokens")


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
    for name in COMMAND_MODULES:
        importlib.import_module(f"nexuslims.cli.{name}").add_parser(sub, common)
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
                        help="print only what needs attention (failed sessions, unreachable "
                        "calendars or destinations, errors): silent on a clean pass, for cron")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``nexuslims`` console script."""
    args = build_parser().parse_args(argv)
    _setup_logging(args.verbose, args.quiet)
    try:
        return args.handler(args)
    except BrokenPipeError:
        # The reader went away (`nexuslims sessions list | head`): stop quietly, and keep
        # Python from complaining again when it flushes stdout at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except ConfigError as exc:
        if args.env_file is None and not Path(".env").is_file():
            # Under cron without `cd`: say where settings were looked for first.
            print(f"nexuslims: no .env file found in {Path.cwd()} (settings come from the "
                  "environment and ./.env; give --env-file FILE, or run from the folder "
                  "that holds .env)", file=sys.stderr)
        print("nexuslims: configuration problem:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  - {problem}", file=sys.stderr)
        return 1
    except LockHeld as exc:
        if not args.quiet:  # overlapping passes are normal under cron: nothing to report
            print(f"nexuslims: {exc}; nothing to do", file=sys.stderr)
        return 0
    except UsageError as exc:
        print(f"nexuslims: {exc}", file=sys.stderr)
        return 2
    except NexusLIMSError as exc:
        print(f"nexuslims: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("nexuslims: interrupted", file=sys.stderr)
        return 130



def print_summary(summary, *, verbose: int = 0) -> None:
    """Print what a pass did, session by session, then one summary line."""
    from nexuslims.cli.process import print_summary as _print

    _print(summary, verbose=verbose)


def _setup_logging(verbose: int, quiet: bool) -> None:
    level = logging.ERROR if quiet else logging.DEBUG if verbose >= 2 else logging.INFO
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s",
                                           "%H:%M:%S"))
    # The handler keeps its own level: a pass lowers the logger's to INFO for its log file.
    handler.setLevel(level)
    if quiet:
        handler.addFilter(_not_about_one_session)
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


def _not_about_one_session(record: logging.LogRecord) -> bool:
    """Under ``-q``, a session's own log lines stay in the log file: the pass summary
    reports each session that needs attention once, on stdout."""
    template = getattr(record, "template", record.msg)  # before redaction formatted it
    return not (isinstance(template, str) and _SESSION_LINE.match(template))


_SESSION_LINE = re.compile(r"(\[%d/%d\] )?session %s")


def log_to_files(settings) -> None:
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
