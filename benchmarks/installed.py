"""The environment of a benchmark's ``nexuslims`` processes: the checkout, as installed.

``pip install`` compiles a package's modules to bytecode once; an editable install
writes the bytecode on first use, unless ``PYTHONDONTWRITEBYTECODE`` is set (as on some
build machines), when every module of the checkout is compiled from source again in
every process: a tenth of a second or more per process that no installed copy pays.
:func:`environment` puts the checkout first on the path and its bytecode, compiled
once by :func:`compile_package`, in a temporary cache outside the checkout.
"""

from __future__ import annotations

import atexit
import compileall
import os
import shutil
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
    return _CACHE[repo]


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
