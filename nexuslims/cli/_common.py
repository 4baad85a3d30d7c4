"""Helpers shared by the command modules: settings, tables, argument types."""

from __future__ import annotations

import argparse
import datetime as dt

from nexuslims.errors import UsageError


def settings(args: argparse.Namespace, needs: frozenset[str]):
    """The checked settings a command needs (``--env-file`` honoured)."""
    from nexuslims.config import load_settings, read_environment

    return load_settings(read_environment(args.env_file), needs)


def print_table(header: list[str], rows: list[list[object]]) -> None:
    """A plain left-aligned table, ``(none)`` when there are no rows."""
    cells = [header] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    for row in cells:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    if not rows:
        print("(none)")


def blank(value: object) -> object:
    return "" if value is None else value


def date_arg(text: str) -> dt.datetime:
    """argparse type: an ISO date or time; naive values are local time."""
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a date: use YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS][+HH:MM]") from None
    return value if value.tzinfo else value.astimezone()


def check_timezone(name: str) -> None:
    """UsageError (exit status 2) unless ``name`` is an IANA timezone."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise UsageError(f"--timezone {name}: not an IANA timezone name "
                         "(e.g. America/New_York, Europe/Berlin, UTC)") from None


__all__ = ["blank", "check_timezone", "date_arg", "print_table", "settings"]
