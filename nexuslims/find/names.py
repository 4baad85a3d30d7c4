"""Name patterns of the find stage: extensions and ignore patterns, for GNU find and
for Python alike (glibc ``fnmatch`` rules, case-insensitive)."""

from __future__ import annotations

import re
from collections.abc import Iterable


class NameFilter:
    """The extension and ignore filters, as find arguments and as a Python test.

    Both sides are built from the same glob strings, and the Python side translates
    them with glibc fnmatch rules (which differ from :mod:`fnmatch` on ``[^...]`` and
    backslashes), so the two methods agree on every name.
    """

    def __init__(self, extensions: frozenset[str] | None, ignore_patterns: Iterable[str]):
        self.keep: list[str] | None = None
        if extensions is not None:
            exts = sorted({e.lower().lstrip(".") for e in extensions})
            self.keep = ["*." + _glob_escape(e) for e in exts if e]
        self.ignore = list(ignore_patterns)
        flags = re.IGNORECASE | re.DOTALL  # names may hold newlines; * must match them
        self._keep = [re.compile(_glob_to_regex(p), flags) for p in self.keep or ()]
        self._ignore = [re.compile(_glob_to_regex(p), flags) for p in self.ignore]

    @property
    def matches_nothing(self) -> bool:
        return self.keep is not None and not self.keep

    def find_args(self) -> list[str]:
        args: list[str] = []
        if self.keep is not None:
            alternatives: list[str] = []
            for i, pattern in enumerate(self.keep):
                alternatives += (["-o"] if i else []) + ["-iname", pattern]
            args += ["(", *alternatives, ")"]
        for pattern in self.ignore:
            args += ["!", "-iname", pattern]
        return args

    def accepts(self, name: str) -> bool:
        if self.keep is not None and not any(r.fullmatch(name) for r in self._keep):
            return False
        return not any(r.fullmatch(name) for r in self._ignore)


def _glob_escape(text: str) -> str:
    return re.sub(r"([*?\[\\])", r"\\\1", text)


def _glob_to_regex(pattern: str) -> str:
    """A regex matching what glibc ``fnmatch(pattern, name, 0)`` matches."""
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        i += 1
        if c == "\\":
            out.append(re.escape(pattern[i] if i < n else "\\"))
            i += 1
        elif c == "*":
            out.append(".*")
        elif c == "?":
            out.append(".")
        elif c == "[":
            bracket, i = _bracket_to_regex(pattern, i)
            out.append(bracket)
        else:
            out.append(re.escape(c))
    return "".join(out)


def _bracket_to_regex(pattern: str, i: int) -> tuple[str, int]:
    """Translate ``[...]`` starting after its ``[``; an unclosed ``[`` is literal."""
    j, n = i, len(pattern)
    negate = j < n and pattern[j] in "!^"
    j += negate
    members: list[str] = []
    first = True
    while j < n and (pattern[j] != "]" or first):
        c = pattern[j]
        if c == "[" and pattern.startswith(":", j + 1):
            raise ValueError(f"character classes like [:alpha:] are not supported: {pattern!r}")
        if c == "\\" and j + 1 < n:
            j += 1
            c = pattern[j]
        if c == "-" and members and j + 1 < n and pattern[j + 1] != "]":
            members.append("-")
        else:
            members.append(re.escape(c))
        first = False
        j += 1
    if j >= n:
        return re.escape("["), i
    return "[" + ("^" if negate else "") + "".join(members) + "]", j + 1
