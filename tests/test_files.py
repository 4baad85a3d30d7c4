"""Find stage: which files fall in a session window, with GNU find and the Python walk."""

from __future__ import annotations

import datetime as dt
import logging
import os
import random
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from nexuslims import find as files_mod
from nexuslims.find import (
    FindFailed,
    FindResult,
    FoundFile,
    find_files,
    find_files_by_window,
)
from tests.privileges import run_as_nobody

UTC = dt.UTC
START = dt.datetime(2024, 3, 5, 14, 0, 0, 250_000, tzinfo=UTC)
END = dt.datetime(2024, 3, 5, 16, 30, 0, 500_000, tzinfo=UTC)
NS = 1_000_000_000


def epoch_ns(when: dt.datetime) -> int:
    delta = when - dt.datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * NS + delta.microseconds * 1000


START_NS, END_NS = epoch_ns(START), epoch_ns(END)
MID_NS = (START_NS + END_NS) // 2 + 123_456_789
HAVE_FIND = shutil.which(files_mod.FIND_EXECUTABLE) is not None
needs_find = pytest.mark.skipif(not HAVE_FIND, reason="GNU find is not installed")
BOTH = pytest.mark.parametrize("method", ["gnu-find", "python"])


def put(root: Path, rel: str, mtime_ns: int = MID_NS, data: bytes = b"x") -> Path:
    """A file at ``root/rel`` with the given mtime (nanoseconds)."""
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    os.utime(path, ns=(mtime_ns, mtime_ns))
    return path


@dataclass
class Store:
    """A small file store, how to search it, and the relative paths that must be found."""

    root: Path
    expected: set[str]
    kwargs: dict = field(default_factory=dict)


def rel_paths(result: FindResult, root: Path) -> set[str]:
    return {str(f.path.relative_to(root)) for f in result.files}


def as_tuples(result: FindResult) -> list[tuple[str, int, int]]:
    return [(str(f.path), f.mtime_ns, f.size) for f in result.files]  # type: ignore[misc]


# --- the stores ----------------------------------------------------------------------


def boundaries_store(base: Path) -> Store:
    root = base / "boundaries"
    put(root, "at_start", START_NS)
    put(root, "just_after_start", START_NS + 1)
    put(root, "just_before_start", START_NS - 1)
    put(root, "middle", MID_NS)
    put(root, "just_before_end", END_NS - 1)
    put(root, "at_end", END_NS)
    put(root, "just_after_end", END_NS + 1)
    put(root, "a day before", START_NS - 86_400 * NS)
    put(root, "a day after", END_NS + 86_400 * NS)
    expected = {"just_after_start", "middle", "just_before_end", "at_end"}
    return Store(root, expected)


def extensions_store(base: Path) -> Store:
    root = base / "extensions"
    for name in [
        "a.dm3",
        "b.DM3",
        "c.Dm3",
        "d.tif",
        "e.TIFF",
        "f.ser",
        "g.txt",
        "noext",
        ".dm3",
        "h.dm3.bak",
        "i.xdm3",
        "sub dir/j.dm3",
        "k.tif",
    ]:
        put(root, name)
    put(root, "old.dm3", START_NS - NS)
    expected = {"a.dm3", "b.DM3", "c.Dm3", ".dm3", "sub dir/j.dm3", "d.tif", "k.tif"}
    return Store(root, expected, {"extensions": frozenset({"dm3", ".TIF"})})


def ignore_store(base: Path) -> Store:
    root = base / "ignore"
    for name in [
        "a.mib",
        "B.MIB",
        "c.db",
        "d.emi",
        "e.ser",
        "f.emi.txt",
        "x.mib/g.dm3",
        "Thumbs.db",
        "h.EMI",
    ]:
        put(root, name)
    expected = {"e.ser", "f.emi.txt", "x.mib/g.dm3"}
    return Store(root, expected, {"ignore_patterns": ("*.mib", "*.db", "*.emi")})


def glob_rules_store(base: Path) -> Store:
    """Patterns where Python's fnmatch and glibc's differ; find is the reference."""
    root = base / "glob rules"
    for name in [
        "xa.tmp",
        "ya.tmp",
        "a*b",
        "acb",
        "]x",
        "zz",
        "a1.dat",
        "d1.dat",
        "-x.dat",
        "[lit",
        "q?",
        "qq",
        "back\\slash",
    ]:
        put(root, name)
    patterns = ("[^x]*.tmp", "a\\*b", "[]]*", "[a-c]?.dat", "[lit", "q\\?", "back\\\\slash")
    expected = {"xa.tmp", "acb", "zz", "d1.dat", "-x.dat", "qq"}
    return Store(root, expected, {"ignore_patterns": patterns})


ODD_NAMES = [
    "with space.dm3",
    "amp&ersand.dm3",
    "less<than>.dm3",
    "quote'single.dm3",
    'quote"double.dm3',
    "new\nline.dm3",
    "tab\there.dm3",
    "café.dm3",
    "日本語.DM3",
    "-leading-dash.dm3",
    "star*.dm3",
    "[brackets].dm3",
    "back\\slash.dm3",
    "$(dollar).dm3",
    "dir with space/nested & odd <dir>/deep.dm3",
    "Ünïcödé dir/ÉMI.dm3",
]


def odd_names_store(base: Path) -> Store:
    root = base / "odd names"
    for name in ODD_NAMES:
        put(root, name)
    return Store(root, set(ODD_NAMES), {"extensions": frozenset({"dm3"})})


def nested_store(base: Path) -> Store:
    root = base / "nested"
    deep = "/".join(f"level{i}" for i in range(12))
    put(root, f"{deep}/deep.dm3")
    put(root, "a/b/c.dm3")
    put(root, "a/b/old.dm3", START_NS - 10 * NS)
    (root / "empty/dirs/only").mkdir(parents=True)
    return Store(root, {f"{deep}/deep.dm3", "a/b/c.dm3"})


def symlinks_store(base: Path) -> Store:
    """Links inside the folder: not followed, their targets are listed under their own
    paths; broken links are skipped."""
    root = base / "symlinks"
    put(root, "real/a.dm3")
    target = put(root, "target.dm3", MID_NS, b"12345")
    (root / "linked").symlink_to("real", target_is_directory=True)
    (root / "file link.dm3").symlink_to(target)
    (root / "broken.dm3").symlink_to(root / "nowhere.dm3")
    (root / "broken dir").symlink_to(root / "no such dir", target_is_directory=True)
    return Store(root, {"real/a.dm3", "target.dm3"})


def escapes_store(base: Path) -> Store:
    """Links that leave the instrument's folder: none is followed (the issue-19 attack)."""
    root = base / "Titan"
    put(root, "own.dm3")
    secret = put(base / "etc" / "nexuslims", ".env", MID_NS, b"NX_CDCS_TOKEN=secret\n")
    put(base / "OtherInstrument", "theirs/b.dm3")
    put(base / "Titan-archive", "c.dm3")  # shares the folder's name as a prefix
    (root / "envfile.txt").symlink_to(secret)
    (root / "etc").symlink_to(secret.parent, target_is_directory=True)
    (root / "all").symlink_to("/", target_is_directory=True)
    (root / "other").symlink_to("../OtherInstrument", target_is_directory=True)
    (root / "archive").symlink_to(base / "Titan-archive", target_is_directory=True)
    (root / "sub").mkdir()
    (root / "sub" / "up").symlink_to("../../OtherInstrument/theirs/b.dm3")
    return Store(root, {"own.dm3"})


def loops_store(base: Path) -> Store:
    """Links back into the folder are not followed, so no loop is walked; a link loop
    (a link to itself through another) is reported."""
    root = base / "loops"
    put(root, "d/x.dm3")
    (root / "d" / "back up").symlink_to("..", target_is_directory=True)
    (root / "d" / "self").symlink_to(".", target_is_directory=True)
    (root / "ping").symlink_to("pong")
    (root / "pong").symlink_to("ping")
    (root / "d2").symlink_to("d", target_is_directory=True)
    return Store(root, {"d/x.dm3"})


def allowed_roots_store(base: Path) -> Store:
    """Links into a volume the site allows (NX_INSTRUMENT_DATA_ROOTS) are followed,
    listed under the link's path; inside that volume the same rules hold."""
    root = base / "allowed"
    volume = base / "volume"
    put(root, "own.dm3")
    put(volume, "run1/a.dm3")
    put(volume, "run1/deep/b.dm3")
    big = put(volume, "single.dm3", MID_NS, b"12345")
    put(base / "elsewhere", "c.dm3")
    (root / "runs").symlink_to(volume / "run1", target_is_directory=True)
    (root / "single link.dm3").symlink_to(big)
    (volume / "run1" / "back").symlink_to(root, target_is_directory=True)
    (volume / "run1" / "away").symlink_to(base / "elsewhere", target_is_directory=True)
    return Store(root, {"own.dm3", "runs/a.dm3", "runs/deep/b.dm3", "single link.dm3"},
                 {"allowed_roots": (volume,)})


STORES: dict[str, Callable[[Path], Store]] = {
    "boundaries": boundaries_store,
    "extensions": extensions_store,
    "ignore": ignore_store,
    "glob_rules": glob_rules_store,
    "odd_names": odd_names_store,
    "nested": nested_store,
    "symlinks": symlinks_store,
    "escapes": escapes_store,
    "loops": loops_store,
    "allowed_roots": allowed_roots_store,
}


@pytest.fixture(params=sorted(STORES))
def store(request, tmp_path) -> Store:
    return STORES[request.param](tmp_path)


# --- behaviour of each method --------------------------------------------------------


@needs_find
@BOTH
def test_each_store_gives_the_expected_files(store, method):
    result = find_files(store.root, START, END, method=method, **store.kwargs)
    assert result.method == method
    assert rel_paths(result, store.root) == store.expected


@needs_find
def test_gnu_find_and_python_walk_agree_on_every_store(store):
    by_find = find_files(store.root, START, END, method="gnu-find", **store.kwargs)
    by_python = find_files(store.root, START, END, method="python", **store.kwargs)
    assert as_tuples(by_find) == as_tuples(by_python)
    assert len(by_find.warnings) == len(by_python.warnings)
    assert by_find.outside == by_python.outside


@BOTH
def test_window_is_open_at_start_and_closed_at_end(tmp_path, method):
    if method == "gnu-find" and not HAVE_FIND:
        pytest.skip("GNU find is not installed")
    s = boundaries_store(tmp_path)
    names = rel_paths(find_files(s.root, START, END, method=method), s.root)
    assert "at_start" not in names and "just_after_start" in names
    assert "at_end" in names and "just_after_end" not in names


@needs_find
@BOTH
def test_symlinked_file_reports_the_targets_mtime_and_size(tmp_path, method):
    s = allowed_roots_store(tmp_path)
    result = find_files(s.root, START, END, method=method, **s.kwargs)
    link = next(f for f in result.files if f.path.name == "single link.dm3")
    assert link.path == s.root / "single link.dm3"
    assert (link.mtime_ns, link.size) == (MID_NS, 5)


@needs_find
@BOTH
def test_links_out_of_the_folder_are_skipped_and_named(tmp_path, method, caplog):
    s = escapes_store(tmp_path)
    with caplog.at_level(logging.WARNING, logger="nexuslims.find"):
        result = find_files(s.root, START, END, method=method)
    assert rel_paths(result, s.root) == {"own.dm3"}
    assert {str(p.relative_to(s.root)) for p in result.outside} == \
        {"envfile.txt", "etc", "all", "other", "archive", "sub/up"}
    named = [r.getMessage() for r in caplog.records if "outside" in r.getMessage()]
    assert len(named) == 1 and "envfile.txt" in named[0] and "6 symlink(s)" in named[0]
    assert result.complete


@needs_find
@BOTH
def test_a_link_to_the_root_of_the_file_system_is_not_walked(tmp_path, method):
    root = tmp_path / "Titan"
    put(root, "own.dm3")
    (root / "all").symlink_to("/", target_is_directory=True)
    result = find_files(root, START, END, method=method,
                        limits=files_mod.WalkLimits(entries=100))
    assert result.stopped is None and result.complete
    assert rel_paths(result, root) == {"own.dm3"}
    assert result.outside == [root / "all"]


@needs_find
@BOTH
def test_a_link_out_is_skipped_even_when_the_folder_is_reached_through_a_link(tmp_path,
                                                                            method):
    put(tmp_path / "share" / "Titan", "own.dm3")
    put(tmp_path / "secret", "key.dm3")
    (tmp_path / "share" / "Titan" / "key.dm3").symlink_to(tmp_path / "secret" / "key.dm3")
    (tmp_path / "mnt").symlink_to(tmp_path / "share", target_is_directory=True)
    root = tmp_path / "mnt" / "Titan"
    result = find_files(root, START, END, method=method)
    assert rel_paths(result, root) == {"own.dm3"}
    assert result.outside == [root / "key.dm3"]


@needs_find
@BOTH
def test_a_link_loop_is_reported(tmp_path, method):
    s = loops_store(tmp_path)
    result = find_files(s.root, START, END, method=method)
    assert any("ping" in w and "symbolic links" in w for w in result.warnings)
    assert rel_paths(result, s.root) == {"d/x.dm3"}


@needs_find
@BOTH
def test_a_walk_past_its_entry_ceiling_stops_and_gives_no_files(tmp_path, method):
    for i in range(30):
        put(tmp_path / "store", f"d{i % 3}/f{i}.dm3")
    result = find_files(tmp_path / "store", START, END, method=method,
                        limits=files_mod.WalkLimits(entries=20))
    assert result.files == [] and not result.complete
    assert result.stopped is not None and "NX_FIND_MAX_ENTRIES" in result.stopped
    whole = find_files(tmp_path / "store", START, END, method=method,
                       limits=files_mod.WalkLimits(entries=40))
    assert len(whole.files) == 30 and whole.stopped is None


@needs_find
def test_a_walk_past_its_time_limit_stops_and_gives_no_files(tmp_path):
    """find that never answers (a hung mount) is stopped at the limit."""
    script = tmp_path / "hung-find"
    script.write_text("#!/bin/sh\nexec sleep 600\n")
    script.chmod(0o755)
    put(tmp_path / "store", "a.dm3")
    result = find_files(tmp_path / "store", START, END, method="gnu-find",
                        find_executable=str(script),
                        limits=files_mod.WalkLimits(seconds=0.5))
    assert result.files == [] and not result.complete
    assert result.stopped is not None and "NX_FIND_TIMEOUT" in result.stopped


@needs_find
@BOTH
def test_an_empty_folder_is_told_apart_from_one_without_files_in_the_window(tmp_path,
                                                                          method):
    (tmp_path / "empty").mkdir()
    put(tmp_path / "old", "a.dm3", START_NS - 10 * NS)
    assert find_files(tmp_path / "empty", START, END, method=method).empty
    assert not find_files(tmp_path / "old", START, END, method=method).empty


@needs_find
@BOTH
def test_results_are_sorted_by_mtime_then_path(tmp_path, method):
    for name in ["b", "a", "c"]:
        put(tmp_path, name, MID_NS)
    put(tmp_path, "z-early", START_NS + 5)
    result = find_files(tmp_path, START, END, method=method)
    assert [f.path.name for f in result.files] == ["z-early", "a", "b", "c"]
    assert result.files[0].mtime == pytest.approx((START_NS + 5) / NS)


@needs_find
@BOTH
def test_window_in_new_york_time_finds_the_same_files_as_in_utc(tmp_path, method):
    s = boundaries_store(tmp_path)
    ny = ZoneInfo("America/New_York")
    in_utc = find_files(s.root, START, END, method=method)
    in_ny = find_files(s.root, START.astimezone(ny), END.astimezone(ny), method=method)
    assert START.astimezone(ny).hour != START.hour
    assert as_tuples(in_ny) == as_tuples(in_utc)


def test_naive_window_is_refused(tmp_path):
    with pytest.raises(ValueError, match="timezone-aware"):
        find_files(tmp_path, START.replace(tzinfo=None), END)


def test_unknown_method_is_refused(tmp_path):
    with pytest.raises(ValueError, match="method"):
        find_files(tmp_path, START, END, method="locate")


@pytest.mark.parametrize("method", ["auto", "gnu-find", "python"])
def test_missing_root_gives_no_files_and_a_warning_naming_it(tmp_path, method):
    root = tmp_path / "not mounted" / "Titan"
    result = find_files(root, START, END, method=method)
    assert result.files == [] and result.method == "none"
    assert len(result.warnings) == 1
    assert str(root) in result.warnings[0] and "does not exist" in result.warnings[0]


def test_root_that_is_a_file_gives_a_warning(tmp_path):
    root = put(tmp_path, "not-a-dir")
    result = find_files(root, START, END)
    assert result.files == [] and "not a directory" in result.warnings[0]


def test_empty_extension_set_finds_nothing(tmp_path):
    put(tmp_path, "a.dm3")
    assert find_files(tmp_path, START, END, extensions=frozenset()).files == []


def test_found_file_derives_mtime_ns_when_not_given():
    assert FoundFile(Path("x"), 1.5, 3).mtime_ns == 1_500_000_000


# --- falling back to Python ----------------------------------------------------------


def test_missing_find_falls_back_to_python_quietly(tmp_path, monkeypatch):
    s = extensions_store(tmp_path)
    monkeypatch.setattr(files_mod, "FIND_EXECUTABLE", str(tmp_path / "no-such-find"))
    result = find_files(s.root, START, END, **s.kwargs)
    assert result.method == "python" and result.warnings == []
    assert rel_paths(result, s.root) == s.expected


def test_forcing_gnu_find_when_it_is_missing_raises(tmp_path):
    with pytest.raises(FindFailed, match="no-such-find"):
        find_files(
            tmp_path, START, END, method="gnu-find", find_executable=str(tmp_path / "no-such-find")
        )


def fake_find(tmp_path: Path, script: str) -> str:
    exe = tmp_path / "fake-find"
    exe.write_text("#!/bin/sh\n" + script + "\n")
    exe.chmod(0o755)
    return str(exe)


@pytest.mark.parametrize(
    "script",
    [
        "echo 'find: unknown predicate -printf' >&2; exit 1",
        "exit 3",
        "printf 'not a record'",
        "printf 'soon 12 /x\\0'",
    ],
    ids=["unknown-predicate", "silent-failure", "no-nul", "bad-mtime"],
)
def test_failing_find_falls_back_with_a_warning(tmp_path, script):
    s = boundaries_store(tmp_path)
    result = find_files(s.root, START, END, find_executable=fake_find(tmp_path, script))
    assert result.method == "python"
    assert rel_paths(result, s.root) == s.expected
    assert len(result.warnings) == 1 and "GNU find failed" in result.warnings[0]


def test_permission_warnings_from_find_do_not_cause_fallback(tmp_path):
    script = "echo \"find: '/x': Permission denied\" >&2; printf '\\0F1.5 3 /x/a\\0'; exit 1"
    result = find_files(tmp_path, START, END, find_executable=fake_find(tmp_path, script))
    assert result.method == "gnu-find"
    assert result.files == [FoundFile(Path("/x/a"), 1.5, 3, 1_500_000_000)]
    assert result.warnings == ["find: '/x': Permission denied"]


@needs_find
def test_method_and_command_are_logged_at_debug(tmp_path, caplog):
    with caplog.at_level(logging.DEBUG, logger="nexuslims.find"):
        find_files(tmp_path, START, END, extensions=frozenset({"dm3"}))
        find_files(tmp_path, START, END, method="python")
    text = caplog.text
    assert "GNU find" in text and "-newermt" in text and "'*.dm3'" in text
    assert "Python walk" in text


# --- a randomized store --------------------------------------------------------------

ALPHABET = "abcXYZ _-&<>'\"é日\n.[]*?\\"


def random_store(root: Path, seed: int, count: int = 300) -> None:
    rng = random.Random(seed)
    dirs = [root]
    for i in range(25):
        name = "".join(rng.choice(ALPHABET.replace("\n", "")) for _ in range(rng.randint(1, 8)))
        parent = rng.choice(dirs)
        new = parent / f"{name.replace('/', '_')}{i}"
        new.mkdir(parents=True, exist_ok=True)
        dirs.append(new)
    special = [START_NS, START_NS + 1, END_NS, END_NS + 1, START_NS - 1, END_NS - 1]
    for i in range(count):
        stem = "".join(rng.choice(ALPHABET) for _ in range(rng.randint(1, 10)))
        ext = rng.choice(["dm3", "DM3", "tif", "ser", "emi", "EMI", "mib", "db", "txt", ""])
        name = f"{stem}{i}.{ext}" if ext else f"{stem}{i}"
        if rng.random() < 0.1:
            mtime = rng.choice(special)
        else:
            mtime = START_NS + rng.randint(-3 * 3600 * NS, 6 * 3600 * NS)
        put(rng.choice(dirs), name, mtime, b"x" * rng.randint(0, 50))
    for i in range(5):
        link = rng.choice(dirs) / f"link{i}"
        link.symlink_to(rng.choice(dirs[1:]), target_is_directory=True)


@needs_find
@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"extensions": frozenset({"dm3", "tif", "ser"})},
        {"ignore_patterns": ("*.mib", "*.db", "*.emi", "[a-c]*")},
    ],
    ids=["all", "extensions", "ignore"],
)
def test_gnu_find_and_python_walk_agree_on_a_random_store(tmp_path, seed, kwargs):
    random_store(tmp_path / "store", seed)
    by_find = find_files(tmp_path / "store", START, END, method="gnu-find", **kwargs)
    by_python = find_files(tmp_path / "store", START, END, method="python", **kwargs)
    assert by_find.files, "the random store should put some files in the window"
    assert as_tuples(by_find) == as_tuples(by_python)


# --- unreadable directories (needs a user that permissions apply to) ----------------

def unreadable_store() -> tuple[Path, Path]:
    base = Path(tempfile.mkdtemp(prefix="nexuslims-files-", dir="/tmp"))
    base.chmod(0o755)
    root = base / "store"
    put(root, "open/a.dm3")
    put(root, "locked/inner/b.dm3")
    (root / "locked").chmod(0o700)
    for path in [root, root / "open"]:
        path.chmod(0o755)
    (root / "open" / "a.dm3").chmod(0o644)
    return base, root


@needs_find
@pytest.mark.parametrize("method", ["gnu-find", "python", "auto"])
def test_unreadable_directory_gives_a_warning_not_a_crash(method):
    base, root = unreadable_store()

    def search() -> dict:
        result = find_files(root, START, END, method=method)
        return {
            "method": result.method,
            "files": [str(f.path) for f in result.files],
            "warnings": result.warnings,
            "complete": result.complete,
        }

    try:
        outcome = run_as_nobody(search)
    finally:
        (root / "locked").chmod(0o755)
        shutil.rmtree(base)
    assert isinstance(outcome, dict)
    assert outcome["method"] == ("python" if method == "python" else "gnu-find")
    assert outcome["files"] == [str(root / "open" / "a.dm3")]
    assert len(outcome["warnings"]) == 1
    assert str(root / "locked") in outcome["warnings"][0]
    assert "Permission denied" in outcome["warnings"][0]
    assert outcome["complete"] is False  # files may hide there: no "no files" verdict


@needs_find
@pytest.mark.parametrize("method", ["gnu-find", "python"])
def test_an_unreadable_root_is_an_incomplete_walk(method):
    base, root = unreadable_store()
    locked = root / "locked"

    def search() -> list:
        result = find_files(locked, START - dt.timedelta(days=9), END, method=method)
        return [len(result.files), result.complete, result.warnings]

    try:
        count, complete, warnings = run_as_nobody(search)  # type: ignore[misc]
    finally:
        locked.chmod(0o755)
        shutil.rmtree(base)
    assert count == 0 and complete is False
    assert "Permission denied" in warnings[0]


@pytest.mark.parametrize("method", ["auto", "python"])
def test_a_missing_root_is_an_incomplete_walk(tmp_path, method):
    result = find_files(tmp_path / "not-mounted", START, END, method=method)
    assert result.files == [] and result.complete is False
    (tmp_path / "empty").mkdir()
    empty = find_files(tmp_path / "empty", START, END, method=method)
    assert empty.files == [] and empty.complete is True


@needs_find
@pytest.mark.parametrize("method", ["gnu-find", "python"])
@pytest.mark.parametrize("seed", [4, 5])
def test_one_walk_by_window_equals_one_walk_per_window(tmp_path, method, seed):
    random_store(tmp_path / "store", seed)
    hour = dt.timedelta(hours=1)
    windows = {
        "early": (START - 3 * hour, START - 2 * hour),
        "overlaps-early": (START - 2.5 * hour, START + 0.5 * hour),
        "session": (START, END),
        "inside": (START + hour, START + 1.5 * hour),
        "touching": (END, END + hour),
        "disjoint-later": (END + 3 * hour, END + 5 * hour),
        "empty": (END + 30 * hour, END + 31 * hour),
    }
    kwargs = {"extensions": frozenset({"dm3", "tif", "ser"}), "ignore_patterns": ("[a-c]*",)}
    together = find_files_by_window(tmp_path / "store", windows, margin=hour, method=method,
                                    **kwargs)
    assert set(together) == set(windows)
    for key, (start, end) in windows.items():
        alone = find_files(tmp_path / "store", start, end, method=method, **kwargs)
        assert as_tuples(together[key]) == as_tuples(alone), key
        assert together[key].complete and together[key].method == method
        before = find_files(tmp_path / "store", start - hour, start, method=method, **kwargs)
        after = find_files(tmp_path / "store", end, end + hour, method=method, **kwargs)
        assert sorted(f.path for f in together[key].nearby) == \
            sorted(f.path for f in before.files + after.files), key
    assert sum(len(r.files) for r in together.values()) > 20
