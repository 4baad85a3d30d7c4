"""A reader's post-processing done on its dictionary gives the signal HyperSpy's steps give.

Each corpus DigitalMicrograph file is read by our loader and by HyperSpy's own
``load_with_reader`` (which builds the signal, then squeezes it and, for a spectrum
image, makes it a 1-D signal); the two must agree in data (values, layout), axes,
class and metadata.
"""

from __future__ import annotations

import types
from pathlib import Path

import numpy as np
import pytest


def _dm_files(corpus: Path) -> list[Path]:
    return sorted([*(corpus / "digitalmicrograph").iterdir(),
                   *(corpus / "nexuslims").glob("*.dm3")])


def _hyperspys(path: Path, lazy: bool) -> list:
    """HyperSpy's own load, of base classes as ours (an EELS or EDS type is blanked for
    the build and put back, so that no exspy class sets its own axis defaults)."""
    from hyperspy.io import load_with_reader
    from rsciio.digitalmicrograph import _api

    from nexuslims.extractors._quiet import quiet_hyperspy

    quiet_hyperspy()
    kinds = []

    def file_reader(filename, **kw):
        dicts = _api.file_reader(filename, **kw)
        for d in dicts:
            kinds.append(d["metadata"]["Signal"].get("signal_type"))
            d["metadata"]["Signal"]["signal_type"] = ""
        return dicts

    reader = types.ModuleType("dm_reader")
    reader.file_reader, reader.__loader__ = file_reader, _api.__loader__
    loaded = load_with_reader(str(path), reader, lazy=lazy)
    loaded = loaded if isinstance(loaded, list) else [loaded]
    for signal, kind in zip(loaded, kinds, strict=True):
        signal.metadata.Signal.signal_type = kind
    return loaded


def _metadata(signal) -> dict:
    md = signal.metadata.as_dictionary()
    md["General"].pop("FileIO", None)  # when it was read
    return md


@pytest.mark.parametrize("lazy", [False, True])
def test_dm_signals_are_those_hyperspys_post_processing_gives(corpus, lazy):
    from nexuslims.extractors._reader import load_signals

    for path in _dm_files(corpus):
        ours, theirs = load_signals(path, lazy=lazy), _hyperspys(path, lazy)
        assert len(ours) == len(theirs), path.name
        for mine, other in zip(ours, theirs, strict=True):
            assert mine._lazy == other._lazy == lazy, path.name
            assert type(mine) is type(other), path.name
            assert mine.axes_manager._get_axes_dicts() == other.axes_manager._get_axes_dicts()
            if lazy:
                assert mine.data.chunks == other.data.chunks, path.name
            data, other_data = np.asarray(mine.data), np.asarray(other.data)
            assert data.dtype == other_data.dtype, path.name
            assert data.shape == other_data.shape, path.name
            assert np.array_equal(data, other_data, equal_nan=True), path.name
            if not lazy:
                assert data.flags["C_CONTIGUOUS"] == other.data.flags["C_CONTIGUOUS"]
            assert _metadata(mine) == _metadata(other), path.name


def test_a_dm_spectrum_image_is_made_1d_on_its_dictionary(corpus):
    """EELS_SI.dm4 (a 2 x 2 spectrum image, stored energy first): read whole, its
    dictionary is transposed (energy last, the one signal axis), made contiguous and
    squeezed, so HyperSpy builds the signal once; read lazily it is left to HyperSpy,
    which chooses the chunks for the new axes."""
    from rsciio.digitalmicrograph import file_reader

    from nexuslims.extractors._post_process import post_process_in_dictionary

    path = corpus / "digitalmicrograph" / "EELS_SI.dm4"
    (d,) = file_reader(str(path), lazy=False)
    stored = d["data"]
    assert post_process_in_dictionary(d, lazy=False)
    assert "post_process" not in d
    assert [(a["index_in_array"], a["navigate"]) for a in d["axes"]] == [
        (0, True), (1, True), (2, False)]
    assert d["axes"][-1]["units"] == "eV"
    assert d["data"].flags["C_CONTIGUOUS"]
    assert np.array_equal(d["data"], np.moveaxis(stored, 0, -1))

    (lazy,) = file_reader(str(path), lazy=True)
    assert not post_process_in_dictionary(lazy, lazy=True)
    assert len(lazy["post_process"]) == 2


def _tree_set_by_hyperspy(metadata: dict, values: list) -> dict:
    from hyperspy.misc.utils import DictionaryTreeBrowser

    tree = DictionaryTreeBrowser(metadata, lazy=False)
    for path, value in values:
        tree.set_item(path, value)
    return tree.as_dictionary()


def test_mapped_tags_land_in_the_dictionary_where_set_item_puts_them(corpus):
    """Each corpus DM signal's mapped tags, put into its reader metadata, give the tree
    HyperSpy's ``set_item`` gives; a value that would not land the same way (under a
    leaf, a name HyperSpy would slugify, a group) leaves the dictionary as it was."""
    import copy

    from rsciio.digitalmicrograph import file_reader

    from nexuslims.extractors._post_process import map_into_metadata, mapped_values

    for path in _dm_files(corpus):
        for d in file_reader(str(path), lazy=True):
            values = mapped_values(d["original_metadata"], d["mapping"])
            assert values, path.name
            expected = _tree_set_by_hyperspy(copy.deepcopy(d["metadata"]), values)
            assert map_into_metadata(d, values), path.name
            assert d["metadata"] == expected, path.name
            before = copy.deepcopy(d["metadata"])
            first = values[0][0]
            for odd in ([(first + ".below_a_leaf", 1)], [("General.has space", 1)],
                        [("Sample.group", {"a": 1})], [("Signal.signal_type", "EELS")]):
                assert not map_into_metadata(d, values + odd), (path.name, odd)
                assert d["metadata"] == before, path.name


def test_remembered_slugify_answers_as_hyperspys(corpus):
    """Every key of a DM tag tree slugifies the same, remembered or not."""
    from hyperspy.misc import _utils
    from rsciio.digitalmicrograph import file_reader

    from nexuslims.extractors._reader import _memoize_slugify

    _memoize_slugify()
    plain = _utils.slugify.__wrapped__
    assert plain.__module__ == "hyperspy.misc._utils"
    keys: list = []

    def walk(node):
        for key, value in node.items():
            keys.append(key)
            if isinstance(value, dict):
                walk(value)

    for d in file_reader(str(corpus / "digitalmicrograph" / "EELS_SI.dm4"), lazy=True):
        walk(d["original_metadata"])
    assert len(keys) > 100
    for key in [*keys, *keys, 3, b"bytes"]:
        for valid in (False, True):
            assert _utils.slugify(key, valid) == plain(key, valid_variable_name=valid)


def test_plain_deepcopy_copies_a_dm_tag_tree_as_deepcopy_does(corpus) -> None:
    # RosettaSciIO's DM reader deep-copies its tag tree for every image; it is given a
    # pickle round trip instead (_reader.plain_deepcopy): equal, independent, and shared
    # parts still shared.
    import copy

    import numpy as np
    from rsciio.digitalmicrograph import file_reader

    from nexuslims.extractors._reader import plain_deepcopy

    tree = file_reader(str(corpus / "digitalmicrograph" / "EELS_SI.dm4"),
                       lazy=False)[0]["original_metadata"]
    shared = [1, 2]
    tree["twice"] = {"a": shared, "b": shared, "array": np.arange(3)}
    ours, theirs = plain_deepcopy(tree), copy.deepcopy(tree)
    assert repr(ours) == repr(theirs) and ours is not tree
    assert ours["twice"]["a"] is ours["twice"]["b"] and ours["twice"]["a"] is not shared
    ours["ImageList"]["TagGroup0"]["ImageData"]["Calibrations"] = None
    assert tree["ImageList"]["TagGroup0"]["ImageData"]["Calibrations"] is not None
    assert plain_deepcopy(lambda: 1) is not None  # not picklable: copy.deepcopy's copy
