"""Which extractor reads a file, and which preview generator draws it.

Built-in extractors are *declared* (module path + class name) and imported on first
use, so importing this module — and starting ``nexuslims`` — loads no reader; extractor
modules themselves import hyperspy/rsciio only inside ``extract``. Third-party
extractors come from the ``nexuslims.extractors`` entry-point group. A declared module
that is not there (yet) is skipped quietly; a plug-in that fails to load is skipped
with a warning. Whatever happens, :func:`extract` answers: the basic extractor
(name, size, modification time, MIME type) stands behind every other one. A header that
claims absurdly more data than the file holds is not handed to a reader (``_guards``).
"""

from __future__ import annotations

import importlib
import importlib.metadata
import logging
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._common import cut_short, without_path
from ._guards import check as check_header
from .base import ExtractedDataset, ExtractionContext, Extractor
from .basic import BasicExtractor, basic_dataset

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "nexuslims.extractors"
PREVIEW_ENTRY_POINT_GROUP = "nexuslims.previews"


@dataclass(frozen=True)
class Declaration:
    """A built-in plug-in: the module that holds it and the attribute to instantiate."""

    module: str
    attr: str


BUILTIN_EXTRACTORS: tuple[Declaration, ...] = (
    Declaration("nexuslims.extractors.digitalmicrograph", "DigitalMicrographExtractor"),
    Declaration("nexuslims.extractors.tia", "TiaSerExtractor"),
    Declaration("nexuslims.extractors.tia", "TiaEmiExtractor"),
    Declaration("nexuslims.extractors.velox", "VeloxEmdExtractor"),
    Declaration("nexuslims.extractors.hyperspy_formats", "BrukerExtractor"),
    Declaration("nexuslims.extractors.hyperspy_formats", "EdaxSpcExtractor"),
    Declaration("nexuslims.extractors.msa", "MsaExtractor"),
    Declaration("nexuslims.extractors.hyperspy_formats", "HyperSpyExtractor"),
    Declaration("nexuslims.extractors.mrc", "MrcExtractor"),
    Declaration("nexuslims.extractors.more_formats", "PhenomExtractor"),
    Declaration("nexuslims.extractors.more_formats", "NcemEmdExtractor"),
    Declaration("nexuslims.extractors.tiff.tescan", "TescanTiffExtractor"),
    Declaration("nexuslims.extractors.tiff.him", "HeliumIonTiffExtractor"),
    Declaration("nexuslims.extractors.tiff.fei_tem", "FeiTemTiffExtractor"),
    Declaration("nexuslims.extractors.tiff.jeol", "JeolTiffExtractor"),
    Declaration("nexuslims.extractors.tiff.fei", "FeiTiffExtractor"),
    Declaration("nexuslims.extractors.tiff.zeiss", "ZeissTiffExtractor"),
    Declaration("nexuslims.extractors.tiff.tvips", "TvipsTiffExtractor"),
    Declaration("nexuslims.extractors.tiff.plain", "OlympusTiffExtractor"),
    Declaration("nexuslims.extractors.tiff.gatan", "GatanTiffExtractor"),
    Declaration("nexuslims.extractors.tiff.plain", "TiffExtractor"),
    Declaration("nexuslims.extractors.images", "ImageExtractor"),
    Declaration("nexuslims.extractors.text", "TextExtractor"),
)


@dataclass(frozen=True)
class PreviewGenerator:
    """Draws a PNG preview of a whole file (for datasets whose extractor gave none).

    ``render(path, out)`` is looked up as ``module:attr`` on first use. Entry points in
    the ``nexuslims.previews`` group may provide objects with the same four attributes
    and a ``render`` method.
    """

    name: str
    extensions: frozenset[str]
    module: str
    attr: str
    priority: int = 0

    def render(self, path: Path, out: Path) -> None:
        """Write a PNG preview of ``path`` to ``out`` (may raise; the caller catches)."""
        getattr(importlib.import_module(self.module), self.attr)(path, out)


_IMAGE_EXTENSIONS = frozenset({"png", "jpg", "jpeg", "gif", "bmp", "tif", "tiff"})
_TEXT_EXTENSIONS = frozenset({"txt", "log", "csv", "md", "ini", "cfg", "json", "xml"})

BUILTIN_PREVIEWS: tuple[PreviewGenerator, ...] = (
    PreviewGenerator("image", _IMAGE_EXTENSIONS, "nexuslims.previews", "render_image_file"),
    PreviewGenerator("text", _TEXT_EXTENSIONS, "nexuslims.previews", "render_text_file"),
)


def _extension(path: Path) -> str:
    return path.suffix.lower().lstrip(".")


def _normalise(extensions: Iterable[str]) -> frozenset[str]:
    return frozenset(str(e).lower().lstrip(".") for e in extensions)


def _describe(exc: BaseException, path: Path | None = None) -> str:
    """Why a reader failed on ``path``, in a record's words: no server path, and a file
    that ends early said to be cut short before the technical detail."""
    text = str(exc).strip() if path is None else without_path(str(exc).strip(), path)
    kind = type(exc).__name__
    if kind == "error":  # struct.error, zlib.error: the module says which
        kind = f"{type(exc).__module__}.error"
    detail = f"{kind}: {text}" if text else kind
    if path is not None and cut_short(exc):
        return f"the file ends before its data does (cut short: a copy still under way, " \
               f"or one that failed?): {detail}"
    return detail


EMPTY_FILE = "the file is empty (0 bytes): a copy still under way, or one that failed"
"""Why a file of a data format with nothing in it has no metadata (rather than a list of
the formats it does not look like). A reader that accepts an empty file (a blank note) is
not second-guessed."""


def _empty(path: Path) -> bool:
    try:
        return path.stat().st_size == 0 and path.is_file()
    except OSError:
        return False  # said by the reader that cannot open it


def _format_name(extractor: Any) -> str:
    return str(getattr(extractor, "format_name", None) or getattr(extractor, "name", "?"))


def _usable(obj: Any) -> bool:
    return all(hasattr(obj, a) for a in ("name", "extensions", "extract"))


class Registry:
    """Chooses an extractor per file; never fails to answer.

    Parameters
    ----------
    declarations
        Built-in extractors to import on first use.
    entry_points
        Whether to load third-party plug-ins from the entry-point groups.
    """

    def __init__(
        self,
        declarations: Iterable[Declaration] = BUILTIN_EXTRACTORS,
        *,
        previews: Iterable[Any] = BUILTIN_PREVIEWS,
        entry_points: bool = True,
    ) -> None:
        self._declarations = tuple(declarations)
        self._builtin_previews = tuple(previews)
        self._use_entry_points = entry_points
        self._extractors: list[Any] | None = None
        self._previews: list[Any] | None = None
        self._extra: list[Any] = []
        self._lock = threading.Lock()
        self.fallback = BasicExtractor()

    # -- loading -------------------------------------------------------------------------

    def _load_declared(self) -> list[Any]:
        found: list[Any] = []
        for decl in self._declarations:
            try:
                module = importlib.import_module(decl.module)
            except ModuleNotFoundError as exc:
                if exc.name == decl.module:
                    log.debug("extractor module %s is not there; skipped", decl.module)
                else:
                    log.warning("extractor module %s cannot be imported: %s", decl.module, exc)
                continue
            except Exception as exc:  # noqa: BLE001 - a broken module must not stop the others
                log.warning("extractor module %s cannot be imported: %s", decl.module, exc)
                continue
            cls = getattr(module, decl.attr, None)
            if cls is None:
                log.debug("extractor %s.%s is not there; skipped", decl.module, decl.attr)
                continue
            try:
                found.append(cls() if isinstance(cls, type) else cls)
            except Exception as exc:  # noqa: BLE001
                log.warning("extractor %s.%s cannot be created: %s", decl.module, decl.attr, exc)
        return found

    def _load_entry_points(self, group: str) -> list[Any]:
        if not self._use_entry_points:
            return []
        found: list[Any] = []
        try:
            eps = importlib.metadata.entry_points(group=group)
        except Exception as exc:  # noqa: BLE001
            log.warning("cannot list %s plug-ins: %s", group, exc)
            return []
        for ep in eps:
            try:
                obj = ep.load()
                if isinstance(obj, type):
                    obj = obj()
            except Exception as exc:  # noqa: BLE001 - a broken plug-in is skipped, not fatal
                log.warning("plug-in %r (%s) cannot be loaded and is skipped: %s",
                            ep.name, ep.value, _describe(exc))
                continue
            needs = ("name", "extensions", "extract") if group == ENTRY_POINT_GROUP else (
                "name", "extensions", "render")
            if not all(hasattr(obj, a) for a in needs):
                log.warning("plug-in %r (%s) lacks one of %s and is skipped",
                            ep.name, ep.value, ", ".join(needs))
                continue
            log.debug("loaded %s plug-in %r from %s", group, ep.name, ep.value)
            found.append(obj)
        return found

    def extractors(self) -> list[Extractor]:
        """Every usable extractor, highest priority first (the fallback not included)."""
        with self._lock:
            if self._extractors is None:
                loaded = self._load_declared() + self._load_entry_points(ENTRY_POINT_GROUP)
                self._extractors = [e for e in loaded if _usable(e)]
            everything = self._extractors + self._extra
        return sorted(everything, key=lambda e: -int(getattr(e, "priority", 0)))

    def previews(self) -> list[Any]:
        """Every preview generator, highest priority first."""
        with self._lock:
            if self._previews is None:
                self._previews = list(self._builtin_previews) + self._load_entry_points(
                    PREVIEW_ENTRY_POINT_GROUP
                )
            return sorted(self._previews, key=lambda p: -int(getattr(p, "priority", 0)))

    def register(self, extractor: Extractor) -> None:
        """Add an extractor at run time (tests, embedding applications)."""
        if not _usable(extractor):
            raise TypeError(f"{extractor!r} lacks name, extensions or extract")
        with self._lock:
            self._extra.append(extractor)

    # -- choosing ------------------------------------------------------------------------

    def known_extensions(self) -> frozenset[str]:
        """Extensions some real (non-fallback) extractor reads, lower case, no dot."""
        out: set[str] = set()
        for ex in self.extractors():
            out |= _normalise(ex.extensions)
        return frozenset(out)

    def candidates(self, path: Path) -> list[Extractor]:
        """Extractors declaring ``path``'s extension, highest priority first."""
        ext = _extension(path)
        return [e for e in self.extractors() if ext in _normalise(e.extensions)]

    def _choose(self, path: Path) -> tuple[Any, list[str], OSError | None]:
        """The extractor for ``path``, the formats that refused it, and why it can't be
        opened (permissions, vanished, I/O error) if that is why they all refused."""
        rejected: list[str] = []
        for ex in self.candidates(path):
            sniff = getattr(ex, "sniff", None)
            try:
                accepted = True if sniff is None else bool(sniff(path))
            except OSError as exc:
                # The file itself cannot be read: no other reader will do better.
                return self.fallback, [*rejected, _format_name(ex)], exc
            except Exception as exc:  # noqa: BLE001 - a failing sniff is a "no"
                log.debug("%s: sniff of %s failed: %s", ex.name, path, exc)
                accepted = False
            if accepted:
                return ex, rejected, None
            rejected.append(_format_name(ex))
        return self.fallback, rejected, None

    def select(self, path: Path) -> Extractor:
        """The extractor that will read ``path`` (the basic one if no other accepts)."""
        return self._choose(path)[0]

    def extract(self, path: Path, context: ExtractionContext) -> list[ExtractedDataset]:
        """Read ``path`` with the best extractor; never raises.

        An extractor that raises or returns something other than a list of datasets is
        replaced by the basic file information plus an ``error`` saying why.
        """
        extractor, rejected, unreadable = self._choose(path)
        if unreadable is not None:
            reason = f"cannot read the file: {unreadable.strerror or unreadable}"
            return [basic_dataset(path, context, error=reason, warnings=[reason])]
        if extractor is self.fallback:
            if not rejected:
                return [basic_dataset(path, context)]
            # A known extension with foreign content (empty, truncated, misnamed): an error
            # the user should see, not just a note.
            reason = EMPTY_FILE if _empty(path) else (
                f"content does not look like {' or '.join(rejected)}; "
                "basic file information only")
            return [basic_dataset(path, context, error=reason)]
        claim = check_header(path)
        if claim is not None and claim.refuse:
            log.warning("%s: %s", path, claim.message)
            return [basic_dataset(path, context, error=claim.message)]
        try:
            result = extractor.extract(path, context)
            if not isinstance(result, list) or not all(
                isinstance(d, ExtractedDataset) for d in result
            ):
                raise TypeError(f"extractor returned {type(result).__name__}, not datasets")
        except MemoryError:
            raise  # in a worker: past NX_EXTRACT_MEMORY_MB, which the pool reports
        except Exception as exc:  # noqa: BLE001 - translate any reader failure into data
            reason = EMPTY_FILE if _empty(path) else \
                f"could not read as {_format_name(extractor)}: {_describe(exc, path)}"
            log.warning("%s: %s", path, reason)
            return [basic_dataset(path, context, error=reason)]
        if claim is not None:
            for dataset in result:
                dataset.warnings.append(claim.message)
        return result

    def preview_generator(self, path: Path) -> Any | None:
        """The whole-file preview generator for ``path``, or None."""
        ext = _extension(path)
        for gen in self.previews():
            if ext in _normalise(gen.extensions):
                return gen
        return None


_default: Registry | None = None
_default_lock = threading.Lock()


def default_registry() -> Registry:
    """The process-wide registry (built-ins plus installed plug-ins)."""
    global _default
    with _default_lock:
        if _default is None:
            _default = Registry()
        return _default


def reload() -> Registry:
    """Forget loaded plug-ins and build the registry afresh (e.g. after installing one)."""
    global _default
    with _default_lock:
        _default = None
    importlib.invalidate_caches()
    return default_registry()


def extract(path: Path, context: ExtractionContext | None = None) -> list[ExtractedDataset]:
    """Read ``path`` with the default registry (see :meth:`Registry.extract`)."""
    return default_registry().extract(Path(path), context or ExtractionContext())


def select(path: Path) -> Extractor:
    """The extractor the default registry would use for ``path``."""
    return default_registry().select(Path(path))


def known_extensions() -> frozenset[str]:
    """Extensions with a real extractor (used for ``NX_FILE_STRATEGY=exclusive``)."""
    return default_registry().known_extensions()


def preview_generator(path: Path) -> Any | None:
    """The default registry's whole-file preview generator for ``path``, or None."""
    return default_registry().preview_generator(Path(path))
