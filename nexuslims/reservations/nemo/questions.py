"""The answers users give in NEMO's reservation and usage questions.

NEMO stores answers as JSON, one entry per question name::

    {"experiment_title": {"type": "textbox", "user_input": "Grain boundaries"},
     "sample_group": {"type": "group", "user_input": {
         "0": {"sample_name": "A-17", "sample_or_pid": "PID", "sample_details": "...",
               "periodic_table": ["Fe", "O"]}}}}

Questions used: ``experiment_title``, ``experiment_purpose``, ``project_id``,
``data_consent`` and the group ``sample_group`` (``sample_name``, ``sample_or_pid``,
``sample_details``, ``periodic_table``). Others are ignored.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

from nexuslims.reservations import Sample

QUESTIONS = ("experiment_title", "experiment_purpose", "project_id", "data_consent",
             "sample_group")

_NO = {"disagree", "no", "false", "negative", "n", "0", "off", "decline", "declined",
       "refuse", "refused", "deny", "denied", "none"}
_YES = {"agree", "yes", "true", "positive", "y", "1", "on", "accept", "accepted", "consent",
        "i agree", "agreed"}


@dataclass
class Answers:
    """What one set of answers says (None: question not answered)."""

    title: str | None = None
    purpose: str | None = None
    project_id: str | None = None
    consent: str | None = None
    """The raw ``data_consent`` answer."""
    samples: list[Sample] = field(default_factory=list)

    @property
    def consented(self) -> bool:
        """Whether ``data_consent`` clearly agrees (missing or unclear: no)."""
        return consent_given(self.consent)


def load(raw: str | dict | None) -> dict[str, Any]:
    """Question data as a dict, whether NEMO sent it as JSON text or an object.

    Raises
    ------
    ValueError
        The text is not JSON, or not a JSON object.
    """
    if raw is None or raw == "":
        return {}
    data = json.loads(raw) if isinstance(raw, str) else raw
    if not isinstance(data, dict):
        raise ValueError(f"question data is a {type(data).__name__}, not an object")
    return data


def has_answers(data: dict[str, Any]) -> bool:
    """Whether the data answers any of the questions nexuslims uses."""
    return any(_input(data, name) not in (None, "", {}, []) for name in QUESTIONS)


def parse_answers(data: dict[str, Any], *, source: str) -> Answers:
    """The answers in ``data``.

    Parameters
    ----------
    data
        Question data (see :func:`load`).
    source
        A stable name for where the data comes from (the usage event or reservation
        URL): samples without PID get ids derived from it, the same on every pass.
    """
    return Answers(
        title=_text(_input(data, "experiment_title")),
        purpose=_text(_input(data, "experiment_purpose")),
        project_id=_text(_input(data, "project_id")),
        consent=_text(_input(data, "data_consent")),
        samples=_samples(_input(data, "sample_group"), source),
    )


def consent_given(answer: str | None) -> bool:
    """``True`` for agree/yes/true/...; ``False`` for missing, negative or unclear answers."""
    if not answer:
        return False
    text = " ".join(answer.strip().lower().split()).rstrip(".!")
    if text in _NO or text.startswith(("disagree", "i disagree", "do not", "don't", "no ",
                                        "not ", "i do not", "i don't")):
        return False
    return text in _YES or text.startswith(("agree", "i agree", "yes"))


def _input(data: dict[str, Any], name: str) -> Any:
    entry = data.get(name)
    if isinstance(entry, dict) and ("user_input" in entry or "type" in entry):
        return entry.get("user_input")
    return entry  # plain {"name": value} data, as some sites' tools write it


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, list):
        value = ", ".join(str(v) for v in value if v not in (None, ""))
    text = " ".join(str(value).split())
    return text or None


def _samples(groups: Any, source: str) -> list[Sample]:
    if isinstance(groups, dict):
        ordered = [groups[k] for k in sorted(groups, key=_index)]
    elif isinstance(groups, list):
        ordered = groups
    else:
        return []
    samples: list[Sample] = []
    seen: set[str] = set()
    for n, group in enumerate(ordered):
        if not isinstance(group, dict):
            continue
        name = _text(group.get("sample_name"))
        details = _text(group.get("sample_details"))
        elements = _elements(group.get("periodic_table"))
        if not (name or details or elements):
            continue
        is_pid = (_text(group.get("sample_or_pid")) or "").lower() in ("pid", "sample pid")
        if is_pid and name:
            sample_id, name = name, None
        else:
            digest = hashlib.sha256(f"{source}#{n}#{name or ''}".encode()).hexdigest()
            sample_id = f"sample-{digest[:12]}"
        if sample_id in seen:  # the same PID given twice: one sample
            continue
        seen.add(sample_id)
        samples.append(Sample(id=sample_id, name=name, description=details,
                              elements=elements))
    return samples


def _elements(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = re.split(r"[\s,;]+", value)
    if not isinstance(value, list | tuple):
        return ()
    symbols: list[str] = []
    for item in value:
        symbol = str(item).strip()
        symbol = symbol[:1].upper() + symbol[1:].lower()
        if symbol and symbol not in symbols:
            symbols.append(symbol)
    return tuple(symbols)


def _index(key: str) -> tuple[int, str]:
    try:
        return int(key), ""
    except ValueError:
        return 1 << 30, key
