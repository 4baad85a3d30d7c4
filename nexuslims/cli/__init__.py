"""The ``nexuslims`` command: parses arguments, calls the pipeline or a stage, prints.

One module per command group (``process``, ``sessions``, ...), each with ``add_parser``
and a thin ``run`` over plain functions. Nothing heavy is imported before a sub-command
runs, so ``--help`` is instant and needs no configuration.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from pathlib import Path

from nexuslims import __version__
from nexuslims.cli._logging import _setup_logging
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
