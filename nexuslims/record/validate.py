"""Validate stage: check a built record against the Experiment schema.

:func:`validate_record` answers with a list of :class:`ValidationProblem` (empty when
the record is valid); it reports malformed XML the same way instead of raising, so
the pipeline can store the reasons with the session. :func:`require_valid` is the
raising form for callers that just need "valid or stop".

The schema is the project's own ``schemas/nexus-experiment.xsd``, which accepts the
same documents as the NexusLIMS CDCS servers' ``nexus-experiment`` v1.0 schema.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from lxml import etree

from nexuslims.errors import NexusLIMSError, RecordInvalid

SCHEMA_NAME = "nexus-experiment.xsd"


@dataclass(frozen=True)
class ValidationProblem:
    """One reason a record is not valid, with where in the document it was found."""

    line: int
    """1-based line of the document (0 when the problem has no place, e.g. unreadable file)."""
    column: int
    """1-based column, or 0 when the parser or schema validator does not say."""
    message: str

    def __str__(self) -> str:
        return f"line {self.line}, column {self.column}: {self.message}"


def schema_path() -> Path:
    """Where the Experiment schema is: in the installed package, else in the source tree.

    Returns
    -------
    Path
        ``nexuslims/_schemas/nexus-experiment.xsd`` of an installed wheel, or
        ``<repo>/schemas/nexus-experiment.xsd`` of a source checkout.

    Raises
    ------
    FileNotFoundError
        When neither exists (a broken install: reinstall nexuslims).
    """
    packaged = resources.files("nexuslims").joinpath("_schemas", SCHEMA_NAME)
    if packaged.is_file():
        return Path(str(packaged))
    in_repo = Path(__file__).resolve().parents[2] / "schemas" / SCHEMA_NAME
    if in_repo.is_file():
        return in_repo
    raise FileNotFoundError(
        f"the record schema {SCHEMA_NAME} is neither in the installed package "
        f"({packaged}) nor in a source checkout ({in_repo}); reinstall nexuslims"
    )


def validate_record(
    xml: bytes | str | os.PathLike[str], schema: Path | None = None
) -> list[ValidationProblem]:
    """Check a record against the schema.

    Parameters
    ----------
    xml
        The record: its bytes (or text), or the path of a file holding it.
    schema
        The XSD to check against; :func:`schema_path` when not given.

    Returns
    -------
    list of ValidationProblem
        Empty when the record is valid. Malformed XML and unreadable files are
        reported here as problems, not raised.
    """
    return check_record(xml, schema)[1]


def check_record(
    xml: bytes | str | os.PathLike[str], schema: Path | None = None
) -> tuple[etree._ElementTree | None, list[ValidationProblem]]:
    """:func:`validate_record`, with the document it read (None if it could not read
    one), for a caller that reads the record further without parsing it again."""
    compiled = _schema(str(Path(schema or schema_path()).resolve()))
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    try:
        if isinstance(xml, bytes | str):
            data = xml.encode("utf-8") if isinstance(xml, str) else xml
            document = etree.fromstring(data, parser).getroottree()
        else:
            document = etree.parse(os.fspath(xml), parser)
    except etree.XMLSyntaxError as exc:
        problems = _problems(parser.error_log)
        if not problems:
            line, column = exc.position if exc.position else (exc.lineno or 0, 0)
            problems = [ValidationProblem(line or 0, column or 0, str(exc))]
        return None, problems
    except OSError as exc:
        return None, [ValidationProblem(0, 0, f"cannot read the record: {exc}")]
    # Entities are left unexpanded (no file or network reads); records never use them,
    # and libxml2's validator cannot handle their nodes.
    entities = [
        ValidationProblem(node.sourceline or 0, 0, f"entity reference {node.text} not allowed")
        for node in document.iter(etree.Entity)
    ]
    if entities:
        return document, entities
    try:
        if compiled.validate(document):
            return document, []
    except etree.XMLSchemaValidateError as exc:
        return document, [ValidationProblem(0, 0, f"cannot validate the record: {exc}")]
    return document, (_problems(compiled.error_log)
                      or [ValidationProblem(0, 0, "record is not valid")])


def check_built(root: etree._Element, xml: bytes,
                schema: Path | None = None) -> list[ValidationProblem]:
    """:func:`validate_record` of ``xml``, the bytes serialised from the tree ``root``
    (:func:`nexuslims.record.build.serialize`), checked on the tree without parsing them.

    The schema sees the same document either way: serialising adds only whitespace
    between elements (which element-only content ignores) and escapes what parsing
    unescapes, and a built tree holds no entity references. Only a record that is not
    valid is parsed, so that its problems carry the lines of the bytes written.
    """
    compiled = _schema(str(Path(schema or schema_path()).resolve()))
    try:
        if compiled.validate(root.getroottree()):
            return []
    except etree.XMLSchemaValidateError:
        pass  # said with its place by the check of the bytes below
    return check_record(xml, schema)[1] or [ValidationProblem(0, 0, "record is not valid")]


def require_valid(xml: bytes | str | os.PathLike[str], schema: Path | None = None) -> None:
    """Raise :class:`~nexuslims.errors.RecordInvalid` unless the record is valid.

    The exception's ``problems`` attribute holds the :class:`ValidationProblem` list.
    """
    problems = validate_record(xml, schema)
    if problems:
        error = RecordInvalid("; ".join(str(p) for p in problems))
        error.problems = problems  # type: ignore[attr-defined]
        raise error


@functools.lru_cache(maxsize=8)
def _schema(path: str) -> etree.XMLSchema:
    """The compiled schema at ``path`` (compiling one takes tens of milliseconds)."""
    try:
        return etree.XMLSchema(etree.parse(path))
    except OSError as exc:
        raise FileNotFoundError(f"cannot read the record schema {path}: {exc}") from exc
    except (etree.XMLSyntaxError, etree.XMLSchemaParseError) as exc:
        raise NexusLIMSError(f"{path} is not a usable XML schema: {exc}") from exc


def _problems(log: etree._ListErrorLog) -> list[ValidationProblem]:
    return [
        ValidationProblem(entry.line, entry.column, entry.message)
        for entry in log
        if entry.level >= etree.ErrorLevels.ERROR
    ]


__all__ = ["ValidationProblem", "check_built", "check_record", "require_valid", "schema_path",
           "validate_record"]
