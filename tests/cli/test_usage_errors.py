"""Errors in what was typed exit with status 2, say what is wrong, and write nothing.

The README promises it for every command; one or more typed mistakes per command,
and a check that no command is left out of the list.
"""

from __future__ import annotations

import pytest

from nexuslims.cli import build_parser
from tests.cli.conftest import cli

TYPED_MISTAKES = [
    ("process", "--from", "yesterday"),
    ("process", "--from", "2024-02-01", "--to", "2024-01-01"),
    ("export", "--session", "nope"),
    ("db", "upgrade", "--to", "9999"),
    ("instruments", "add", "X", "--filestore-path", "X", "--timezone", "Mars/Olympus"),
    ("instruments", "edit", "titan", "--timezone", "Mars/Olympus"),
    ("instruments", "edit", "nope", "--name", "N"),
    ("instruments", "remove", "nope"),
    ("instruments", "add", "Y", "--filestore-path", "/absolute"),
    ("instruments", "add", "titan", "--filestore-path", "Other"),
    ("sessions", "show", "nope"),
    ("sessions", "list", "--status", "finished"),
    ("sessions", "end", "nope"),
    ("sessions", "reset", "nope"),
    ("sessions", "add", "nope", "--start", "2024-01-01T10:00", "--end", "2024-01-01T11:00"),
    ("sessions", "add", "titan", "--start", "2024-01-01T12:00", "--end", "2024-01-01T11:00"),
    ("validate", "no-such-record.xml"),
    ("extract", "no-such-file.dm3"),
    ("extract", "--timezone", "Mars/Olympus", ".env"),
    ("demo", ".env"),
    ("config", "show", "--yaml"),
    ("doctor", "--timeout", "soon"),
    ("support-bundle", "--output"),
    ("serve", "--port", "http"),
    ("tokens", "revoke", "999"),
    ("tokens", "create", "--instrument", "nope"),
]


@pytest.fixture
def site(cli_site, capsys):
    assert cli(capsys, "instruments", "add", "titan", "--filestore-path", "Titan")[0] == 0
    return cli_site


@pytest.mark.parametrize("args", TYPED_MISTAKES, ids=" ".join)
def test_a_typing_error_exits_2_with_a_message_and_writes_nothing(site, capsys, args):
    rows = site.db_rows()
    code, out, err = cli(capsys, *args)
    assert code == 2, (out, err)
    assert err.strip() and "Traceback" not in err
    assert site.db_rows() == rows


def test_every_command_has_a_typing_error_in_the_list():
    parser = build_parser()
    [sub] = [a for a in parser._actions if a.dest == "command"]
    assert sorted(sub.choices) == sorted({args[0] for args in TYPED_MISTAKES})
