"""``nexuslims instruments add/edit/remove``: filestore paths checked, sessions protected."""

from __future__ import annotations

import datetime as dt
import json

from nexuslims import db
from nexuslims.sessions import logbook
from tests.cli.conftest import cli


def listed(capsys) -> dict[str, dict]:
    code, out, _ = cli(capsys, "instruments", "list", "--json")
    assert code == 0
    return {i["pid"]: i for i in json.loads(out)}


def test_filestore_paths_outside_the_data_root_are_refused(cli_site, capsys) -> None:
    for path, message in [("/mnt/data/Titan", "must be relative"),
                          ("../elsewhere", "no '..'"), ("Titan/../../x", "no '..'")]:
        code, out, err = cli(capsys, "instruments", "add", "titan", "--filestore-path", path)
        assert code == 2 and message in err and out == "", (path, err)
        assert len(err.strip().splitlines()) == 1
    assert listed(capsys) == {}


def test_a_missing_folder_is_added_with_a_warning(cli_site, capsys) -> None:
    (cli_site.root / "instr/Titan").mkdir()
    code, out, err = cli(capsys, "instruments", "add", "titan", "--filestore-path", "Titan")
    assert (code, err) == (0, "") and "added instrument titan" in out
    code, out, err = cli(capsys, "instruments", "add", "helios", "--filestore-path", "Helios")
    assert code == 0 and "added instrument helios" in out
    assert f"warning: {cli_site.root / 'instr/Helios'} does not exist" in err
    assert "mounted" in err
    assert set(listed(capsys)) == {"titan", "helios"}


def test_edit_changes_only_what_is_given(cli_site, capsys) -> None:
    assert cli(capsys, "instruments", "add", "titan", "--filestore-path", "Titan",
               "--name", "FEI Titan", "--harvester", "nemo", "--timezone", "UTC")[0] == 0
    code, out, err = cli(capsys, "instruments", "edit", "titan", "--name", "Titan TEM",
                         "--harvester", "", "--timezone", "Europe/Berlin")
    assert code == 0 and "changed instrument titan" in out
    titan = listed(capsys)["titan"]
    assert (titan["schema_name"], titan["harvester"], titan["timezone"],
            titan["filestore_path"]) == ("Titan TEM", None, "Europe/Berlin", "Titan")
    for args, status, message in [
        (("edit", "ghost", "--name", "x"), 2, "no instrument 'ghost'"),
        (("edit", "titan"), 2, "nothing to change"),
        (("edit", "titan", "--filestore-path", "/abs"), 2, "must be relative"),
        (("edit", "titan", "--timezone", "Mars/Base"), 2, "not an IANA timezone"),
    ]:
        code, out, err = cli(capsys, "instruments", *args)
        assert code == status and message in err and "Traceback" not in err, (args, err)
    assert listed(capsys)["titan"] == titan


def test_remove_refuses_while_sessions_use_the_instrument(cli_site, capsys) -> None:
    for pid in ("titan", "spare"):
        assert cli(capsys, "instruments", "add", pid, "--filestore-path", pid,
                   "--timezone", "UTC")[0] == 0
    engine = db.make_engine(cli_site.settings_url())
    for n in range(2):
        logbook.add_session(engine, "titan", dt.datetime(2024, 3, 5 + n, 9),
                            dt.datetime(2024, 3, 5 + n, 10))
    code, out, err = cli(capsys, "instruments", "remove", "titan")
    assert code == 2 and "has 2 session(s)" in err and "--force" in err and out == ""
    assert set(listed(capsys)) == {"titan", "spare"}
    code, out, err = cli(capsys, "instruments", "remove", "ghost")
    assert code == 2 and "no instrument 'ghost'" in err
    code, out, err = cli(capsys, "instruments", "remove", "spare")
    assert (code, err) == (0, "") and out.strip() == "removed instrument spare"
    code, out, err = cli(capsys, "instruments", "remove", "titan", "--force")
    assert code == 0 and "and its 2 session(s)" in out
    assert listed(capsys) == {} and db.list_sessions(engine) == []
    engine.dispose()
