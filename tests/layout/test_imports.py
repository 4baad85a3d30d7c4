"""The package's shape as a contract: layers that import only downward, and no import circles."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import grimp
import pytest

REPO = Path(__file__).resolve().parents[2]


def import_circles(package: str) -> list[list[str]]:
    """Every group of modules that import each other, directly or not (Tarjan's SCCs).

    Imports inside functions and under ``TYPE_CHECKING`` count: hiding an import there
    does not move a piece to the right room.
    """
    graph = grimp.build_graph(package, cache_dir=None)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []
    counter = 0
    for root in sorted(graph.modules):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    imported = sorted(graph.find_modules_directly_imported_by(child))
                    work.append((child, iter(imported)))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                members = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    members.append(member)
                    if member == node:
                        break
                if len(members) > 1:
                    circles.append(sorted(members))
    return circles


def test_the_package_has_no_import_circles() -> None:
    assert import_circles("nexuslims") == []


def test_the_circle_finder_sees_a_circle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pkg = tmp_path / "circled"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("def f():\n    from circled import b\n")
    (pkg / "b.py").write_text("from circled import c\n")
    (pkg / "c.py").write_text("import circled.a\n")
    (pkg / "d.py").write_text("import circled.a\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert import_circles("circled") == [["circled.a", "circled.b", "circled.c"]]


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    """``lint-imports`` with the contracts in ``root/pyproject.toml``, on ``root``'s package."""
    script = Path(sys.executable).with_name("lint-imports")
    return subprocess.run([str(script), "--config", str(root / "pyproject.toml"), "--no-cache"],
                          cwd=root, capture_output=True, text=True, timeout=300,
                          env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"})


def test_the_layer_contracts_hold() -> None:
    result = lint_imports(REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(("probe", "imports", "contract"), [
    ("model/_probe.py", "from nexuslims.builder import run\n", "layers"),
    ("record/_probe.py", "from nexuslims.extract import stage\n", "stages"),
    ("extractors/_probe.py", "import nexuslims.find\n", "layers"),
])
def test_an_upward_or_sideways_import_breaks_a_contract(tmp_path: Path, probe: str, imports: str,
                                                         contract: str) -> None:
    """A probe module added to a copy of the package breaks the contract it should."""
    shutil.copytree(REPO / "nexuslims", tmp_path / "nexuslims",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    (tmp_path / "nexuslims" / probe).write_text(f'"""A probe."""\n{imports}')
    result = lint_imports(tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "BROKEN" in result.stdout
    module = "nexuslims." + probe.removesuffix(".py").replace("/", ".")
    assert module in result.stdout
