"""The environment of a benchmark's ``nexuslims`` processes: the checkout, as installed.

``pip install`` compiles a package's modules to bytecode once; an editable install
writes the bytecode on first use, unless ``PYTHONDONTWRITEBYTECODE`` is set (as on some
build machines), when every module of the checkout is compiled from source again in
every process: a tenth of a second or more per process that no installed copy pays.
:func:`environment` puts the checkout first on the path and its bytecode, compiled
once by :func:`compile_package`, in a temporary cache outside the checkout.

That cache (``PYTHONPYCACHEPREFIX``) is where Python then looks for the bytecode of
every module, the standard library's and the installed packages' too: their own
``__pycache__`` folders, written by ``pip install``, are not read. So
:func:`compile_package` also imports, once, in a throw-away process, every module of
the package and the readers it may load, which writes theirs: without it the first
``nexuslims process`` of a benchmark compiled SQLAlchemy, NumPy, requests... from
source (about a second of the coordinator's CPU, and as much in the fork server).
"""

from __future__ import annotations

import atexit
import compileall
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
_CACHE: dict[Path, str] = {}


def compile_package(repo: Path = REPO) -> str:
    """Compile ``repo``'s ``nexuslims`` once into a temporary bytecode cache; its folder."""
    if repo not in _CACHE:
        cache = _CACHE[repo] = tempfile.mkdtemp(prefix="nexuslims-bench-pyc-")
        atexit.register(shutil.rmtree, cache, ignore_errors=True)
        previous = sys.pycache_prefix
        sys.pycache_prefix = cache  # where compileall writes, as PYTHONPYCACHEPREFIX reads
        try:
            compileall.compile_dir(repo / "nexuslims", quiet=1)
        finally:
            sys.pycache_prefix = previous
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env.update(PYTHONPATH=str(repo), PYTHONPYCACHEPREFIX=cache)
        subprocess.run([sys.executable, "-c", _IMPORT_ALL], env=env, cwd=cache,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return _CACHE[repo]


# Every module of the package (not ``__main__``, which would run a command, nor the fork
# server's own module), and every reader module the fork server may preload.
_IMPORT_ALL = """
import importlib, pkgutil
import nexuslims
names = [m.name for m in pkgutil.walk_packages(nexuslims.__path__, "nexuslims.",
                                                onerror=lambda name: None)
         if not m.name.endswith(("__main__", "._forkserver"))]
try:
    from nexuslims.extractors._imports import PLAIN_MODULES, READER_MODULES
    names += [m for mods in (*READER_MODULES.values(), *PLAIN_MODULES.values()) for m in mods]
except ImportError:
    pass
for name in names:
    try:
        importlib.import_module(name)
    except Exception:
        pass
"""


def environment(base: dict[str, str] | None = None, *, bytecode: bool = True,
                repo: Path = REPO) -> dict[str, str]:
    """``base`` (default: this process's environment) with the checkout on the path.

    With ``bytecode`` the package's compiled modules are used, as installed; without it
    every module is compiled from source in every process. ``repo`` is another checkout
    to run instead of this one (a benchmark's baseline).
    """
    env = dict(os.environ if base is None else base)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(repo), env.get("PYTHONPATH")]))
    if bytecode:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = compile_package(repo)
    else:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        env.pop("PYTHONPYCACHEPREFIX", None)
    return env
