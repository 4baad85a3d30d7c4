"""The built wheel: this project's own distribution name, its command and its links.

The name ``nexuslims`` on the package index belongs to the NexusLIMS 2.x fork; a wheel
called that would be replaced by (or replace) another project on ``pip install``.
"""

from __future__ import annotations

import email.parser
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DISTRIBUTION = "nexuslims-builder"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    # The build backend comes from the test extras: no index is needed to build.
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "--quiet", "--wheel-dir", str(out), str(REPO)],
                   check=True, capture_output=True, text=True, timeout=600)
    [built] = out.glob("*.whl")
    return built


def _member(wheel: Path, suffix: str) -> str:
    with zipfile.ZipFile(wheel) as zf:
        [name] = [n for n in zf.namelist() if n.endswith(suffix)]
        return zf.read(name).decode()


def test_the_wheel_has_a_name_free_on_the_index_and_not_the_2x_forks(wheel):
    metadata = email.parser.Parser().parsestr(_member(wheel, ".dist-info/METADATA"))
    assert metadata["Name"] == DISTRIBUTION
    assert wheel.name.startswith("nexuslims_builder-")
    # The import package keeps its name.
    with zipfile.ZipFile(wheel) as zf:
        assert "nexuslims/cli/__init__.py" in zf.namelist()
    urls = dict(u.split(", ", 1) for u in metadata.get_all("Project-URL") or [])
    assert {"Homepage", "Source", "Issues"} <= urls.keys()


def test_the_wheel_installs_the_nexuslims_command(wheel):
    entry_points = _member(wheel, ".dist-info/entry_points.txt")
    scripts = entry_points.split("[console_scripts]", 1)[1].split("[", 1)[0]
    assert [line.strip() for line in scripts.strip().splitlines()] == \
        ["nexuslims = nexuslims.cli:main"]


def test_every_install_line_in_the_docs_installs_this_project():
    """``pip install nexuslims`` (or ``nexuslims[extra]``) would fetch the 2.x fork; the
    messages of the package that say what to install count too."""
    wrong = []
    for doc in [REPO / "README.md", REPO / ".env.example", *sorted((REPO / "docs").glob("*.md")),
                *sorted((REPO / "nexuslims").rglob("*.py"))]:
        for n, line in enumerate(doc.read_text(encoding="utf-8").splitlines(), 1):
            for part in line.split("pip install")[1:]:
                words = part.replace("'", " ").replace('"', " ").replace("`", " ").split()
                targets = [w for w in words if not w.startswith("-")][:1]
                if targets and targets[0].split("[")[0] == "nexuslims":
                    wrong.append(f"{doc.relative_to(REPO)}:{n}: {line.strip()}")
    assert wrong == []
