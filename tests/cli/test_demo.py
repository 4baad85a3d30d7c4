"""``nexuslims demo``: a site other commands can be pointed at."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tests.test_cli import REPO, run


@pytest.mark.slow
def test_the_demo_leaves_a_site_other_commands_can_use(tmp_path) -> None:
    demo = run(["demo"], tmp_path)
    assert demo.returncode == 0, demo.stderr
    site = tmp_path / "nexuslims-demo"
    env_file = site / ".env"
    assert f"settings:  {env_file}" in demo.stdout
    assert f"nexuslims serve --env-file {env_file}" in demo.stdout
    assert "http://127.0.0.1:8080/" in demo.stdout
    (record,) = (site / "data/records").glob("*.xml")
    assert f"record: {record}" in demo.stdout

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    listed = run(["sessions", "list", "--env-file", str(env_file)], elsewhere)
    assert listed.returncode == 0, listed.stderr
    assert "COMPLETED" in listed.stdout and "demo-session-" in listed.stdout


def test_the_demo_site_is_ignored_by_git() -> None:
    git = shutil.which("git")
    if git is None or not (REPO / ".git").exists():
        pytest.skip("not a git checkout")
    ignored = subprocess.run([git, "check-ignore", "-q", "nexuslims-demo/"], cwd=REPO)
    assert ignored.returncode == 0
