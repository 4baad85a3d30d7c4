"""Velox's small JSON datasets read with h5py's low-level calls: the values h5py's
high-level indexing gives, and errors of the kinds the extractor's callers catch."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest

from nexuslims.extractors._velox_layout import _json_at, first_of, stored_shape


def _column(text: bytes, size: int = 64, frames: int = 1) -> np.ndarray:
    raw = np.zeros((size, frames), np.uint8)
    raw[: len(text), 0] = np.frombuffer(text, np.uint8)
    return raw


@pytest.fixture
def velox_like(tmp_path: Path) -> h5py.File:
    path = tmp_path / "layout.h5"
    with h5py.File(path, "w") as h5:
        # one column per frame, chunked a column at a time, as Velox writes it
        h5.create_dataset("g/Metadata", data=_column(b'{"a": 1}', frames=3),
                          chunks=(64, 1))
        h5.create_dataset("g/InnerNul", data=_column(b'{"c": 2}\x00junk'))
        h5.create_dataset("g/Settings", data=np.array([b'{"bincount": 4096}'],
                                                      dtype=h5py.string_dtype("ascii")))
        h5.create_dataset("g/Utf8", data=np.array(['{"t": "Fe L\u2082,\u2083"}'],
                                                  dtype=h5py.string_dtype("utf-8")))
        h5.create_dataset("g/Fixed", data=np.array([b'{"f": 3}']))
        h5.create_dataset("g/Empty", shape=(0,), dtype=h5py.string_dtype("ascii"))
        h5["g/Scalar"] = 5
        h5.create_dataset("g/Data", shape=(16, 16, 2), dtype=np.uint16)
        h5.create_group("g/Sub")
    h5 = h5py.File(path, "r")
    yield h5
    h5.close()


def test_first_elements_are_what_h5py_indexing_gives(velox_like: h5py.File) -> None:
    group = velox_like["g"]
    for name in ("Settings", "Utf8", "Fixed"):
        value, expected = first_of(group, name), group[name][0]
        assert value == expected and type(value) is type(expected)
    assert first_of(velox_like, "/g/Settings") == velox_like["g/Settings"][0]  # by path
    assert stored_shape(group, "Data") == velox_like["g/Data"].shape == (16, 16, 2)


def test_json_documents_are_read_from_the_first_column_or_the_first_string(
        velox_like: h5py.File) -> None:
    group = velox_like["g"]
    assert _json_at(group, "Metadata") == {"a": 1}
    assert _json_at(group, "Settings") == {"bincount": 4096}
    assert _json_at(group, "Utf8") == json.loads('{"t": "Fe L\u2082,\u2083"}')
    with pytest.raises(ValueError):  # text after a NUL is kept, and is not JSON
        _json_at(group, "InnerNul")


@pytest.mark.parametrize("name, error", [
    ("Missing", KeyError), ("Sub", KeyError), ("Empty", IndexError), ("Scalar", ValueError),
])
def test_unreadable_names_raise_what_the_callers_catch(velox_like: h5py.File, name: str,
                                                       error: type[Exception]) -> None:
    with pytest.raises(error):
        first_of(velox_like["g"], name)


def test_a_path_that_is_not_text_is_a_type_error(velox_like: h5py.File) -> None:
    with pytest.raises(TypeError):  # a display's "data" that is no path
        first_of(velox_like, None)  # type: ignore[arg-type]
