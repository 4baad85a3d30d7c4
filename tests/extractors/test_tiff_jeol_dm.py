"""JEOL TEM TIFFs and TIFFs written by DigitalMicrograph.

No file of either kind is in the corpus, so each test BUILDS one with tifffile, laid out
as real files are:

- JEOL SightX: ``Make`` ``JEOL Ltd.`` and a ``<TemReporter>`` document in the
  ImageDescription, with the elements (``ElectronGun``, ``Eos``, ``ImageFormingSystem``,
  ``GonioStage/StagePosition``, ``JemBaumerCamera/Parameter``...) of RosettaSciIO's
  sample files ``rsciio/tests/data/tiff/JEOL-SightX-{TEM-mag,SAED,Ronchigram}-dummy.tif``
  and its reader ``rsciio/tiff/_api.py`` (``get_jeol_sightx_mapping``).
- JEOL Analysis Center: ``<TemReporter2>``, data-contract XML with namespace prefixes,
  with the elements the public converters read (github.com/trasse/jeoltodm, R. F.
  Webster's ``jeoltiff.py``; MNagasako/tool-jeoltif2dm-public): ``MeasurementReporter``,
  ``ObservationReporter/EOSReporter``, ``HTReporter``, ``DetectorReporter``,
  ``ScanGeneratorReporter``. None of them names a goniometer element, so none is built.
- DigitalMicrograph: calibration tags 65003-65013 and, in tag 65027, the image's tag group
  as a DM4 tag stream (version 4, 8-byte root length, byte order 1, then the root group),
  as in RosettaSciIO's ``test_loading_image_saved_with_DM.tif``; :func:`dm4_stream`
  writes that layout, which RosettaSciIO's DM parser reads back.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

from nexuslims.extractors import registry
from nexuslims.extractors.tiff import GatanTiffExtractor, JeolTiffExtractor

tifffile = pytest.importorskip("tifffile")

IMAGE = (np.arange(96 * 128, dtype=np.uint16).reshape(96, 128) * 5)

SIGHTX_XML = """<?xml version="1.0"?>\r
<TemReporter xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" \
xmlns:xsd="http://www.w3.org/2001/XMLSchema">\r
  <FormatVersion>1.0</FormatVersion>
  <Instruments>JEM-F200</Instruments>
  <Manufacturer>JEOL Ltd.</Manufacturer>
  <DateTime>2022-03-01T09:15:02.1234567+09:00</DateTime>
  <Operator>microscopist</Operator>
  <ElectronGun><GunType>gunFEG</GunType><AccelerationVoltage>200000</AccelerationVoltage>
    <EmissionCurrent>12.1</EmissionCurrent><BeamCurrent>180.5</BeamCurrent></ElectronGun>
  <Eos><EosMode>eosTEM</EosMode></Eos>
  <IlluminationSystem><Mode>modeTEM</Mode><SpotSizeString>3</SpotSizeString>
    <AlphaSelector>2</AlphaSelector><ImageField>modeBrightField</ImageField>
  </IlluminationSystem>
  <ImageFormingSystem><ImageFormingMode>modeDIFF</ImageFormingMode>
    <ModeString>DIFF</ModeString><SelectorValue>25</SelectorValue>
    <SelectorString>25cm</SelectorString><SelectorUnitString>cm</SelectorUnitString>
    <DefocusValue>-35.0 nm</DefocusValue></ImageFormingSystem>
  <GonioStage><HolderInformation><Name>Double Tilt</Name></HolderInformation>
    <StagePosition><MX>-512.4</MX><MY>88.2</MY><MZ>12.9</MZ><TX>-21.35</TX>
    <TY>4.6</TY><PX>0</PX><PY>0</PY></StagePosition></GonioStage>
  <JemBaumerCamera><Manufacturer>JEOL</Manufacturer><Modelname>EM-LargeScreenCamera</Modelname>
    <Parameter><BinningHorizontalSize>2</BinningHorizontalSize>
    <ExposureTimeValue>400000</ExposureTimeValue>
    <ExposureTimeString>400.00 msec</ExposureTimeString>
    <FrameIntegration>4</FrameIntegration></Parameter></JemBaumerCamera>
  <ImageSourceDetector>screenCamera</ImageSourceDetector>
</TemReporter>"""


def write_sightx(path: Path, xml: str) -> None:
    tifffile.imwrite(path, IMAGE, description=xml, metadata=None,
                     extratags=[(271, "s", 0, "JEOL Ltd.", True),
                                (272, "s", 0, "JEM-F200", True)],
                     datetime="2022:03:01 09:15:02", resolution=(93, 93), resolutionunit=2)


def test_jeol_sightx_diffraction_pattern_with_tilts(tmp_path: Path, denver) -> None:
    """Before, only ``<TemReporter2>`` was recognised and tilts were read from element
    names no JEOL file has: a SightX file came out as a plain TIFF, without tilts."""
    path = tmp_path / "saed.tif"
    write_sightx(path, SIGHTX_XML)
    assert registry.Registry(entry_points=False).select(path).name == "jeol_tiff"
    (ds,) = JeolTiffExtractor().extract(path, denver)
    meta = ds.nx_meta
    assert ds.dataset_type == "Diffraction" and meta["Data Type"] == "TEM_Diffraction"
    assert meta["Voltage (kV)"] == 200.0
    assert meta["Camera Length (mm)"] == 250.0  # 25 cm
    assert "Magnification (x)" not in meta and "Pixel Width (nm)" not in meta
    assert meta["Stage Position Alpha (deg)"] == -21.35
    assert meta["Stage Position Beta (deg)"] == 4.6
    assert ds.sources["Stage Position Alpha (deg)"] == (
        "tiff:270 TemReporter/GonioStage/StagePosition/TX")
    assert meta["Defocus (nm)"] == -35.0
    assert meta["Exposure Time (s)"] == 0.4  # us in the file ("400.00 msec")
    assert meta["Beam Current (pA)"] == 180.5
    assert meta["Microscope"] == "JEM-F200" and meta["Specimen Holder"] == "Double Tilt"
    assert meta["Frames Integrated"] == 4 and meta["Binning"] == 2
    # the PC's own offset, not the instrument zone's wall clock
    assert meta["Creation Time"] == "2022-03-01T09:15:02.123456+09:00"
    assert meta["Creation Time Source"] == "file absolute clock"
    assert ds.sources["Creation Time"] == "tiff:270 TemReporter/DateTime"
    assert ds.warnings == []


def test_jeol_sightx_stem_image(tmp_path: Path, utc) -> None:
    path = tmp_path / "stem.tif"
    xml = SIGHTX_XML.replace("eosTEM", "eosASID").replace(
        "<ModeString>DIFF", "<ModeString>MAG").replace(
        "<SelectorValue>25<", "<SelectorValue>400000<").replace(
        "<SelectorUnitString>cm<", "<SelectorUnitString>X<")
    write_sightx(path, xml)
    (ds,) = JeolTiffExtractor().extract(path, utc)
    assert ds.dataset_type == "Image" and ds.nx_meta["Data Type"] == "STEM_Imaging"
    assert ds.nx_meta["Magnification (x)"] == 400000.0
    assert "Camera Length (mm)" not in ds.nx_meta
    # the camera pixel (93 per inch, as in the SightX samples) over the magnification,
    # as RosettaSciIO scales these files
    assert ds.nx_meta["Pixel Width (nm)"] == pytest.approx(0.0254 / 93 / 400000 * 1e9, rel=1e-5)


ANALYSIS_CENTER_XML = """<TemReporter2 \
xmlns="http://schemas.datacontract.org/2004/07/Jeol.Tem.Reporter" \
xmlns:i="http://www.w3.org/2001/XMLSchema-instance">
<ImageDataInformation xmlns:a="http://schemas.datacontract.org/2004/07/Jeol.Imaging">
 <a:ImageSize xmlns:b="http://schemas.datacontract.org/2004/07/System.Drawing">
  <b:height>96</b:height><b:width>128</b:width></a:ImageSize></ImageDataInformation>
<MeasurementReporter xmlns:a="http://schemas.datacontract.org/2004/07/Jeol.Measurement">
 <a:AccVoltage>200000</a:AccVoltage>
 <a:MeasureLengthPerPixelReporter><a:LengthPerPixel>0.0845</a:LengthPerPixel>
 </a:MeasureLengthPerPixelReporter>
 <a:MeasurementUnitType>UnitType_Length</a:MeasurementUnitType>
 <a:SelectorValue>100000</a:SelectorValue></MeasurementReporter>
<ObservationReporter xmlns:a="http://schemas.datacontract.org/2004/07/Jeol.Observation">
 <a:EOSReporter xmlns:b="http://schemas.datacontract.org/2004/07/Jeol.Eos">
  <b:DefocusString>-52</b:DefocusString><b:DefocusUnitString>nm</b:DefocusUnitString>
  <b:OperationMode>TEM</b:OperationMode><b:SpotSizeString>1</b:SpotSizeString></a:EOSReporter>
 <a:HTReporter xmlns:b="http://schemas.datacontract.org/2004/07/Jeol.HT">
  <b:EmissionCurrent>98.5</b:EmissionCurrent></a:HTReporter>
 <a:DetectorReporter xmlns:b="http://schemas.datacontract.org/2004/07/Jeol.Detector">
  <b:DetectorKind>OneView</b:DetectorKind></a:DetectorReporter>
</ObservationReporter></TemReporter2>"""


def test_jeol_analysis_center_tiff(tmp_path: Path, denver) -> None:
    path = tmp_path / "jem.tif"
    tifffile.imwrite(path, IMAGE, description=ANALYSIS_CENTER_XML, metadata=None,
                     datetime="2021:07:02 15:04:05")
    assert registry.Registry(entry_points=False).select(path).name == "jeol_tiff"
    (ds,) = JeolTiffExtractor().extract(path, denver)
    meta = ds.nx_meta
    assert meta["Data Type"] == "TEM_Imaging"
    assert meta["Voltage (kV)"] == 200.0
    assert meta["Magnification (x)"] == 100000.0
    assert meta["Pixel Width (nm)"] == 0.0845
    assert meta["Defocus (nm)"] == -52.0
    assert meta["Emission Current"] == 98.5 and meta["Detector Name"] == "OneView"
    assert not [k for k in meta if "Tilt" in k or "Alpha" in k]  # nothing guessed
    assert ds.sources["Pixel Width (nm)"] == (
        "tiff:270 TemReporter2/MeasurementReporter/MeasureLengthPerPixelReporter/"
        "LengthPerPixel")
    assert meta["Creation Time"] == "2021-07-02T15:04:05-06:00"  # MDT, from tag 306

    diffraction = ANALYSIS_CENTER_XML.replace("UnitType_Length", "UnitType_Diffraction").replace(
        "100000</a:SelectorValue>", "250</a:SelectorValue>")
    tifffile.imwrite(path, IMAGE, description=diffraction, metadata=None)
    (ds,) = JeolTiffExtractor().extract(path, denver)
    assert ds.dataset_type == "Diffraction" and ds.nx_meta["Camera Length (mm)"] == 250.0
    assert "Magnification (x)" not in ds.nx_meta and "Pixel Width (nm)" not in ds.nx_meta


# -- DigitalMicrograph ---------------------------------------------------------------


def _dm_data(value: object) -> bytes:
    """A DM4 data tag's info array (big-endian) and value (little-endian)."""
    if isinstance(value, str):  # DM writes text as an array of UTF-16 code units
        units = value.encode("utf-16-le")
        return struct.pack(">4Q", 3, 20, 4, len(units) // 2) + units
    if isinstance(value, float):
        return struct.pack(">2Q", 1, 7) + struct.pack("<d", value)
    return struct.pack(">2Q", 1, 3) + struct.pack("<i", int(value))  # type: ignore[call-overload]


def _dm_group(group: dict) -> bytes:
    out = b""
    for name, value in group.items():
        label = name.encode("latin-1")
        out += struct.pack(">bH", 20 if isinstance(value, dict) else 21, len(label)) + label
        if isinstance(value, dict):
            body = _dm_group(value)
            out += struct.pack(">bbQQ", 0, 1, len(body), len(value)) + body
        else:
            body = b"%%%%" + _dm_data(value)
            out += struct.pack(">Q", len(body)) + body
    return out


def dm4_stream(tree: dict) -> bytes:
    """A DM4 tag stream of ``tree`` (the layout DigitalMicrograph writes in tag 65027)."""
    root = struct.pack(">bbQ", 1, 0, len(tree)) + _dm_group(tree)
    return struct.pack(">IQI", 4, len(root), 1) + root


DM_TAGS = {
    "Acquisition": {"Device": {"Name": "OneView"},
                    "Parameters": {"High Level": {"Exposure (s)": 0.8}}},
    "DataBar": {"Acquisition Date": "3/14/2024", "Acquisition Time": "2:05:09 PM",
                "Device Name": "OneView", "Exposure Time (s)": 0.8},
    "Microscope Info": {"Name": "Titan", "Voltage": 300000.0,
                        "Indicated Magnification": 38000.0, "Operation Mode": "IMAGING",
                        "Illumination Mode": "TEM", "Cs(mm)": 1.2,
                        "Stage Position": {"Stage Alpha": 12.5, "Stage X": -20.1},
                        "Operator": ""},
    "Session Info": {"Operator": "Ada", "Specimen": "Au on C"},
}
CALIBRATION = [(65003, "s", 3, "nm", False), (65004, "s", 3, "nm", False),
               (65009, 12, 1, 0.125, False), (65010, 12, 1, 0.125, False),
               (65012, "s", 10, "nanometer", False), (65013, "s", 10, "nanometer", False)]


def write_dm_tiff(path: Path, tree: dict | None = None, payload: bytes | None = None,
                  calibration: bool = True) -> None:
    payload = dm4_stream(tree or DM_TAGS) if payload is None else payload
    tags = (CALIBRATION if calibration else []) + [(65027, "B", len(payload), payload, False)]
    tifffile.imwrite(path, IMAGE, extratags=tags, metadata=None)


def test_dm_tiff_reports_the_dm_fields_of_its_tag_tree(tmp_path: Path, denver) -> None:
    """Before, only the calibration (65003-65013) was read: voltage, magnification,
    microscope, mode, exposure, stage and time in tag 65027 were dropped."""
    path = tmp_path / "dm_export.tif"
    write_dm_tiff(path)
    assert registry.Registry(entry_points=False).select(path).name == "gatan_tiff"
    (ds,) = GatanTiffExtractor().extract(path, denver)
    meta = ds.nx_meta
    assert meta["Data Type"] == "TEM_Imaging" and ds.dataset_type == "Image"
    assert meta["Pixel Width (nm)"] == 0.125 and meta["Calibration Unit"] == "nanometer"
    assert meta["Microscope Plug-in"] == "Titan" and meta["Voltage (kV)"] == 300.0
    assert meta["Indicated Magnification (x)"] == 38000.0
    assert meta["Operation Mode"] == "IMAGING"
    assert meta["Exposure Time (s)"] == 0.8 and meta["Camera"] == "OneView"
    assert meta["Stage Position Alpha (deg)"] == 12.5
    assert meta["Spherical Aberration Cs (mm)"] == 1.2
    assert meta["Operator"] == "Ada" and meta["Specimen"] == "Au on C"
    assert ds.sources["Voltage (kV)"] == "tiff:65027 Microscope Info.Voltage"
    assert ds.sources["Pixel Width (nm)"] == "tiff:65009 + tiff:65003"
    # DataBar's wall clock in Denver, already on daylight time on 14 March 2024
    assert meta["Creation Time"] == "2024-03-14T14:05:09-06:00"
    assert ds.sources["Creation Time"] == "tiff:65027 DataBar.Acquisition Time"
    assert ds.warnings == []


def test_dm_tiff_without_calibration_and_in_diffraction(tmp_path: Path, utc) -> None:
    path = tmp_path / "dm_diff.tif"
    tree = {**DM_TAGS, "Microscope Info": {**DM_TAGS["Microscope Info"],
                                           "Operation Mode": "DIFFRACTION"}}
    write_dm_tiff(path, tree, calibration=False)
    assert GatanTiffExtractor().sniff(path)
    (ds,) = GatanTiffExtractor().extract(path, utc)
    assert ds.dataset_type == "Diffraction" and ds.nx_meta["Data Type"] == "TEM_Diffraction"
    assert "Indicated Magnification (x)" in ds.unreliable  # a camera setting there


def test_dm_tiff_with_a_damaged_tag_stream_keeps_its_calibration(tmp_path: Path, utc) -> None:
    path = tmp_path / "dm_cut.tif"
    write_dm_tiff(path, payload=dm4_stream(DM_TAGS)[:60])
    (ds,) = GatanTiffExtractor().extract(path, utc)
    assert ds.nx_meta["Pixel Width (nm)"] == 0.125
    assert any("65027" in w and "unreadable" in w for w in ds.warnings)


def test_digitalmicrograph_tiff_calibration_preview(tmp_path: Path, utc) -> None:
    path = tmp_path / "dm_export.tif"
    tifffile.imwrite(path, IMAGE, extratags=CALIBRATION, metadata=None)
    (ds,) = GatanTiffExtractor().extract(path, utc)
    out = tmp_path / "p.png"
    ds.render_preview(out)  # 128 px x 0.125 nm = 16 nm wide: a 2 nm scale bar
    from PIL import Image

    with Image.open(out) as image:
        corner = np.asarray(image.convert("L"))[-60:, :150]
    assert (corner == 255).sum() > 100  # the white bar and its label


# -- the real files, when the corpus holds them ----------------------------------------
# RosettaSciIO's test suite has them (rsciio/tests/data/tiff/); the corpus does not yet.


@pytest.mark.corpus
@pytest.mark.parametrize("name, expected", [
    ("tiff/JEOL-SightX-SAED-dummy.tif", {
        "Data Type": "TEM_Diffraction", "Camera Length (mm)": 400.0,
        "Stage Position Alpha (deg)": 10.45, "Stage Position Beta (deg)": 9.97,
        "Creation Time": "2015-07-30T07:17:25.772534+09:00", "Microscope": "JEM-ARM200F"}),
    ("tiff/JEOL-SightX-TEM-mag-dummy.tif", {
        "Data Type": "TEM_Imaging", "Magnification (x)": 150000.0,
        "Pixel Width (nm)": 1.82079, "Exposure Time (s)": 0.1}),
    ("tiff/test_loading_image_saved_with_DM.tif", {
        "Data Type": "TEM_Imaging", "Microscope Plug-in": "FEI Tecnai", "Voltage (kV)": 200.0,
        "Indicated Magnification (x)": 51.0, "Exposure Time (s)": 0.5,
        "Creation Time": "2015-07-20T16:48:25.218750+00:00"}),
])
def test_real_jeol_and_dm_tiffs(corpus, utc, name, expected) -> None:
    path = corpus / name
    if not path.is_file():
        pytest.skip(f"{name} is not in the corpus")
    (ds,) = registry.Registry(entry_points=False).extract(path, utc)
    assert {k: ds.nx_meta.get(k) for k in expected} == expected
