"""Record validation, and our schema accepting exactly what the reference schema accepts."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from lxml import etree

from nexuslims.errors import RecordInvalid
from nexuslims.record.build import serialize
from nexuslims.record.validate import (
    ValidationProblem,
    check_built,
    require_valid,
    schema_path,
    validate_record,
)

REPO = Path(__file__).resolve().parents[1]
OURS = REPO / "schemas" / "nexus-experiment.xsd"
REFERENCE = Path(
    os.environ.get(
        "NEXUSLIMS_TEST_REFERENCE",
        REPO.parent / "shared" / "reference" / "nexus-experiment-v1.0.xsd",
    )
)
NS = "https://data.nist.gov/od/dm/nexus/experiment/v1.0"
XSI = "http://www.w3.org/2001/XMLSchema-instance"


def schemas() -> list[Path]:
    """Our schema, plus the reference one when it is available."""
    return [OURS, REFERENCE] if REFERENCE.is_file() else [OURS]


def record(body: str, root_attrs: str = "") -> bytes:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<Experiment xmlns="{NS}" xmlns:xsi="{XSI}"{root_attrs}>\n{body}\n</Experiment>\n'
    ).encode()


SUMMARY = "<summary><instrument pid='T1'>Titan</instrument></summary>"
DATASET = (
    "<dataset type='Image' role='Experimental'><name>a.dm3</name><location>T/a.dm3</location>"
    "<format>DM3</format><description>d</description><preview>T/a.png</preview>"
    "<meta name='Mag' unit='x' warning='true'>10</meta></dataset>"
)

VALID = {
    "minimal": record("<summary/>"),
    "title and id": record(f"<title>t</title><id>r1</id>{SUMMARY}"),
    "full summary": record(
        "<title>t</title><summary ref='https://nemo/r/1'><experimenter>A</experimenter>"
        "<experimenter>B</experimenter><collaborator>C</collaborator>"
        "<instrument pid='p' ref='https://i'>X</instrument><instrument>Y</instrument>"
        "<reservationStart>2024-03-10T10:00:00-04:00</reservationStart>"
        "<reservationEnd>2024-03-10T12:00:00Z</reservationEnd>"
        "<motivation>  why\n  not  </motivation></summary>"
    ),
    "experiment pid": record(SUMMARY, " pid='ark:/1234/x'"),
    "sample with elements": record(
        f"{SUMMARY}<sample id='s1' ref='db:1'><name>n</name><description>a</description>"
        "<description>b</description><notes source='ELN'/><elements><Og/><H/><Fe/></elements>"
        "</sample><sample/>"
    ),
    "projects": record(
        f"{SUMMARY}<project><name>n</name><division>d</division><group>g</group>"
        "<project_id>p</project_id><ref>https://p</ref></project><project/>"
    ),
    "activity": record(
        f"{SUMMARY}<sample id='s1'/><acquisitionActivity seqno='0'>"
        "<startTime>2024-03-10T10:00:00.5+05:30</startTime><sampleID>s1</sampleID>"
        "<setup><param name='V'>200</param><param name='W' warning='0'/></setup>"
        f"<notes/>{DATASET}<dataset><name/><location/></dataset></acquisitionActivity>"
        "<acquisitionActivity seqno='-3'/>"
    ),
    "every dataset type": record(
        SUMMARY
        + "<acquisitionActivity>"
        + "".join(
            f"<dataset type='{t}'><name>x</name><location>y</location></dataset>"
            for t in (
                "Image",
                "Spectrum",
                "SpectrumImage",
                "Diffraction",
                "Notes",
                "Misc",
                "Unknown",
            )
        )
        + "".join(
            f"<dataset role='{r}'><name>x</name><location>y</location></dataset>"
            for r in ("Experimental", "MasterCalibration", "UserCalibration", "Derived")
        )
        + "</acquisitionActivity>"
    ),
    "notes entries": record(
        f"{SUMMARY}<notes source='ELN'>"
        "<entry/>"
        "<entry xsi:type='TextEntry'><p>one</p><p>two</p></entry>"
        "<entry xsi:type='ImageEntry'><imageURL>https://x/y.png</imageURL></entry>"
        "<entry xsi:type='TableEntry'><table><title>t</title><header><column id='c1'>A</column>"
        "</header><rows><row seqno='1'><cell colid='c1'>1</cell></row></rows></table></entry>"
        "</notes>"
    ),
    "whitespace around token": record("<title>  spaced   title </title><summary/>"),
}

INVALID = {
    "missing summary": record("<title>t</title>"),
    "wrong DatasetType": record(
        f"{SUMMARY}<acquisitionActivity><dataset type='Hologram'><name>x</name>"
        "<location>y</location></dataset></acquisitionActivity>"
    ),
    "wrong DatasetRole": record(
        f"{SUMMARY}<acquisitionActivity><dataset role='Simulated'><name>x</name>"
        "<location>y</location></dataset></acquisitionActivity>"
    ),
    "element out of order": record(f"<id>r</id><title>t</title>{SUMMARY}"),
    "dataset children out of order": record(
        f"{SUMMARY}<acquisitionActivity><dataset><location>y</location><name>x</name>"
        "</dataset></acquisitionActivity>"
    ),
    "unknown element": record(f"{SUMMARY}<comment>hi</comment>"),
    "unknown attribute": record(f"{SUMMARY}<sample pid='s1'/>"),
    "bad dateTime": record(
        "<summary><reservationStart>2024-03-10 10:00</reservationStart></summary>"
    ),
    "bad startTime": record(
        f"{SUMMARY}<acquisitionActivity><startTime>tomorrow</startTime></acquisitionActivity>"
    ),
    "title twice": record(f"<title>a</title><title>b</title>{SUMMARY}"),
    "summary twice": record(f"{SUMMARY}{SUMMARY}"),
    "dataset without location": record(
        f"{SUMMARY}<acquisitionActivity><dataset><name>x</name></dataset></acquisitionActivity>"
    ),
    "non-integer seqno": record(f"{SUMMARY}<acquisitionActivity seqno='first'/>"),
    "bad warning flag": record(
        f"{SUMMARY}<acquisitionActivity><setup><param name='a' warning='yes'>1</param></setup>"
        "</acquisitionActivity>"
    ),
    "unknown chemical element": record(f"{SUMMARY}<sample><elements><Xx/></elements></sample>"),
    "chemical element twice": record(f"{SUMMARY}<sample><elements><Fe/><Fe/></elements></sample>"),
    "text entry without paragraph": record(
        f"{SUMMARY}<notes><entry xsi:type='TextEntry'/></notes>"
    ),
    "meta with child element": record(
        f"{SUMMARY}<acquisitionActivity><dataset><name>x</name><location>y</location>"
        "<meta name='a'><b/></meta></dataset></acquisitionActivity>"
    ),
    "wrong namespace": b"<Experiment xmlns='urn:other'><summary/></Experiment>",
    "no namespace": b"<Experiment><summary/></Experiment>",
    "wrong root": record("").replace(b"Experiment", b"Record"),
}


# --------------------------------------------------------------------------- schema equivalence


@pytest.mark.parametrize("name", sorted(VALID))
def test_valid_variants_accepted_by_both_schemas(name):
    for schema in schemas():
        assert validate_record(VALID[name], schema) == [], schema.name


@pytest.mark.parametrize("name", sorted(INVALID))
def test_invalid_variants_rejected_by_both_schemas(name):
    for schema in schemas():
        assert validate_record(INVALID[name], schema), f"{schema.name} accepted {name}"


@pytest.mark.parametrize("name", sorted(VALID) + sorted(INVALID))
def test_a_tree_is_judged_as_its_serialised_bytes(name):
    # The pipeline validates the tree it built, never parsing the bytes it writes: the
    # verdict and the problems (lines of the bytes) must be those of the bytes.
    root = etree.fromstring((VALID | INVALID)[name])
    xml = serialize(root)
    assert check_built(root, xml) == validate_record(xml)
    assert (check_built(root, xml) == []) == (name in VALID)


def test_our_schema_is_written_anew_not_copied():
    if not REFERENCE.is_file():
        pytest.skip(f"reference schema not found at {REFERENCE}")
    xs = "{http://www.w3.org/2001/XMLSchema}documentation"

    def docs(path: Path) -> set[str]:
        return {" ".join(e.text.split()) for e in etree.parse(str(path)).iter(xs) if e.text}

    assert not docs(OURS) & docs(REFERENCE)
    assert "NIST" not in OURS.read_text(encoding="utf-8")


def test_both_schemas_declare_the_same_types():
    if not REFERENCE.is_file():
        pytest.skip(f"reference schema not found at {REFERENCE}")

    def named(path: Path) -> set[tuple[str, str]]:
        root = etree.parse(str(path)).getroot()
        return {(etree.QName(c).localname, c.get("name")) for c in root if c.get("name")}

    assert named(OURS) == named(REFERENCE)


# --------------------------------------------------------------------------- validate_record


def test_schema_path_finds_our_schema():
    path = schema_path()
    assert path.is_file()
    assert path.name == "nexus-experiment.xsd"
    assert path.read_bytes() == OURS.read_bytes()


def test_default_schema_is_ours():
    assert validate_record(VALID["activity"]) == []
    assert validate_record(INVALID["wrong DatasetType"])


def test_each_error_is_reported_with_its_line():
    xml = (
        f'<?xml version="1.0"?>\n'  # 1
        f'<Experiment xmlns="{NS}">\n'  # 2
        "  <summary>\n"  # 3
        "    <reservationStart>yesterday</reservationStart>\n"  # 4
        "  </summary>\n"  # 5
        "  <acquisitionActivity>\n"  # 6
        "    <dataset type='Hologram'>\n"  # 7
        "      <name>x</name>\n"  # 8
        "      <location>y</location>\n"  # 9
        "    </dataset>\n"  # 10
        "  </acquisitionActivity>\n"  # 11
        "  <bogus/>\n"  # 12
        "</Experiment>\n"
    ).encode()
    problems = validate_record(xml)
    assert sorted({p.line for p in problems}) == [4, 7, 12]
    assert all(isinstance(p, ValidationProblem) and p.message for p in problems)
    assert any("reservationStart" in p.message for p in problems)
    assert "line 4" in str(next(p for p in problems if p.line == 4))


def test_malformed_xml_is_reported_not_raised():
    problems = validate_record(b"<?xml version='1.0'?>\n<Experiment>\n  <summary>\n</Experiment>\n")
    assert problems
    assert problems[0].line == 4
    assert "summary" in problems[0].message


def test_empty_document_is_reported_not_raised():
    assert validate_record(b"")


def test_record_in_a_file(tmp_path):
    good = tmp_path / "good record.xml"
    good.write_bytes(VALID["activity"])
    assert validate_record(good) == []
    problems = validate_record(tmp_path / "missing.xml")
    assert problems and problems[0].line == 0


def test_text_input_is_the_document():
    assert validate_record(VALID["minimal"].decode()) == []


def test_entities_are_not_expanded():
    xml = (
        b'<?xml version="1.0"?>\n<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>\n'
        + f'<Experiment xmlns="{NS}"><title>&e;</title><summary/></Experiment>'.encode()
    )
    problems = validate_record(xml)
    assert [p.line for p in problems] == [3]
    assert "&e;" in problems[0].message
    assert all("root:" not in p.message for p in problems)


def test_require_valid_raises_record_invalid_with_problems():
    require_valid(VALID["minimal"])
    with pytest.raises(RecordInvalid) as info:
        require_valid(INVALID["missing summary"])
    assert info.value.problems
    assert "summary" in str(info.value)


def test_missing_schema_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="schema"):
        validate_record(VALID["minimal"], tmp_path / "none.xsd")


def test_compiled_schema_is_cached():
    from nexuslims.record.validate import _schema

    path = str(OURS.resolve())
    assert _schema(path) is _schema(path)


def _mutants(xml: bytes):
    """Small structural edits of a record: drop, duplicate, swap or rename each element."""
    root = etree.fromstring(xml)
    count = sum(1 for _ in root.iter())
    for index in range(count):
        for edit in ("drop", "twice", "swap", "rename", "clear-attrs"):
            copy = etree.fromstring(xml)
            node = list(copy.iter())[index]
            parent = node.getparent()
            if edit == "drop" and parent is not None:
                parent.remove(node)
            elif edit == "twice" and parent is not None:
                node.addnext(etree.fromstring(etree.tostring(node)))
            elif edit == "swap" and node.getnext() is not None:
                node.getnext().addnext(node)
            elif edit == "rename":
                node.tag = (
                    f"{{{NS}}}notes" if etree.QName(node).localname != "notes" else f"{{{NS}}}p"
                )
            elif edit == "clear-attrs" and node.attrib:
                node.attrib.clear()
            else:
                continue
            yield f"{edit} #{index}", etree.tostring(copy)


@pytest.mark.parametrize("name", sorted(VALID))
def test_schemas_agree_on_mutated_records(name):
    if not REFERENCE.is_file():
        pytest.skip(f"reference schema not found at {REFERENCE}")
    for label, mutant in _mutants(VALID[name]):
        ours = validate_record(mutant, OURS) == []
        theirs = validate_record(mutant, REFERENCE) == []
        assert ours == theirs, f"{label}: ours={ours} reference={theirs}"
