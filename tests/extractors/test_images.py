"""Plain images: dimensions, mode, depth and format, EXIF capture time; visible previews."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from nexuslims.extractors._time import MTIME_WARNING
from nexuslims.extractors.images import ImageExtractor

EX = ImageExtractor()


def preview_of(dataset, tmp_path: Path) -> np.ndarray:
    out = tmp_path / "preview.png"
    dataset.render_preview(out)
    with Image.open(out) as image:
        return np.asarray(image.convert("L")).astype(float)


@pytest.mark.corpus
@pytest.mark.parametrize(
    ("name", "fmt", "mode", "dims"),
    [
        ("nexuslims/test_image_thumb_source.png", "PNG", "RGBA", "(1920, 2560, 4)"),
        ("nexuslims/test_image_thumb_source.jpg", "JPEG", "RGB", "(1920, 2560, 3)"),
        ("nexuslims/test_image_thumb_source.gif", "GIF", "P", "(1920, 2560)"),
        ("image/jpg_no_exif_tags.jpg", "JPEG", "RGB", "(182, 255, 3)"),
    ],
)
def test_corpus_images(corpus, denver, tmp_path, name, fmt, mode, dims) -> None:
    path = corpus / name
    assert EX.sniff(path)
    (ds,) = EX.extract(path, denver)
    meta = ds.nx_meta
    assert ds.dataset_type == meta["DatasetType"] == "Image"
    assert meta["Data Type"] == "Image"
    assert (meta["File Format"], meta["Color Mode"], meta["Data Dimensions"]) == (fmt, mode, dims)
    assert meta["Bit Depth"] == 8
    # no EXIF date in these files: the modification time, in Denver, flagged unreliable
    assert meta["Creation Time"][-6:] in ("-07:00", "-06:00")
    assert ds.unreliable == {"Creation Time"}
    assert meta["Creation Time Source"] == "modification time"
    assert ds.warnings == [MTIME_WARNING]
    pixels = preview_of(ds, tmp_path)
    assert max(pixels.shape) == 500 and pixels.std() > 10


def test_exif_capture_time_and_camera(tmp_path: Path, denver) -> None:
    image = Image.fromarray(np.random.default_rng(2).integers(0, 255, (60, 90, 3), np.uint8))
    exif = Image.Exif()
    exif[0x010F], exif[0x0110] = "Nikon", "D850"
    exif.get_ifd(0x8769).update({0x9003: "2022:07:08 09:10:11", 0x829A: 0.004})
    image.save(tmp_path / "photo.jpg", exif=exif)
    (ds,) = EX.extract(tmp_path / "photo.jpg", denver)
    meta = ds.nx_meta
    assert meta["Creation Time"] == "2022-07-08T09:10:11-06:00"
    assert meta["Creation Time Source"] == "file wall clock + timezone"
    assert meta["Camera Maker"] == "Nikon" and meta["Camera"] == "D850"
    assert meta["Exposure Time (s)"] == 0.004
    assert not ds.unreliable


def test_exif_offset_wins_over_instrument_timezone(tmp_path: Path, denver) -> None:
    exif = Image.Exif()
    exif.get_ifd(0x8769).update({0x9003: "2022:07:08 09:10:11", 0x9011: "+02:00"})
    Image.new("RGB", (10, 10), "red").save(tmp_path / "p.jpg", exif=exif)
    (ds,) = EX.extract(tmp_path / "p.jpg", denver)
    assert ds.nx_meta["Creation Time"] == "2022-07-08T09:10:11+02:00"


@pytest.mark.parametrize("fmt", ["PNG", "BMP", "GIF"])
def test_small_images_are_enlarged_and_grey_16bit_is_stretched(tmp_path, utc, fmt) -> None:
    data = (np.arange(40 * 30).reshape(30, 40) * 50).astype(np.uint16)
    if fmt == "PNG":
        image = Image.fromarray(data)
    else:
        image = Image.fromarray((data // 256).astype(np.uint8))
    path = tmp_path / f"x.{fmt.lower()}"
    image.save(path, fmt)
    (ds,) = EX.extract(path, utc)
    assert ds.nx_meta["Bit Depth"] == (16 if fmt == "PNG" else 8)
    pixels = preview_of(ds, tmp_path)
    assert pixels.shape == (375, 500) and pixels.std() > 40


def test_non_image_content_is_refused_and_broken_header_warns(tmp_path, utc) -> None:
    (tmp_path / "fake.png").write_text("this is text")
    assert not EX.sniff(tmp_path / "fake.png")
    (tmp_path / "cut.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    (ds,) = EX.extract(tmp_path / "cut.png", utc)
    assert ds.warnings and "Creation Time" in ds.nx_meta
