"""``nexuslims process``: one pass of the record builder."""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace

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
    p.add_argument("--re-extract", action="store_true",
                   help="read every file again, even one unchanged since its sidecar was "
                   "written (NX_EXTRACT_CACHE=off for this pass)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if args.since and args.until and args.since >= args.until:
        print(f"nexuslims process: --from {args.since.isoformat()} is not before --to "
              f"{args.until.isoformat()}", file=sys.stderr)
        return 2
    import datetime as dt

    from nexuslims.builder import progress
    from nexuslims.builder.interrupt import Interrupted, stop_on_signals
    from nexuslims.builder.lease import LeaseLost, builder_lock
    from nexuslims.cli import _unattended
    from nexuslims.cli._logging import log_to_files
    from nexuslims.config import NEEDS_ALL
    from nexuslims.errors import LockHeld

    started = dt.datetime.now(dt.UTC)
    try:
        checked = settings(args, NEEDS_ALL)
        if args.re_extract:
            checked = replace(checked, extract_cache=False)
        from nexuslims.builder.passlog import run_recorded_pass
        from nexuslims.builder.run import run_pass

        with stop_on_signals():
            # SIGTERM/SIGINT unwind the pass: workers killed, attempt marked, lock released.
            if args.dry_run:
                summary = run_pass(checked, dry_run=True, since=args.since, until=args.until)
            else:
                log_to_files(checked)
                with builder_lock(checked):
                    _unattended.before_pass(checked)
                    with progress.on_terminal(enabled=not args.quiet):
                        summary = run_recorded_pass(checked, since=args.since, until=args.until)
                    # Under the lock: two passes never read and write the alert state at once.
                    _unattended.after_pass(checked, summary, started)
    except LeaseLost as lost:
        print(f"nexuslims: pass stopped: {lost}; the session being built is left for the "
              "pass that holds the lease", file=sys.stderr)
        return lost.exit_code
    except Interrupted as stopped:
        print(f"nexuslims: pass {stopped}; {stopped.sessions_left()} left for the next "
              "pass", file=sys.stderr)
        return stopped.exit_code
    except Exception as exc:  # also a crash; an interruption is not a failure
        if not args.dry_run and not isinstance(exc, LockHeld):
            _unattended.pass_failed(args.env_file, exc, started)
        raise
    print_summary(summary, verbose=args.verbose, quiet=args.quiet)
    if summary.unrecorded and not args.dry_run:
        # Built but not recorded: the next pass builds them again, forever, unless told.
        from nexuslims.errors import DatabaseError

        problem = DatabaseError(
            f"{len(summary.unrecorded)} session outcome(s) could not be recorded in the "
            f"database ({summary.unrecorded[0].message}): it may be damaged, read-only or "
            "full; run `nexuslims doctor`")
        print(f"nexuslims: {problem}", file=sys.stderr)
        _unattended.pass_failed(args.env_file, problem, started)
        return 1
    return 0


# A session left TO_BE_BUILT with this message only waits for its files to appear.
WAITING_FOR_FILES = "no files yet"


def needs_attention(outcome) -> bool:
    """Whether a session's outcome is one a person should hear about under ``-q``.

    A failure (ERROR), a record not exported (a destination could not be reached), and a
    session tried in this pass but left for later (a calendar or an instrument folder
    could not be reached, a harvester is missing). Sessions not tried in this pass (still
    waiting for files, not due yet, in their backoff) are news only on the pass that
    tried them.
    """
    from nexuslims.model.session import Status

    if outcome.status in (Status.ERROR, Status.BUILT_NOT_EXPORTED):
        return True
    return (outcome.status == Status.TO_BE_BUILT and not getattr(outcome, "waiting", False)
            and not (outcome.message or "").startswith(WAITING_FOR_FILES))


def print_summary(summary, *, verbose: int = 0, quiet: bool = False) -> None:
    """Print what a pass did, session by session, then one summary line.

    With ``quiet`` (and not a dry run), only the sessions that need attention and the
    summary line, and nothing at all when no session does.
    """
    if quiet and not summary.dry_run:
        summary = replace(summary, outcomes=[o for o in summary.outcomes if needs_attention(o)],
                          exports=[o for o in summary.exports if needs_attention(o)])
        if not summary.outcomes and not summary.exports:
            return
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
                  + (f", {o.datasets} dataset(s)" if o.datasets else "")
                  + (f", {o.failures} of them unreadable (file information only)"
                     if o.failures else "")
                  + (f"; {o.reused} file(s) reused from the extraction cache"
                     if getattr(o, "reused", 0) else ""))
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
