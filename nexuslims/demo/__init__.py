"""``nexuslims demo``: a self-contained site, built and processed with no configuration.

The site holds a SQLite session log with one instrument and one finished two-hour
session, a file store of generated microscope data (HyperSpy and EMSA files with
realistic metadata, modified in three bursts), and the data directory the pass writes
sidecars, previews, records and logs into.
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

from nexuslims.errors import UsageError

MARKER = ".nexuslims-demo"


def create_site(root: Path, *, now: dt.datetime | None = None, replace: bool = True):
    """Create the demo site in ``root`` and return its :class:`~nexuslims.config.Settings`.

    A previous demo site in ``root`` (recognised by its marker file) is replaced when
    ``replace``, else refused; any other non-empty directory is refused, so the demo never
    deletes someone's files.

    Raises
    ------
    UsageError
        ``root`` is a file, a folder of other files, or (without ``replace``) an earlier
        demo site.
    """
    from nexuslims import db
    from nexuslims.config import load_settings
    from nexuslims.demo.files import DEMO_INSTRUMENT, DEMO_USER, SESSION_LENGTH, generate_filestore
    from nexuslims.model.session import EventType, Instrument, Status

    root = root.resolve()
    if root.exists() and not root.is_dir():
        raise UsageError(f"{root} is a file: give the demo an empty or new directory")
    if root.exists() and any(root.iterdir()):
        if not (root / MARKER).is_file():
            raise UsageError(f"{root} exists and is not an earlier demo site: "
                             "give the demo an empty or new directory")
        if not replace:
            raise UsageError(f"{root} holds an earlier demo site (its records, history and "
                             "logs): add --force to replace it, or give another directory")
        shutil.rmtree(root)
    root.mkdir(parents=True, exist_ok=True)
    (root / MARKER).write_text("created by `nexuslims demo`; safe to delete\n")

    instrument = Instrument(**DEMO_INSTRUMENT)
    tz = instrument.tzinfo
    now = (now or dt.datetime.now(dt.UTC)).astimezone(tz)
    start = (now - dt.timedelta(hours=3)).replace(second=0, microsecond=0)
    end = start + SESSION_LENGTH

    settings = load_settings({
        "NX_INSTRUMENT_DATA_PATH": str(root / "instrument-data"),
        "NX_DATA_PATH": str(root / "data"),
        "NX_DB_PATH": str(root / "nexuslims.db"),
    }, frozenset({"db", "data"}))
    assert settings.instrument_data_path is not None and settings.db_url is not None
    generate_filestore(settings.instrument_data_path / instrument.filestore_path, start)

    db.init_db(settings.db_url)
    engine = db.make_engine(settings.db_url)
    db.add_instrument(engine, instrument)
    identifier = f"demo-session-{start:%Y%m%d-%H%M}"
    # Naive wall-clock times, as NexusLIMS' session loggers write them.
    for event, when in ((EventType.START, start), (EventType.END, end)):
        db.log_session_event(engine, identifier, instrument.pid, when.replace(tzinfo=None),
                             event, Status.TO_BE_BUILT, DEMO_USER)
    engine.dispose()
    # So that every other command can be pointed at the site: --env-file DIR/.env.
    (root / ".env").write_text(
        "# Settings of the demo site, for `nexuslims COMMAND --env-file <this file>`\n"
        + "".join(f"{name}={value}\n" for name, value in (
            ("NX_INSTRUMENT_DATA_PATH", settings.instrument_data_path),
            ("NX_DATA_PATH", settings.data_path), ("NX_DB_PATH", root / "nexuslims.db"))))
    return settings
