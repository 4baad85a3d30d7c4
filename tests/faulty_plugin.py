"""A real extractor plug-in that misbehaves on request, installed through the
``nexuslims.extractors`` entry point into a throwaway site folder.

A ``.fault`` file says what its reader does: ``ok``; ``sleep SECONDS``; ``exit`` (the
worker calls ``os._exit``, every time); ``exit-once`` and ``kill-once`` (die on the first
attempt only, by ``os._exit`` or by SIGKILL to itself); ``hog MB`` (touch MB of memory);
``pid FILE SECONDS`` (write the worker's pid to FILE, then sleep, on the first attempt);
``handshake FILE GO`` (write the worker's pid to FILE, then wait until GO exists);
``wait FILE`` (create ``FILE.waiting``, then return once FILE exists: the pass is held
at a known point, in extraction, until the test lets it go); ``preview-none`` and
``preview-half`` (its preview renderer writes nothing, or half a PNG and then fails).
"""

from __future__ import annotations

import contextlib
import importlib
import sys
from collections.abc import Iterator
from pathlib import Path

PLUGIN_MODULE = '''
import os, signal, time
from pathlib import Path
from nexuslims.extractors.base import ExtractedDataset


class FaultyExtractor:
    name = "faulty"
    format_name = "Faulty"
    extensions = frozenset({"fault"})
    priority = 10

    def sniff(self, path):
        return True

    def extract(self, path, context):
        words = Path(path).read_text().split()
        command = words[0]
        first = not Path(str(path) + ".tried").exists()
        Path(str(path) + ".tried").touch()
        if command == "sleep":
            time.sleep(float(words[1]))
        elif command == "exit" or (command == "exit-once" and first):
            os._exit(3)
        elif command == "kill-once" and first:
            os.kill(os.getpid(), signal.SIGKILL)
        elif command == "hog":
            held = [bytearray(b"x") * (32 * 2**20) for _ in range(int(words[1]) // 32)]
            del held
        elif command == "wait":
            Path(words[1] + ".waiting").touch()
            while not Path(words[1]).exists():
                time.sleep(0.01)
        elif command == "pid" and first:
            Path(words[1]).write_text(str(os.getpid()))
            time.sleep(float(words[2]))
        elif command == "handshake":
            Path(words[1]).write_text(str(os.getpid()))
            for _ in range(6000):  # at most 10 min, should the test die first
                if Path(words[2]).exists():
                    break
                time.sleep(0.1)
        meta = {"DatasetType": "Misc", "Data Type": "Misc", "Faulty": command,
                "Worker": os.getpid()}
        render = None
        if command == "preview-none":
            def render(out):
                pass
        elif command == "preview-half":
            def render(out):
                Path(out).write_bytes(b"\\x89PNG\\r\\n\\x1a\\n")
                raise OSError("No space left on device")
        return [ExtractedDataset(Path(path).name, "Misc", meta, "faulty", render_preview=render)]
'''


def make_plugin_site(site: Path) -> Path:
    """Write the plug-in and its distribution metadata under ``site``; return ``site``."""
    site.mkdir(parents=True, exist_ok=True)
    (site / "faulty_nexuslims_plugin.py").write_text(PLUGIN_MODULE)
    dist = site / "faulty_nexuslims_plugin-1.0.dist-info"
    dist.mkdir(exist_ok=True)
    (dist / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: faulty-nexuslims-plugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        "[nexuslims.extractors]\nfaulty = faulty_nexuslims_plugin:FaultyExtractor\n")
    return site


def install_for_this_process(site: Path, monkeypatch) -> None:
    """Put ``site`` on sys.path (workers inherit it) and forget loaded plug-ins."""
    from nexuslims.extractors import registry

    monkeypatch.syspath_prepend(str(site))
    importlib.invalidate_caches()
    registry.reload()
    sys.modules.pop("faulty_nexuslims_plugin", None)


@contextlib.contextmanager
def plugin_loaded(site: Path, monkeypatch) -> Iterator[Path]:
    """The plug-in under ``site`` loaded in this process for the duration; forgotten after."""
    install_for_this_process(site, monkeypatch)
    try:
        yield site
    finally:
        from nexuslims.extractors import registry

        registry.reload()
