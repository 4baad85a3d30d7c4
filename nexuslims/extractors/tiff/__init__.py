"""TIFF extractors, one module per vendor family, each mostly a field table.

- :mod:`.fei` -- FEI/Thermo Fisher SEM/FIB (INI text in tag 34682)
- :mod:`.fei_tem` -- FEI/Thermo Fisher TEM (``<Root>`` XML in tag 34682/34683)
- :mod:`.tescan` -- Tescan SEM/FIB (tag 50431, else the ``.hdr`` sidecar)
- :mod:`.him` -- Zeiss Orion and Fibics helium-ion microscopes (XML, tags 65000/51023)
- :mod:`.zeiss` -- Zeiss SEM (SmartSEM parameters, tag 34118)
- :mod:`.tvips` -- TVIPS cameras (EM-MENU structure, tag 37706)
- :mod:`.jeol` -- JEOL TEM (SightX ``<TemReporter>`` or Analysis Center
  ``<TemReporter2>`` XML in the image description)
- :mod:`.gatan` -- DigitalMicrograph exports (calibration tags 65003-65013, the DM tag
  tree in tag 65027)
- :mod:`.plain` -- Olympus SIS (tag 33560) and any other TIFF

The registry imports each module on first use; tifffile reads tags only, never pixels.
Every value records its key in the file (``tiff:<tag> <where in it>``, see
:data:`nexuslims.extractors.fields.SOURCE_KINDS`).
"""

from ._common import Field, parse_ini
from .fei import FeiTiffExtractor, fei_meta, fei_text
from .fei_tem import FeiTemTiffExtractor
from .gatan import GatanTiffExtractor
from .him import HeliumIonTiffExtractor
from .jeol import JeolTiffExtractor
from .plain import OlympusTiffExtractor, TiffExtractor
from .tescan import TescanTiffExtractor
from .tvips import TvipsTiffExtractor
from .zeiss import ZeissTiffExtractor, parse_zeiss

__all__ = [
    "FeiTemTiffExtractor",
    "FeiTiffExtractor",
    "Field",
    "GatanTiffExtractor",
    "HeliumIonTiffExtractor",
    "JeolTiffExtractor",
    "OlympusTiffExtractor",
    "TescanTiffExtractor",
    "TiffExtractor",
    "TvipsTiffExtractor",
    "ZeissTiffExtractor",
    "fei_meta",
    "fei_text",
    "parse_ini",
    "parse_zeiss",
]
