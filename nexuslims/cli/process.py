"""``nexuslims process``: one pass of the record builder."""

from __future__ import annotations

import argparse
import sys

from nexuslims.cli._common import date_arg, settings


def add_parser(sub, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("process", parents=[common], help="run one pass of the record builder",
                       description="Build a record for every session waiting in the session "
                       "log (status TO_BE_BUILT).")
    p.add_argument("--dry-run", action="store_true",
                   help="report the files and activities each session would get; write nothing")
    p.add_argument("--from", dest="since", metavar="DATE", type=date_arg,
                   help="only sessions starting on or after DATE (YYYY-MM-DD or ISO time)")
    p.add_argument("--to", dest="until", metavar="DATE", type=date_arg,
                   help="only sessions starting before DATE")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from nexuslims.cli import log_to_files
    from nexuslims.config import NEEDS_ALL
    from nexuslims.interrupt import Interrupted, stop_on_signals
    from nexuslims.lock import builder_lock

    checked = settings(args, NEEDS_ALL)
    from nexuslims.pipeline import run_pass

    try:
        # SIGTERM/SIGINT unwind the pass: workers killed, attempt marked, lock released.
        with stop_on_signals():
            if args.dry_run:
                summary = run_pass(checked, dry_run=True, since=args.since, until=args.until)
            else:
                log_to_files(checked)
                with builder_lock(checked.lock_path):
                    summary = run_pass(checked, since=args.since, until=args.until)
    except Interrupted as stopped:
        print(f"nexuslims: pass {stopped}; the session being built is left for the next "
              "pass", file=sys.stderr)
        return stopped.exit_code
    print_summary(summary, verbose=args.verbose)
    return 0


def print_summary(summary, *, verbose: int = 0) -> None:
    """Print what a pass did, session by session, then one summary line."""
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
