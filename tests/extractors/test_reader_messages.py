"""Reader libraries' log messages: collected per file and per thread, never printed by
the libraries' own handlers (the real-file case is in ``test_extract_stdout.py``)."""

from __future__ import annotations

import logging
import threading

from nexuslims.extractors._quiet import reader_messages


def test_each_thread_collects_its_own_files_messages_once_each():
    log = logging.getLogger("rsciio.emd._emd_velox")
    found: dict[int, list[str]] = {}

    def read(i: int) -> None:
        with reader_messages() as messages:
            for _ in range(20):
                log.warning("odd file %d", i)
            logging.getLogger("hyperspy.io").info("not a warning: not kept")
        found[i] = messages

    threads = [threading.Thread(target=read, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert found == {i: [f"RosettaSciIO: odd file {i}"] for i in range(6)}
    import rsciio  # noqa: F401 - imported: its own stdout handler was taken away

    # (pytest attaches its capture handler, a StreamHandler subclass, to every logger
    # that does not propagate: only RosettaSciIO's own plain StreamHandler matters.)
    assert not any(type(h) is logging.StreamHandler
                   for h in logging.getLogger("rsciio").handlers)


def test_outside_a_file_a_reader_message_goes_to_the_process_log():
    with reader_messages():
        pass
    seen: list[tuple[str, str]] = []

    class Keep(logging.Handler):  # what the process's own log handlers get
        def emit(self, record: logging.LogRecord) -> None:
            seen.append((record.name, record.getMessage()))

    root = logging.getLogger()
    keep = Keep(logging.WARNING)
    root.addHandler(keep)
    try:
        logging.getLogger("rsciio.tiff").warning("a stray notice")
    finally:
        root.removeHandler(keep)
    assert seen == [("nexuslims.readers", "RosettaSciIO: a stray notice")]
