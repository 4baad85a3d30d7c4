"""TIFF formats NexusLIMS 2.x reads: Tescan, Zeiss Orion / Fibics HIM, FEI TEM ``<Root>``.

No sample file of these formats is in the corpus, so each test BUILDS one with the real
writer library (tifffile) using the vendor's real tag id and a metadata payload laid out
like the vendor's own files (as documented by the public NexusLIMS 2.x test suite and
reader for these instruments): Tescan's INI text in tag 50431 without section headers
and after a few binary bytes, its ``.hdr`` sidecar with ``[MAIN]``/``[SEM]``; Zeiss
Orion's ``<ImageTags>`` of Value/Units pairs in tag 65000; Fibics' ``<Fibics>`` document
in tag 51023; the FEI TEM ``<Root>`` of Label/Value/Unit rows in tag 34682.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nexuslims.extractors import registry
from nexuslims.extractors.tiff import (
    FeiTemTiffExtractor,
    FeiTiffExtractor,
    HeliumIonTiffExtractor,
    TescanTiffExtractor,
)

tifffile = pytest.importorskip("tifffile")

TESCAN_MAIN = (
    "AccFrames=4\r\nAccType=\r\nCompany=\r\nDate=2025-12-03\r\nDescription=\r\n"
    "Device=TESCAN AMBER X\r\nDeviceModel=S12345\r\nFullUserName=Nexus User\r\n"
    "Magnification=160000.0\r\nPixelSizeX=1.5625e-09\r\nPixelSizeY=1.5625e-09\r\n"
    "SerialNumber=119-0053\r\nSoftwareVersion=TESCAN Essence Version 1.3.7.1, build 8915\r\n"
    "Time=17:19:26\r\nUserName=nxuser\r\n"
)
TESCAN_SEM = (
    "AcceleratorVoltage=15000.0\r\nChamberPressure=0.00061496\r\nDetector=E-T\r\n"
    "Detector0Gain=46.562\r\nDetector0Offset=73.76\r\nDwellTime=1e-05\r\n"
    "EmissionCurrent=0.000217642\r\nGunType=Schottky\r\nHV=15000.0\r\n"
    "PredictedBeamCurrent=1e-10\r\nScanMode=UH-RESOLUTION\r\nScanRotation=0.0\r\n"
    "SessionID=abcdefgh-ijkl-mnop-qrst-uvwxyz123456\r\nSpotSize=3e-09\r\n"
    "StageRotation=30.0\r\nStageTilt=0.0\r\nStageX=0.00407293\r\nStageY=0.016073298\r\n"
    "StageZ=0.006311907\r\nStigmatorX=6.02430344\r\nStigmatorY=-2.90339509\r\n"
    "WD=0.005947501\r\n"
)
IMAGE = (np.arange(96 * 128, dtype=np.uint16).reshape(96, 128) * 5)


def check_tescan(meta: dict) -> None:
    assert meta["Data Type"] == "SEM_Imaging"
    assert meta["Voltage (kV)"] == 15.0
    assert meta["Working Distance (mm)"] == pytest.approx(5.947501)
    assert meta["Spot Size (nm)"] == pytest.approx(3.0)
    assert meta["Emission Current (uA)"] == pytest.approx(217.642)
    assert meta["Chamber Pressure (Pa)"] == pytest.approx(0.00061496)
    assert meta["Pixel Width (nm)"] == pytest.approx(1.5625)
    assert meta["Magnification (x)"] == 160000.0
    assert meta["Stage Position X (um)"] == pytest.approx(4072.93)
    assert meta["Stage Position R (degrees)"] == 30.0
    assert meta["Dwell Time (us)"] == pytest.approx(10.0)
    assert meta["Detector Name"] == "E-T" and meta["Detector Gain"] == 46.562
    assert meta["Instrument Type"] == "TESCAN AMBER X"
    assert meta["Frames Accumulated"] == 4
    assert meta["Operator"] == "Nexus User"
    assert "Description" not in meta  # empty in the file: nothing invented
    assert meta["Creation Time"] == "2025-12-03T17:19:26+00:00"


def test_tescan_metadata_from_tag_50431(tmp_path: Path, utc) -> None:
    path = tmp_path / "amber.tif"
    payload = b"\x01\x00\x7f\x02" + (TESCAN_MAIN + TESCAN_SEM).encode() + b"\x00"
    tifffile.imwrite(path, IMAGE, extratags=[(50431, 7, len(payload), payload, True)],
                     metadata=None)
    extractor = TescanTiffExtractor()
    assert extractor.sniff(path) and not FeiTiffExtractor().sniff(path)
    (ds,) = extractor.extract(path, utc)
    check_tescan(ds.nx_meta)
    assert ds.nx_meta["Metadata Source"] == "TIFF tag 50431"
    assert "Operator" in ds.unreliable
    assert ds.warnings == []


def test_tescan_falls_back_to_the_hdr_sidecar(tmp_path: Path, utc) -> None:
    path = tmp_path / "amber.tif"
    tifffile.imwrite(path, IMAGE, metadata=None)
    assert not TescanTiffExtractor().sniff(path)  # a plain TIFF without its header
    path.with_suffix(".hdr").write_text(f"[MAIN]\r\n{TESCAN_MAIN}[SEM]\r\n{TESCAN_SEM}")
    assert TescanTiffExtractor().sniff(path)
    (ds,) = TescanTiffExtractor().extract(path, utc)
    check_tescan(ds.nx_meta)
    assert ds.nx_meta["Metadata Source"] == "amber.hdr"


ORION_XML = """<?xml version="1.0" encoding="utf-8"?>
<ImageTags>
  <AccelerationVoltage><Value>29989.3</Value><Units>V</Units></AccelerationVoltage>
  <BlankerCurrent><Value>0.521</Value><Units>pA</Units></BlankerCurrent>
  <SpotNumber><Value>5</Value><Units></Units></SpotNumber>
  <WorkingDistance><Value>8.75</Value><Units>mm</Units></WorkingDistance>
  <Fov><Value>12.5</Value><Units>um</Units></Fov>
  <DwellTime><Value>0.5</Value><Units>us</Units></DwellTime>
  <NumAverages><Value>32</Value><Units></Units></NumAverages>
  <StageX><Value>-1523.1</Value><Units>um</Units></StageX>
  <StageY><Value>2214.9</Value><Units>um</Units></StageY>
  <StageZ><Value>12.3</Value><Units>mm</Units></StageZ>
  <StageTilt><Value>45</Value><Units>deg</Units></StageTilt>
  <GFIS><IonGas><Value>He</Value><Units></Units></IonGas>
        <ApertureSize><Value>10</Value><Units>um</Units></ApertureSize></GFIS>
  <Detector><Value>ETDetector</Value><Units></Units></Detector>
</ImageTags>"""

FIBICS_XML = """<?xml version="1.0" encoding="iso-8859-1"?>
<Fibics version="1.0">
  <Application><Version>Fibics NPVE v4.5</Version></Application>
  <Image><Width>128</Width><Height>96</Height><Beam>Orion</Beam><Machine>Orion NanoFab</Machine>
    <Detector>SE</Detector><Contrast>31.2</Contrast><Brightness>48.9</Brightness></Image>
  <Scan><Dwell units="ns">2000</Dwell><LineAvg>4</LineAvg><FOV_X units="um">5.12</FOV_X>
    <FOV_Y units="um">3.84</FOV_Y><ScanRot units="deg">12.5</ScanRot></Scan>
  <Stage><X units="um">104.2</X><Y units="um">-88.1</Y><Z units="um">7650</Z>
    <Tilt units="deg">0</Tilt><Rot units="deg">181.5</Rot></Stage>
  <BeamInfo><item name="BeamI">0.85</item><item name="AccV">25000</item>
    <item name="GFISGas">Ne</item></BeamInfo>
  <DetectorInfo><item name="Collector">=500.0 V</item></DetectorInfo>
</Fibics>"""


def test_zeiss_orion_him_tiff(tmp_path: Path, utc) -> None:
    path = tmp_path / "orion.tif"
    tifffile.imwrite(path, IMAGE, extratags=[(65000, "s", 0, ORION_XML, True)], metadata=None)
    assert HeliumIonTiffExtractor().sniff(path)
    (ds,) = HeliumIonTiffExtractor().extract(path, utc)
    meta = ds.nx_meta
    assert meta["Data Type"] == "HIM_Imaging"
    assert meta["Voltage (kV)"] == pytest.approx(29.9893)  # from V, by the file's <Units>
    assert meta["Beam Current (pA)"] == 0.521
    assert meta["Working Distance (mm)"] == 8.75
    assert meta["Horizontal Field Width (um)"] == 12.5
    assert meta["Pixel Width (nm)"] == pytest.approx(12.5e3 / 128)
    assert meta["Stage Position Z (um)"] == pytest.approx(12300.0)  # mm in the file
    assert meta["Stage Position Tilt (degrees)"] == 45.0
    assert meta["Frames Averaged"] == 32
    assert meta["Ion Gas"] == "He" and meta["Aperture Diameter (um)"] == 10.0
    assert meta["Detector Name"] == "ETDetector"


def test_fibics_him_tiff(tmp_path: Path, utc) -> None:
    path = tmp_path / "fibics.tif"
    tifffile.imwrite(path, IMAGE, extratags=[(51023, "s", 0, FIBICS_XML, True)],
                     metadata=None)
    assert HeliumIonTiffExtractor().sniff(path)
    (ds,) = HeliumIonTiffExtractor().extract(path, utc)
    meta = ds.nx_meta
    assert meta["Metadata Source"] == "TIFF tag 51023 (Fibics)"
    assert meta["Voltage (kV)"] == 25.0 and meta["Beam Current (pA)"] == 0.85
    assert meta["Dwell Time (us)"] == 2.0  # ns in the file
    assert meta["Horizontal Field Width (um)"] == 5.12
    assert meta["Stage Position R (degrees)"] == 181.5
    assert meta["Collector Voltage (V)"] == 500.0
    assert meta["Ion Gas"] == "Ne" and meta["Instrument Type"] == "Orion NanoFab"
    assert meta["Line Averaging"] == 4


FEI_TEM_XML = """<?xml version="1.0" encoding="utf-8"?>
<Root>
  <Data><Label>Microscope</Label><Value>Tecnai F30</Value><Unit></Unit></Data>
  <Data><Label>Gun type</Label><Value>FEG</Value><Unit></Unit></Data>
  <Data><Label>High tension</Label><Value>300</Value><Unit>kV</Unit></Data>
  <Data><Label>Extraction voltage</Label><Value>4100</Value><Unit>V</Unit></Data>
  <Data><Label>Emission</Label><Value>132.5</Value><Unit>µA</Unit></Data>
  <Data><Label>Spot size</Label><Value>3</Value><Unit></Unit></Data>
  <Data><Label>Mode</Label><Value>TEM HM Imaging</Value><Unit></Unit></Data>
  <Data><Label>Magnification</Label><Value>59000</Value><Unit></Unit></Data>
  <Data><Label>Defocus</Label><Value>-1.25</Value><Unit>µm</Unit></Data>
  <Data><Label>Stage X</Label><Value>12.7</Value><Unit>µm</Unit></Data>
  <Data><Label>Stage A</Label><Value>-15.2</Value><Unit>°</Unit></Data>
  <Data><Label>Pixel size</Label><Value>0.187</Value><Unit>nm</Unit></Data>
  <Data><Label>Objective aperture</Label><Value>40</Value><Unit>µm</Unit></Data>
</Root>"""


def test_fei_tem_tiff_with_root_xml(tmp_path: Path, utc) -> None:
    path = tmp_path / "tecnai.tif"
    payload = FEI_TEM_XML.encode("utf-8")  # µ and ° as the TEM software writes them
    tifffile.imwrite(path, IMAGE, extratags=[(34682, 7, len(payload), payload, True)],
                     metadata=None, datetime="2019:05:14 10:31:07")
    assert FeiTemTiffExtractor().sniff(path)
    assert not FeiTiffExtractor().sniff(path)  # not INI sections: not the SEM reader's
    (ds,) = FeiTemTiffExtractor().extract(path, utc)
    meta = ds.nx_meta
    assert meta["Data Type"] == "TEM_Imaging" and meta["DatasetType"] == "Image"
    assert meta["Voltage (kV)"] == 300.0 and meta["Microscope"] == "Tecnai F30"
    assert meta["Emission Current (uA)"] == 132.5
    assert meta["Defocus (um)"] == -1.25
    assert meta["Stage Position Alpha (degrees)"] == -15.2
    assert meta["Pixel Width (nm)"] == 0.187
    assert meta["Objective aperture (µm)"] == 40.0  # an unknown row is kept, not dropped
    assert meta["Creation Time"] == "2019-05-14T10:31:07+00:00"


def test_registry_chooses_the_vendor_extractors(tmp_path: Path) -> None:
    files = {
        "tescan.tif": [(50431, 7, 0, (TESCAN_MAIN + TESCAN_SEM).encode(), True)],
        "orion.tif": [(65000, "s", 0, ORION_XML, True)],
        "fibics.tif": [(51023, "s", 0, FIBICS_XML, True)],
        "tecnai.tif": [(34682, 7, 0, FEI_TEM_XML.encode("utf-8"), True)],
    }
    reg = registry.Registry(entry_points=False)
    chosen = {}
    for name, tags in files.items():
        tags = [(c, d, len(v) if d == 7 else n, v, w) for c, d, n, v, w in tags]
        tifffile.imwrite(tmp_path / name, IMAGE, extratags=tags, metadata=None)
        chosen[name] = reg.select(tmp_path / name).name
    assert chosen == {"tescan.tif": "tescan_tiff", "orion.tif": "him_tiff",
                      "fibics.tif": "him_tiff", "tecnai.tif": "fei_tem_tiff"}
