"""The record builder: hand-made reservations and datasets in, schema-valid XML out."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from lxml import etree

from nexuslims.model.dataset import Dataset
from nexuslims.model.session import Instrument
from nexuslims.record.build import (
    NAMESPACE,
    Activity,
    build_record,
    dataset_format,
    dataset_type,
    format_value,
    record_tree,
    serialize,
)
from nexuslims.record.index import entry_from_xml
from nexuslims.record.validate import check_built, validate_record
from nexuslims.reservations import Project, Reservation, Sample

REPO = Path(__file__).resolve().parents[1]
REFERENCE = Path(
    os.environ.get(
        "NEXUSLIMS_TEST_REFERENCE",
        REPO.parent / "shared" / "reference" / "nexus-experiment-v1.0.xsd",
    )
)
NS = {"nx": NAMESPACE}
NY = ZoneInfo("America/New_York")


# --------------------------------------------------------------------------- small world


def make_instrument(**kw) -> Instrument:
    defaults = dict(
        pid="FEI-Titan-TEM-635816",
        filestore_path="Titan",
        schema_name="FEI Titan TEM",
        timezone="America/New_York",
    )
    return Instrument(**{**defaults, **kw})


def make_reservation(**kw) -> Reservation:
    defaults = dict(
        title="Grain boundaries in steel",
        start=dt.datetime(2024, 3, 9, 9, 0, tzinfo=NY),
        end=dt.datetime(2024, 3, 11, 17, 0, tzinfo=NY),
        experimenters=["Jane Doe", "Ana Ñúñez"],
        motivation="Look at segregation.",
        samples=[Sample("sample-1", "Steel 316L", "polished", ("Fe", "Cr", "ni"))],
        projects=[Project("Alloys", "P-42", "https://projects.example/42")],
        url="https://nemo.example/reservation/17",
    )
    return Reservation(**{**defaults, **kw})


def make_dataset(name: str = "image_01.dm3", **kw) -> Dataset:
    meta = kw.pop("nx_meta", None)
    if meta is None:
        meta = {
            "DatasetType": "Image",
            "Data Type": "TEM_Imaging",
            "Voltage (kV)": 200.0,
            "Magnification (x)": 50000,
            "Creation Time": f"2024-03-10T10:00:0{len(name) % 10}-04:00",
        }
    defaults = dict(
        name=name,
        path=Path("/data/Titan/Jane") / name,
        location=f"Titan/Jane/{name}",
        dataset_type="Image",
        nx_meta=meta,
        preview_location=f"Titan/Jane/{name}.thumb.png",
    )
    return Dataset(**{**defaults, **kw})


def make_activity(datasets: list[Dataset], seqno: int = 0, hour: int = 10, **kw) -> Activity:
    return Activity(seqno, dt.datetime(2024, 3, 10, hour, 0, tzinfo=NY), datasets, **kw)


def build(activities=None, reservation=None, instrument=None, **kw) -> bytes:
    if activities is None:
        activities = [make_activity([make_dataset("a.dm3"), make_dataset("bb.dm3")])]
    return build_record(
        reservation or make_reservation(), instrument or make_instrument(), activities, **kw
    )


def parse(xml: bytes) -> etree._Element:
    return etree.fromstring(xml)


def values(parent: etree._Element, tag: str) -> dict[str, str]:
    return {e.get("name"): e.text for e in parent.findall(f"nx:{tag}", NS)}


# --------------------------------------------------------------------------- validity


def test_record_is_valid_against_our_schema():
    assert validate_record(build(record_id="rec-1")) == []


def test_the_tree_serialises_to_the_record_and_indexes_as_its_bytes():
    # The pipeline writes serialize(record_tree(...)), validates that tree and indexes
    # it without parsing the bytes: all three must agree with the bytes themselves.
    activities = [make_activity([make_dataset("a.dm3"), make_dataset("bb b.dm3")]),
                  make_activity([make_dataset("c.dm3")], seqno=1, hour=11)]
    tree = record_tree(make_reservation(), make_instrument(), activities, record_id="r")
    xml = serialize(tree)
    assert xml == build(activities, record_id="r")
    assert check_built(tree, xml) == [] == validate_record(xml)
    assert entry_from_xml(b"", "/r.xml", "s", None, root=tree) == \
        entry_from_xml(xml, "/r.xml", "s", None)


def test_record_is_valid_against_the_reference_schema():
    if not REFERENCE.is_file():
        pytest.skip(f"reference schema not found at {REFERENCE}")
    assert validate_record(build(record_id="rec-1"), REFERENCE) == []


def test_awkward_record_is_valid_against_both_schemas():
    nasty = make_dataset(
        "weird & <name>\x07.ser",
        dataset_type="hologram",
        nx_meta={"DatasetType": "hologram", "k": "", "n": None, "x\x01": "a<b & c"},
        unreliable={"x"},
        warnings=["odd\x0b file"],
        error="boom",
        preview_location=None,
    )
    xml = build(
        [make_activity([nasty])],
        make_reservation(samples=[], projects=[Project()], motivation=None, url=None),
    )
    assert validate_record(xml) == []
    if REFERENCE.is_file():
        assert validate_record(xml, REFERENCE) == []


def test_record_has_declaration_utf8_and_is_pretty_printed():
    xml = build()
    assert xml.startswith(b"<?xml version='1.0' encoding='UTF-8'?>\n")
    assert b"\n  <summary" in xml
    root = parse(xml)
    assert root.tag == f"{{{NAMESPACE}}}Experiment"
    assert root.nsmap == {None: NAMESPACE}


# --------------------------------------------------------------------------- summary etc.


def test_title_id_and_summary():
    root = parse(build(record_id="rec-1"))
    assert root.findtext("nx:title", namespaces=NS) == "Grain boundaries in steel"
    assert root.findtext("nx:id", namespaces=NS) == "rec-1"
    summary = root.find("nx:summary", NS)
    assert summary.get("ref") == "https://nemo.example/reservation/17"
    assert [e.text for e in summary.findall("nx:experimenter", NS)] == ["Jane Doe", "Ana Ñúñez"]
    instrument = summary.find("nx:instrument", NS)
    assert (instrument.text, instrument.get("pid")) == ("FEI Titan TEM", "FEI-Titan-TEM-635816")
    assert summary.findtext("nx:motivation", namespaces=NS) == "Look at segregation."
    for tag in ("title", "id", "summary"):
        assert len(root.findall(f"nx:{tag}", NS)) == 1


def test_optional_parts_left_out_when_unknown():
    res = make_reservation(motivation=None, url=None, samples=[], projects=[])
    root = parse(build(reservation=res))
    assert root.find("nx:id", NS) is None
    assert root.find("nx:summary", NS).get("ref") is None
    assert root.find("nx:summary/nx:motivation", NS) is None
    assert root.find("nx:sample", NS) is None
    assert root.find("nx:acquisitionActivity/nx:sampleID", NS) is None


def test_instrument_without_schema_name_shows_pid():
    root = parse(build(instrument=make_instrument(schema_name=None)))
    assert root.findtext("nx:summary/nx:instrument", namespaces=NS) == "FEI-Titan-TEM-635816"


def test_samples_and_projects():
    root = parse(build())
    sample = root.find("nx:sample", NS)
    assert sample.get("id") == "sample-1"
    assert sample.findtext("nx:name", namespaces=NS) == "Steel 316L"
    assert [etree.QName(e).localname for e in sample.find("nx:elements", NS)] == [
        "Cr",
        "Fe",
        "Ni",
    ]
    project = root.find("nx:project", NS)
    assert [etree.QName(e).localname for e in project] == ["name", "project_id", "ref"]


def test_single_sample_is_referenced_by_every_activity():
    acts = [make_activity([make_dataset()], 0, 10), make_activity([make_dataset()], 1, 11)]
    root = parse(build(acts))
    ids = {s.get("id") for s in root.findall("nx:sample", NS)}
    refs = [
        a.findtext("nx:sampleID", namespaces=NS)
        for a in root.iterfind(".//nx:acquisitionActivity", NS)
    ]
    assert refs == ["sample-1", "sample-1"]
    assert set(refs) <= ids


def test_several_samples_use_the_activity_sample_id_when_it_exists():
    res = make_reservation(samples=[Sample("s-a"), Sample("s-b")])
    acts = [
        make_activity([make_dataset()], 0, 10, sample_id="s-b"),
        make_activity([make_dataset()], 1, 11, sample_id="nope"),
        make_activity([make_dataset()], 2, 12),
    ]
    root = parse(build(acts, res))
    refs = [
        a.findtext("nx:sampleID", namespaces=NS)
        for a in root.iterfind("nx:acquisitionActivity", NS)
    ]
    assert refs == ["s-b", None, None]
    assert validate_record(etree.tostring(root)) == []


# --------------------------------------------------------------------------- setup / meta


def test_shared_values_go_to_setup_and_differing_ones_to_meta():
    a = make_dataset("a.dm3", nx_meta={"DatasetType": "Image", "Voltage (kV)": 200.0, "Mag": 10})
    b = make_dataset("b.dm3", nx_meta={"DatasetType": "Image", "Voltage (kV)": 200, "Mag": 20})
    root = parse(build([make_activity([a, b])]))
    activity = root.find("nx:acquisitionActivity", NS)
    assert values(activity.find("nx:setup", NS), "param") == {"Voltage (kV)": "200.0"}
    metas = [values(d, "meta") for d in activity.findall("nx:dataset", NS)]
    assert metas == [{"Mag": "10"}, {"Mag": "20"}]


def test_provenance_stays_on_each_dataset_not_in_setup():
    # Extractor and nexuslims version used to sit in the setup table beside the voltage.
    provenance = {"Extractor": "digitalmicrograph", "nexuslims version": "0.1.0",
                  "Creation Time Source": "file absolute clock"}
    a = make_dataset("a.dm3", nx_meta={"DatasetType": "Image", "Voltage (kV)": 200.0,
                                       **provenance})
    b = make_dataset("b.dm3", nx_meta={"DatasetType": "Image", "Voltage (kV)": 200.0,
                                       **provenance})
    xml = build([make_activity([a, b])])
    activity = parse(xml).find("nx:acquisitionActivity", NS)
    assert values(activity.find("nx:setup", NS), "param") == {"Voltage (kV)": "200.0"}
    for dataset in activity.findall("nx:dataset", NS):
        assert values(dataset, "meta") == provenance
    assert validate_record(xml) == []
    if REFERENCE.is_file():
        assert validate_record(xml, REFERENCE) == []


def test_value_missing_from_one_dataset_stays_in_meta():
    a = make_dataset("a.dm3", nx_meta={"Voltage (kV)": 200.0, "Spot": 3})
    b = make_dataset("b.dm3", nx_meta={"Voltage (kV)": 200.0})
    activity = parse(build([make_activity([a, b])])).find("nx:acquisitionActivity", NS)
    assert values(activity.find("nx:setup", NS), "param") == {"Voltage (kV)": "200.0"}
    assert [values(d, "meta") for d in activity.findall("nx:dataset", NS)] == [{"Spot": "3"}, {}]


def test_single_dataset_activity_keeps_its_meta_and_has_no_setup():
    activity = parse(build([make_activity([make_dataset()])])).find("nx:acquisitionActivity", NS)
    assert activity.find("nx:setup", NS) is None
    meta = values(activity.find("nx:dataset", NS), "meta")
    assert meta["Voltage (kV)"] == "200.0"
    assert "DatasetType" not in meta


def test_meta_sorted_by_name_and_empties_and_dataset_type_left_out():
    ds = make_dataset(
        nx_meta={
            "b": 1,
            "DatasetType": "Image",
            "A": 2,
            "c": None,
            "d": "  ",
            "e": {"x": 1, "y": {"z": [1, 2]}},
        }
    )
    dataset = parse(build([make_activity([ds])])).find(".//nx:dataset", NS)
    names = [m.get("name") for m in dataset.findall("nx:meta", NS)]
    assert names == ["A", "b", "e x", "e y z"]
    assert values(dataset, "meta")["e y z"] == "1, 2"


def test_warning_attribute_marks_unreliable_values():
    a = make_dataset("a.dm3", nx_meta={"Mag": 10, "Tilt": 1.5, "Spot": 1}, unreliable={"Tilt"})
    b = make_dataset("b.dm3", nx_meta={"Mag": 20, "Tilt": 1.5, "Spot": 1}, unreliable={"Mag"})
    activity = parse(build([make_activity([a, b])])).find("nx:acquisitionActivity", NS)
    params = {p.get("name"): p.get("warning") for p in activity.iterfind("nx:setup/nx:param", NS)}
    assert params == {"Spot": None, "Tilt": "true"}
    metas = [
        {m.get("name"): m.get("warning") for m in d.findall("nx:meta", NS)}
        for d in activity.findall("nx:dataset", NS)
    ]
    assert metas == [{"Mag": None}, {"Mag": "true"}]


# --------------------------------------------------------------------------- text


def test_special_characters_are_escaped_exactly_once():
    ds = make_dataset("a<b & c.dm3", nx_meta={"Note <1>": "a<b & c", "Ort": "Zürich 東京"})
    res = make_reservation(title="a<b & c", experimenters=['Zoë "Z" O\'Brien'])
    xml = build([make_activity([ds])], res)
    assert b"&amp;amp;" not in xml
    root = parse(xml)
    assert root.findtext("nx:title", namespaces=NS) == "a<b & c"
    assert root.findtext(".//nx:experimenter", namespaces=NS) == 'Zoë "Z" O\'Brien'
    dataset = root.find(".//nx:dataset", NS)
    assert dataset.findtext("nx:name", namespaces=NS) == "a<b & c.dm3"
    assert values(dataset, "meta") == {"Note <1>": "a<b & c", "Ort": "Zürich 東京"}


def test_control_characters_are_dropped_not_fatal():
    ds = make_dataset("x\x00y.dm3", nx_meta={"k\x1f": "v\x01a\x0bl\ud800"}, warnings=["w\x02"])
    xml = build([make_activity([ds])], make_reservation(title="t\x1bitle"))
    root = parse(xml)
    assert root.findtext("nx:title", namespaces=NS) == "title"
    dataset = root.find(".//nx:dataset", NS)
    assert dataset.findtext("nx:name", namespaces=NS) == "xy.dm3"
    assert values(dataset, "meta") == {"k": "val"}
    assert dataset.findtext("nx:description", namespaces=NS) == "w"
    assert validate_record(xml) == []


def test_locations_of_odd_names_round_trip_to_the_bytes_on_disk():
    from urllib.parse import unquote_to_bytes

    raw = b"Titan/Jane/bad\xff\xfe ctrl\x01 a%b.dm3"
    location = os.fsdecode(raw)  # how a walk hands such a name over
    ds = make_dataset(os.path.basename(location), location=location,
                      preview_location=location + ".thumb.png")
    xml = build([make_activity([ds])])
    dataset = parse(xml).find(".//nx:dataset", NS)
    assert unquote_to_bytes(dataset.findtext("nx:location", namespaces=NS)) == raw
    assert unquote_to_bytes(dataset.findtext("nx:preview", namespaces=NS)) == \
        raw + b".thumb.png"
    assert dataset.findtext("nx:name", namespaces=NS) == "bad\ufffd\ufffd ctrl a%b.dm3"
    assert validate_record(xml) == []


def test_locations_are_encoded_as_urllib_quote_encodes_them():
    # Any bytes a file name may hold, one at a time and at random.
    import random
    from urllib.parse import quote

    from nexuslims.record.build import _url

    rng = random.Random(22)
    names = [bytes([b]) for b in range(1, 256) if b != ord("/")]
    names += [bytes(rng.choice(range(1, 256)) for _ in range(rng.randrange(1, 40)))
              for _ in range(2000)]
    for raw in names:
        path = os.fsdecode(b"folder one/" + raw)
        assert _url(path) == quote(os.fsencode(path), safe="/"), raw


def test_location_and_preview_are_url_quoted():
    ds = make_dataset(
        "a & b é.dm3",
        location="Titan/Jane Doe/a & b é.dm3",
        preview_location="Titan/Jane Doe/a & b é.dm3.thumb.png",
    )
    dataset = parse(build([make_activity([ds])])).find(".//nx:dataset", NS)
    assert (
        dataset.findtext("nx:location", namespaces=NS)
        == "Titan/Jane%20Doe/a%20%26%20b%20%C3%A9.dm3"
    )
    assert dataset.findtext("nx:preview", namespaces=NS) == (
        "Titan/Jane%20Doe/a%20%26%20b%20%C3%A9.dm3.thumb.png"
    )


def test_dataset_children_in_schema_order():
    ds = make_dataset(warnings=["w1", "w2"], error="bad header")
    dataset = parse(build([make_activity([ds])])).find(".//nx:dataset", NS)
    tags = [etree.QName(e).localname for e in dataset]
    assert tags[:6] == ["name", "location", "format", "description", "description", "description"]
    assert tags[6] == "preview"
    assert set(tags[7:]) == {"meta"}
    assert dataset.get("role") == "Experimental"
    assert "bad header" in dataset.findtext("nx:description", namespaces=NS)


def test_no_preview_element_without_a_preview():
    ds = make_dataset(preview_location=None)
    assert parse(build([make_activity([ds])])).find(".//nx:preview", NS) is None


@pytest.mark.parametrize(
    ("given", "recorded"),
    [
        ("Image", "Image"),
        ("Spectrum", "Spectrum"),
        ("SpectrumImage", "SpectrumImage"),
        ("spectrum image", "SpectrumImage"),
        ("Spectrum_Image", "SpectrumImage"),
        ("Diffraction", "Diffraction"),
        ("Misc", "Misc"),
        ("Hologram", "Unknown"),
        ("", "Unknown"),
    ],
)
def test_dataset_type_maps_to_schema_values(given, recorded):
    ds = make_dataset(dataset_type=given, nx_meta={"DatasetType": given})
    assert dataset_type(ds) == recorded
    assert parse(build([make_activity([ds])])).find(".//nx:dataset", NS).get("type") == recorded


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("a.dm3", "Gatan DigitalMicrograph 3 (.dm3)"),
        ("a.DM4", "Gatan DigitalMicrograph 4 (.dm4)"),
        ("a.ser", "FEI TIA series data (.ser)"),
        ("a.emd", "Electron Microscopy Dataset, HDF5 (.emd)"),
        ("a.tif", "image/tiff"),
        ("a.png", "image/png"),
        ("a.weird", "WEIRD"),
        ("noext", None),
    ],
)
def test_dataset_format_from_extension(name, expected):
    assert dataset_format(make_dataset(name)) == expected


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (True, "true"),
        (False, "false"),
        (3, "3"),
        (200.0, "200.0"),
        (0.1 + 0.2, "0.3"),
        (1.0000000002, "1.0"),
        (1.5e-7, "1.5e-07"),
        (123456.789, "123456.789"),
        (float("nan"), "NaN"),
        ([1, 2.5, "x"], "1, 2.5, x"),
        ((1, None), "1"),
        (None, ""),
        ("  padded  ", "padded"),
        (dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC), "2024-01-02T03:04:05+00:00"),
    ],
)
def test_format_value(value, text):
    assert format_value(value) == text


def test_format_value_numpy_scalars():
    np = pytest.importorskip("numpy")
    assert format_value(np.float32(200.1)) == "200.1"
    assert format_value(np.float64(0.5)) == "0.5"
    assert format_value(np.int16(7)) == "7"
    assert format_value(np.bool_(True)) == "true"
    assert format_value(np.array([1, 2])) == "1, 2"


def _fewest_digits(value: float) -> str:
    """The rule as written: the fewest significant digits within 1e-9 of the value."""
    for digits in range(1, 18):
        rounded = float(f"{value:.{digits}g}")
        if rounded == value or abs(rounded - value) <= 1e-9 * abs(value):
            return repr(rounded)
    return repr(value)


def test_float_text_is_the_fewest_digits_within_1e9_for_any_float():
    # Floats from random bits (every exponent, subnormals too), decimals as instruments
    # write them, and their neighbours one ulp away; signs both ways.
    import math
    import random
    import struct

    from nexuslims.record.values import float_text

    rng = random.Random(25)
    floats = [struct.unpack("<d", rng.getrandbits(64).to_bytes(8, "little"))[0]
              for _ in range(20_000)]
    floats += [round(rng.uniform(-1e4, 1e4), rng.randrange(0, 12)) * 10.0 ** rng.randrange(-12, 12)
               for _ in range(20_000)]
    floats += [math.nextafter(f, math.inf) for f in floats[20_000:25_000]]
    floats += [0.0, -0.0, 5e-324, -5e-324, 1.5e-323, 2.2250738585072014e-308,
               1.7976931348623157e308, 0.1 + 0.2, 1.0000000002, 9.9999999, 99999999.0,
               999999999.0, 1e16, 1.23e-05]
    checked = 0
    for value in floats:
        if math.isfinite(value):
            assert float_text(value) == _fewest_digits(value), value
            checked += 1
    assert checked > 40_000


# --------------------------------------------------------------------------- times, order


def test_reservation_across_dst_keeps_its_offsets():
    root = parse(build())
    assert root.findtext(".//nx:reservationStart", namespaces=NS) == "2024-03-09T09:00:00-05:00"
    assert root.findtext(".//nx:reservationEnd", namespaces=NS) == "2024-03-11T17:00:00-04:00"
    assert root.findtext(".//nx:startTime", namespaces=NS) == "2024-03-10T10:00:00-04:00"


def test_naive_times_are_the_instruments_wall_clock():
    res = make_reservation(start=dt.datetime(2024, 1, 5, 9), end=dt.datetime(2024, 7, 5, 9))
    act = Activity(0, dt.datetime(2024, 1, 5, 10), [make_dataset()])
    root = parse(build([act], res))
    assert root.findtext(".//nx:reservationStart", namespaces=NS) == "2024-01-05T09:00:00-05:00"
    assert root.findtext(".//nx:reservationEnd", namespaces=NS) == "2024-07-05T09:00:00-04:00"
    assert root.findtext(".//nx:startTime", namespaces=NS) == "2024-01-05T10:00:00-05:00"


def test_same_inputs_give_the_same_bytes():
    def world(reverse: bool) -> bytes:
        meta = {"a": 1, "b": 2.5, "c": "x", "DatasetType": "Image"}
        items = list(meta.items())[:: -1 if reverse else 1]
        ds = [
            make_dataset("a.dm3", nx_meta=dict(items)),
            make_dataset("b.dm3", nx_meta=dict(items)),
        ]
        return build([make_activity(ds)])

    assert world(False) == world(False)
    assert world(False) == world(True)


def test_activities_are_numbered_from_zero_in_start_order():
    late = make_activity([make_dataset("late.dm3")], seqno=5, hour=15)
    early = make_activity([make_dataset("early.dm3")], seqno=9, hour=9)
    middle = make_activity([make_dataset("middle.dm3")], seqno=1, hour=12)
    root = parse(build([late, early, middle]))
    activities = root.findall("nx:acquisitionActivity", NS)
    assert [a.get("seqno") for a in activities] == ["0", "1", "2"]
    names = [a.findtext("nx:dataset/nx:name", namespaces=NS) for a in activities]
    assert names == ["early.dm3", "middle.dm3", "late.dm3"]


def test_activity_without_datasets_is_still_valid():
    xml = build([make_activity([])])
    assert parse(xml).find("nx:acquisitionActivity/nx:dataset", NS) is None
    assert validate_record(xml) == []


# --------------------------------------------------------------------------- rendering


def test_xslt_renders_a_readable_page():
    transform = etree.XSLT(etree.parse(str(REPO / "xslt" / "experiment.xsl")))
    a = make_dataset("a.dm3", nx_meta={"Mag": 10, "Voltage (kV)": 200.0}, unreliable={"Mag"})
    b = make_dataset("b b.dm3", nx_meta={"Mag": 20, "Voltage (kV)": 200.0})
    html = transform(parse(build([make_activity([a, b])])), base=etree.XSLT.strparam("https://d/"))
    text = str(html)
    assert "<h1>Grain boundaries in steel</h1>" in text
    assert 'src="https://d/Titan/Jane/b%20b.dm3.thumb.png"' in text
    assert "Voltage (kV)" in text and "Setup" in text
    assert 'class="warning"' in text
    assert "Steel 316L" in text


def test_metadata_with_markup_and_whitespace_reads_back_as_given():
    # meta and param elements are written as XML text and parsed (record.build._params):
    # what the bytes say, and what the tree that validation and the index read holds,
    # must be each value exactly, whatever characters it has.
    tricky = {"a & b": 'x < y > z & "q"', "tab\tkey": "line\nbreak\rcarriage\r\nend",
              "quote\"key": "]]> &amp; not a reference", "emoji": "\U0001F52C 5 \u00b5m",
              "shared <setup>": "same\r\n", "unsure": "maybe"}
    datasets = [make_dataset(n, nx_meta={**tricky, "own": n}, unreliable={"unsure"})
                for n in ("a.dm3", "b.dm3")]
    tree = record_tree(make_reservation(), make_instrument(), [make_activity(datasets)])
    xml = serialize(tree)
    assert check_built(tree, xml) == []
    for root in (tree, parse(xml)):
        activity = root.find("nx:acquisitionActivity", NS)
        setup = values(activity.find("nx:setup", NS), "param")
        assert setup == {k.strip(): v.strip() for k, v in tricky.items()}
        assert activity.find("nx:setup/nx:param[@name='unsure']", NS).get("warning") == "true"
        metas = [values(d, "meta") for d in activity.findall("nx:dataset", NS)]
        assert metas == [{"own": "a.dm3"}, {"own": "b.dm3"}]


def test_a_huge_text_value_is_recorded_whole_and_not_kept_after():
    # Short texts (units, modes, names) are remembered cleaned between datasets; a long
    # one, which a hostile file can make megabytes long, is recorded but not remembered.
    from nexuslims.record import build, values

    huge = "description " * 100_000  # 1.2 MB
    name = "k" * 1000  # a key as long as a file may make it
    before = (values._text.cache_info().currsize, build._short_attribute.cache_info().currsize)
    datasets = [make_dataset(n, nx_meta={"Notes": huge + n, name: "x", "Mode": "STEM"})
                for n in ("a.dm3", "b.dm3")]
    xml = serialize(record_tree(make_reservation(), make_instrument(),
                                [make_activity(datasets)]))
    root = parse(xml)
    notes = root.findall(".//nx:dataset/nx:meta[@name='Notes']", NS)
    assert [n.text for n in notes] == [huge + "a.dm3", huge + "b.dm3"]
    assert root.find(f".//nx:setup/nx:param[@name='{name}']", NS).text == "x"
    after = (values._text.cache_info().currsize, build._short_attribute.cache_info().currsize)
    assert after[0] - before[0] <= 2  # "STEM" and "x" at most, not the notes
    assert after[1] - before[1] <= 2  # "Notes" and "Mode" at most, not the long key
