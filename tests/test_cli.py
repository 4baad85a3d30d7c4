"""The command line as a user meets it: help with no configuration, messages, exit codes."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

SUBCOMMANDS = [[], ["process"], ["db"], ["db", "init"], ["db", "upgrade"], ["db", "current"],
               ["instruments"], ["instruments", "add"], ["instruments", "list"], ["sessions"],
               ["sessions", "list"], ["sessions", "show"], ["validate"], ["extract"], ["demo"],
               ["export"], ["sessions", "add"], ["sessions", "start"], ["sessions", "end"],
               ["sessions", "reset"], ["instruments", "edit"], ["instruments", "remove"],
               ["config"], ["config", "show"],
               ["doctor"], ["support-bundle"]]


def run(args: list[str], cwd: Path, env: dict[str, str] | None = None,
        module: bool = True) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith(("NX_", "nexusLIMS", "NexusLIMS", "mmfnexus"))}
    clean.update(env or {})
    cmd = [sys.executable, "-m", "nexuslims", *args] if module else ["nexuslims", *args]
    return subprocess.run(cmd, cwd=cwd, env=clean, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("command", SUBCOMMANDS, ids=lambda c: " ".join(c) or "top")
def test_every_help_works_with_no_configuration(command: list[str], tmp_path: Path) -> None:
    result = run([*command, "--help"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: nexuslims")
    assert result.stderr == ""


def test_console_script_is_the_same_command(tmp_path: Path) -> None:
    exe = shutil.which("nexuslims", path=str(Path(sys.executable).parent))
    if exe is None:
        pytest.skip("package not installed with its console script")
    result = subprocess.run([exe, "--version"], capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0 and result.stdout.startswith("nexuslims ")


def test_help_does_not_import_the_heavy_stack(tmp_path: Path) -> None:
    code = ("import sys; from nexuslims.cli import main\n"
            "try:\n    main(['process', '--help'])\nexcept SystemExit:\n    pass\n"
            "heavy = [m for m in ('hyperspy', 'sklearn', 'sqlalchemy', 'lxml')\n"
            "         if m in sys.modules]\n"
            "print('heavy=' + ','.join(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=tmp_path).stdout.strip().splitlines()[-1]
    assert out == "heavy="


def test_missing_configuration_names_each_setting_without_traceback(tmp_path: Path) -> None:
    result = run(["process"], tmp_path)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    for name in ("NX_INSTRUMENT_DATA_PATH", "NX_DATA_PATH", "NX_DB_PATH"):
        assert f"{name} is not set" in result.stderr


def test_wrong_env_file_values_are_reported(tmp_path: Path) -> None:
    env_file = tmp_path / "bad.env"
    env_file.write_text(f"NX_INSTRUMENT_DATA_PATH={tmp_path}/nope\nNX_DATA_PATH={tmp_path}/d\n"
                        f"NX_DB_PATH={tmp_path}/db.sqlite\nNX_FILE_STRATEGY=some\n")
    result = run(["process", "--env-file", str(env_file)], tmp_path)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "NX_INSTRUMENT_DATA_PATH" in result.stderr and "no such directory" in result.stderr
    assert "NX_FILE_STRATEGY=some" in result.stderr
    result = run(["process", "--env-file", str(tmp_path / "absent.env")], tmp_path)
    assert result.returncode == 1 and "absent.env: no such file" in result.stderr


def test_bad_date_is_a_usage_error(tmp_path: Path) -> None:
    result = run(["process", "--from", "last tuesday"], tmp_path)
    assert result.returncode == 2 and "is not a date" in result.stderr


def test_systemd_units_verify(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze not installed")
    service = (REPO / "systemd/nexuslims.service").read_text()
    assert "Type=oneshot" in service and "nexuslims process" in service
    timer = (REPO / "systemd/nexuslims.timer").read_text()
    assert "Persistent=true" in timer and "OnCalendar=" in timer
    # The unit names where a facility installs nexuslims; verify checks that it exists.
    fake = tmp_path / "bin/nexuslims"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    (tmp_path / "nexuslims.service").write_text(
        service.replace("/opt/nexuslims/venv/bin/nexuslims", str(fake)))
    (tmp_path / "nexuslims.timer").write_text(timer)
    result = subprocess.run([analyze, "verify", "nexuslims.service", "nexuslims.timer"],
                            cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_env_example_documents_every_setting() -> None:
    import re

    example = (REPO / ".env.example").read_text()
    names: set[str] = set()
    for module in (REPO / "nexuslims").rglob("*.py"):
        # Numbered settings (NX_NEMO_ADDRESS_<N>) appear as their prefix.
        names |= {n.rstrip("_") for n in re.findall(r'"(NX_[A-Z0-9_]+)', module.read_text())}
    assert names >= {"NX_INSTRUMENT_DATA_PATH", "NX_DATA_PATH", "NX_DB_PATH", "NX_DB_URL",
                     "NX_CDCS_URL", "NX_NEMO_ADDRESS", "NX_SHAREPOINT_USER"}
    assert sorted(n for n in names if n not in example) == []
    readme = (REPO / "README.md").read_text()
    core = [n for n in names if f'"{n}"' in (REPO / "nexuslims/config.py").read_text()]
    assert [n for n in core if f"`{n}`" not in readme] == []


def test_ci_runs_exactly_the_readme_test_command() -> None:
    readme = (REPO / "README.md").read_text()
    commands = [line.strip() for line in readme.splitlines()
                if "python3 -m venv" in line and "pytest" in line]
    assert len(commands) == 1
    ci = [line.strip() for line in (REPO / ".ci/run").read_text().splitlines()
          if line.strip() and not line.startswith(("#", "set ", "cd "))]
    assert ci == commands


def test_instruments_sessions_and_validate_through_the_command_line(tmp_path: Path) -> None:
    import json

    env = {"NX_DB_PATH": str(tmp_path / "db.sqlite")}
    assert run(["db", "init"], tmp_path, env).returncode == 0
    added = run(["instruments", "add", "FEI-Titan-1", "--filestore-path", "Titan",
                 "--name", "FEI Titan TEM", "--timezone", "America/New_York"], tmp_path, env)
    assert added.returncode == 0 and "added instrument FEI-Titan-1" in added.stdout
    again = run(["instruments", "add", "FEI-Titan-1", "--filestore-path", "x"], tmp_path, env)
    assert again.returncode == 2 and "already in" in again.stderr
    bad_tz = run(["instruments", "add", "X", "--filestore-path", "x", "--timezone", "Mars/Base"],
                 tmp_path, env)
    assert bad_tz.returncode == 2 and "not an IANA timezone" in bad_tz.stderr
    listed = json.loads(run(["instruments", "list", "--json"], tmp_path, env).stdout)
    assert [(i["pid"], i["schema_name"], i["timezone"]) for i in listed] == [
        ("FEI-Titan-1", "FEI Titan TEM", "America/New_York")]
    table = run(["instruments", "list"], tmp_path, env).stdout
    assert table.splitlines()[0].split() == ["PID", "NAME", "FILESTORE", "PATH", "HARVESTER",
                                             "TIMEZONE"]
    assert json.loads(run(["sessions", "list", "--json"], tmp_path, env).stdout) == []
    missing = run(["sessions", "show", "nope"], tmp_path, env)
    assert missing.returncode == 2 and "no session 'nope'" in missing.stderr

    good = tmp_path / "good.xml"
    good.write_text('<Experiment xmlns="https://data.nist.gov/od/dm/nexus/experiment/v1.0">'
                    "<title>t</title><summary/></Experiment>")
    bad = tmp_path / "bad.xml"
    bad.write_text('<Experiment xmlns="https://data.nist.gov/od/dm/nexus/experiment/v1.0">\n'
                   "<title>t</title>\n<summary/>\n<bogus/>\n</Experiment>")
    assert run(["validate", str(good)], tmp_path).returncode == 0
    result = run(["validate", str(good), str(bad)], tmp_path)
    assert result.returncode == 1
    assert f"{good}: valid" in result.stdout
    assert f"{bad}:4:" in result.stdout and "bogus" in result.stdout
