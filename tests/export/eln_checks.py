"""What makes a `.eln` package acceptable, checked the way the ELN Consortium checks them.

The consortium (TheELNConsortium/TheELNFileFormat, ``tests/``) runs every example
package through: its archive layout, the ``rocrate`` library, its own conventions
(descriptor, names, keywords), a JSON Schema, and ``roc-validator`` at REQUIRED
severity. These are the same checks, written for our tests; each returns the list of
problems found (empty: the package passes). ``roc-validator`` runs offline: the
RO-Crate context it would fetch from w3id.org is read from the shared reference copy.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import unquote, urlsplit

import jsonschema
import requests
import requests.adapters
import urllib3

REFERENCE = Path(__file__).resolve().parents[3] / "shared" / "reference"
CONTEXT_URL = "https://w3id.org/ro/crate/1.2/context"
METADATA = "ro-crate-metadata.json"

# The shape the consortium's schema asks of every node, in our words: ids and types are
# single strings; links are objects with an @id; dates are date-times; keywords, name,
# version are strings; hasPart is a list of links.
_LINK = {"type": "object", "properties": {"@id": {"type": "string"}}, "required": ["@id"]}
NODE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["@context", "@graph"],
    "properties": {
        "@context": {"type": "string", "format": "uri"},
        "@graph": {"type": "array", "items": {
            "type": "object", "required": ["@id", "@type"],
            "properties": {
                "@id": {"type": "string"}, "@type": {"type": "string"},
                "about": _LINK, "conformsTo": _LINK, "sdPublisher": _LINK, "author": _LINK,
                "dateCreated": {"type": "string", "format": "date-time"},
                "dateModified": {"type": "string", "format": "date-time"},
                "version": {"type": "string"}, "name": {"type": "string"},
                "encodingFormat": {"type": "string"}, "genre": {"type": "string"},
                "identifier": {"type": "string"}, "keywords": {"type": "string"},
                "url": {"type": "string", "format": "uri"},
                "hasPart": {"type": "array", "items": _LINK},
            }}},
    },
}


def extract(package: Path, into: Path) -> Path:
    """Unzip ``package`` into ``into``; the crate folder (its one top folder)."""
    with zipfile.ZipFile(package) as zf:
        zf.extractall(into)
    [top] = [p for p in into.iterdir()]
    return top


def archive_problems(package: Path) -> list[str]:
    """One top folder holding everything; no member that climbs out or is absolute."""
    problems = []
    with zipfile.ZipFile(package) as zf:
        names = zf.namelist()
    tops = {PurePosixPath(n).parts[0] for n in names if n}
    if len(tops) != 1:
        problems.append(f"expected exactly one top folder, found {sorted(tops)}")
    for name in names:
        path = PurePosixPath(name)
        if path.is_absolute() or ".." in path.parts or "\\" in name:
            problems.append(f"member {name!r} is absolute or climbs out")
    top = next(iter(tops), "")
    if f"{top}/{METADATA}" not in names:
        problems.append(f"no {top}/{METADATA}")
    return problems


def convention_problems(metadata: dict[str, Any]) -> list[str]:
    """The consortium's conventions: descriptor fields, names, keywords, links resolve."""
    problems = []
    graph = metadata["@graph"]
    ids = [n["@id"] for n in graph]
    if len(ids) != len(set(ids)):
        problems.append("an @id appears twice")
    nodes = {n["@id"]: n for n in graph}
    descriptor = nodes.get(METADATA, {})
    for key in ("version", "sdPublisher"):
        if key not in descriptor:
            problems.append(f"the descriptor has no {key!r}")
    publisher = descriptor.get("sdPublisher", {})
    if isinstance(publisher, dict) and "name" not in publisher \
            and publisher.get("@id") not in nodes:
        problems.append("sdPublisher names no entity of the crate")
    root = nodes.get("./")
    if root is None or "hasPart" not in root:
        return problems + ["the root ./ is missing or has no hasPart"]

    def visit(node_id: str, seen: set[str]) -> None:
        if node_id in seen:
            return
        seen.add(node_id)
        node = nodes.get(node_id)
        if node is None:
            problems.append(f"hasPart names {node_id!r}, which is not in the graph")
            return
        if node["@type"] in ("Dataset", "File") and not node.get("name"):
            problems.append(f"{node['@type']} {node_id} has no name")
        if isinstance(node.get("keywords"), list):
            problems.append(f"{node_id}: keywords is a list, not a string")
        if any(not str(v).strip() for v in node.values()):
            problems.append(f"{node_id} has an empty value")
        for child in node.get("hasPart", []):
            visit(child["@id"], seen)

    for part in root["hasPart"]:
        visit(part["@id"], set())
    return problems


def schema_problems(metadata: dict[str, Any]) -> list[str]:
    """Violations of :data:`NODE_SCHEMA`."""
    validator = jsonschema.Draft7Validator(NODE_SCHEMA,
                                           format_checker=jsonschema.FormatChecker())
    return [f"{list(e.path)}: {e.message}" for e in validator.iter_errors(metadata)]


def validator_problems(crate: Path, cache: Path, profile: str = "ro-crate-1.2") -> list[str]:
    """``roc-validator`` at REQUIRED severity with ``profile``, offline.

    The validator reads remote documents through its HTTP cache and, offline, only from
    it: the cache in ``cache`` is given the reference copy of the RO-Crate context,
    stored as the answer to its w3id.org URL, before the validator runs.
    """
    from requests_cache import CachedSession
    from rocrate_validator import models, services

    name = str(cache / "roc-validator-http")
    seeded = CachedSession(cache_name=name, backend="sqlite")
    seeded.mount(CONTEXT_URL, _ReferenceContext())
    seeded.get(CONTEXT_URL).raise_for_status()
    seeded.close()
    settings = services.ValidationSettings(
        rocrate_uri=str(crate), profile_identifier=profile,
        requirement_severity=models.Severity.REQUIRED, offline=True, cache_path=Path(name))
    result = services.validate(settings)
    return [f"{i.severity.name} {i.check.identifier}: {i.message}"
            for i in result.get_issues()]


class _ReferenceContext(requests.adapters.HTTPAdapter):
    """Answers the RO-Crate 1.2 context URL with the reference copy (no network)."""

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any,
             ) -> requests.Response:
        body = (REFERENCE / "ro-crate-1.2-context.jsonld").read_bytes()
        raw = urllib3.HTTPResponse(body=io.BytesIO(body), status=200, preload_content=False,
                                   headers={"Content-Type": "application/ld+json",
                                            "Content-Length": str(len(body))})
        return self.build_response(request, raw)


def file_problems(crate: Path, metadata: dict[str, Any]) -> list[str]:
    """Every File's contentSize and sha256 match its bytes (in the crate, or by URI)."""
    problems = []
    for node in metadata["@graph"]:
        if node["@type"] != "File":
            continue
        at = node["@id"]
        parts = urlsplit(at)
        path = Path(unquote(parts.path)) if parts.scheme == "file" else crate / unquote(at)
        if not path.is_file():
            problems.append(f"{at}: no such file")
            continue
        data = path.read_bytes()
        if node.get("contentSize") != str(len(data)):
            problems.append(f"{at}: contentSize {node.get('contentSize')} != {len(data)}")
        if node.get("sha256") != hashlib.sha256(data).hexdigest():
            problems.append(f"{at}: sha256 does not match")
    return problems
