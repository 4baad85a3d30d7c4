"""Previews: every kind of data becomes a visible 500 px PNG, written atomically.

Previews are always 500 px on their longest side: small sources are enlarged (nearest
neighbour), large ones reduced, so a record's previews share one scale.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from nexuslims import previews
from nexuslims.previews._plot import LINE

YY, XX = np.mgrid[0:128, 0:160]
GRADIENT = (XX + YY).astype(np.float64)


def load(out: Path) -> np.ndarray:
    with Image.open(out) as image:
        assert image.format == "PNG"
        return np.asarray(image.convert("RGB")).astype(np.int32)


def assert_visible(pixels: np.ndarray, longest: int = 500) -> None:
    assert max(pixels.shape[:2]) == longest
    grey = pixels.mean(axis=2)
    assert grey.std() > 20, "preview is (nearly) one flat colour"
    assert grey.max() - grey.min() > 100


def line_pixels(pixels: np.ndarray) -> int:
    return int(np.all(np.abs(pixels - np.array(LINE)) < 30, axis=2).sum())


@pytest.mark.parametrize(
    "data",
    [
        (GRADIENT * 400).astype(np.uint16),  # 16-bit, narrow part of the range used
        (GRADIENT / 7.3).astype(np.uint8),
        (GRADIENT * 1e-9).astype(np.float32),
        (GRADIENT - 1e6).astype(np.float64),
        (GRADIENT * 1000).astype(np.int32),
    ],
    ids=["uint16", "uint8", "float32-tiny", "float64-offset", "int32"],
)
def test_images_of_every_depth_are_visible(tmp_path: Path, data: np.ndarray) -> None:
    out = tmp_path / "p.png"
    previews.render_array(data, out, kind="image")
    pixels = load(out)
    assert pixels.shape[:2] == (400, 500)  # 128 x 160 enlarged to longest side 500
    assert_visible(pixels)


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.uint16, np.int16])
def test_small_integer_images_stretch_as_their_float_copies_do(dtype: type) -> None:
    # 8- and 16-bit images go through a look-up table: the very same grey levels.
    from nexuslims.previews._raster import to_uint8

    rng = np.random.default_rng(7)
    info = np.iinfo(dtype)
    cases = [
        rng.integers(info.min, int(info.max) + 1, (300, 411)).astype(dtype),  # full range
        np.clip(rng.normal(info.min / 2 + info.max / 3, 40, (257, 190)), info.min,
                info.max).astype(dtype),  # a narrow part of the range
        np.full((40, 50), info.max // 3, dtype=dtype),  # flat: mid-grey
        np.r_[np.full(999, 3), [info.max]].astype(dtype).reshape(40, 25),  # one hot pixel
        rng.integers(0, 100, (600, 500)).astype(dtype),  # > 250,000 pixels: sampled
    ]
    for data in cases:
        expected = to_uint8(data.astype(np.float64))
        assert np.array_equal(to_uint8(data), expected)
    assert len({int(to_uint8(c).std() > 0) for c in cases}) == 2  # flat and varied both


def test_complex_images_show_magnitude_and_phase(tmp_path: Path) -> None:
    """Issue 23, class 10: a complex image (FFT, DPC) is drawn as its magnitude and,
    beside it, its phase; before, the magnitude alone."""
    magnitude = np.linspace(1, 2, 128)[:, None] * np.ones((1, 160))  # rises downwards
    phase = np.linspace(-3, 3, 160)[None, :] * np.ones((128, 1))  # rises rightwards
    out = tmp_path / "p.png"
    previews.render_array(magnitude * np.exp(1j * phase), out, kind="image")
    pixels = load(out).mean(axis=2)
    assert pixels.shape[1] == 500 and pixels.shape[0] < 250  # two panels side by side
    left, right = pixels[:, :240], pixels[:, 260:]
    assert left[-10:].mean() - left[:10].mean() > 150  # the magnitude, top to bottom
    assert abs(left[:, -10:].mean() - left[:, :10].mean()) < 10
    assert right[:, -10:].mean() - right[:, :10].mean() > 150  # the phase, left to right
    assert abs(right[-10:].mean() - right[:10].mean()) < 10


def test_nan_and_inf_do_not_break_the_stretch(tmp_path: Path) -> None:
    data = GRADIENT.astype(np.float32)
    data[::7] = np.nan
    data[3, :] = np.inf
    data[4, :] = -np.inf
    previews.render_array(data, tmp_path / "p.png", kind="image")
    assert_visible(load(tmp_path / "p.png"))


def test_constant_and_all_nan_images_render_without_dividing_by_zero(tmp_path: Path) -> None:
    previews.render_array(np.full((10, 10), 7.0), tmp_path / "c.png", kind="image")
    previews.render_array(np.full((10, 10), np.nan), tmp_path / "n.png", kind="image")
    assert np.unique(load(tmp_path / "c.png")).tolist() == [128]
    assert np.unique(load(tmp_path / "n.png")).tolist() == [0]


def test_large_images_are_reduced_to_500_px(tmp_path: Path) -> None:
    data = np.random.default_rng(0).integers(0, 4000, (1500, 3000), dtype=np.uint16)
    previews.render_array(data, tmp_path / "p.png", kind="image")
    assert load(tmp_path / "p.png").shape[:2] == (250, 500)


def test_stack_shows_a_montage_of_frames_labelled_with_their_count(tmp_path: Path) -> None:
    """Issue 11: a stack was silently shown as its first frame; now every frame (up to
    nine) is a tile on one contrast scale, under "N frames"."""
    stack = np.zeros((5, 40, 40), dtype=np.float32)
    stack[0, :, :20] = 1.0  # only frame 0 has its left half lit
    stack[1:, 20:, :] = 1.0  # the others their bottom half
    previews.render_array(stack, tmp_path / "p.png", kind="stack")
    pixels = load(tmp_path / "p.png")
    assert pixels.shape[1] == 500 and pixels.shape[0] < 500  # 3 x 2 grid under a header
    grey = pixels.mean(axis=2)
    header = grey[:22]
    assert (header < 128).sum() > 40, "no '5 frames' label drawn"
    cell = (500 - 4 * 4) // 3
    first = grey[28:28 + cell, 4:4 + cell]  # frame 0: left lit, right dark
    second = grey[28:28 + cell, 8 + cell:8 + 2 * cell]  # frame 1: top dark, bottom lit
    assert first[:, : cell // 3].mean() > 200 and first[:, -cell // 3:].mean() < 50
    assert second[: cell // 3].mean() < 50 and second[-cell // 3:].mean() > 200


def test_stack_of_many_frames_shows_first_and_last(tmp_path: Path) -> None:
    from nexuslims.previews._montage import frame_indices

    assert frame_indices(3) == [0, 1, 2]
    chosen = frame_indices(100)
    assert len(chosen) == 9 and chosen[0] == 0 and chosen[-1] == 99


def test_spectrum_is_a_line_plot(tmp_path: Path) -> None:
    x = np.linspace(0, 20, 2048)
    y = np.exp(-((x - 5) ** 2)) * 1000 + 10
    previews.render_array(y, tmp_path / "p.png", kind="spectrum", x=x, x_label="Energy (keV)")
    pixels = load(tmp_path / "p.png")
    assert pixels.shape[:2] == (375, 500)
    assert line_pixels(pixels) > 300  # the trace
    assert (pixels.mean(axis=2) < 100).sum() > 500  # frame, ticks and labels in dark ink


def _plot_as_pil_draws_it(canvas: Image.Image, y: np.ndarray, x: np.ndarray) -> Image.Image:
    """The plot with each stroke of a dense spectrum drawn by ``ImageDraw.line``: what
    :func:`draw_strokes` must reproduce pixel for pixel."""
    from PIL import ImageDraw

    from nexuslims.previews import _plot

    strokes: list[tuple[np.ndarray, ...]] = []

    def record(canvas_: Image.Image, xs: np.ndarray, starts: np.ndarray, ends: np.ndarray,
               ink: object) -> None:
        strokes.append((xs, starts, ends))
        draw = ImageDraw.Draw(canvas_)
        for xv, start, end in zip(xs, starts, ends, strict=True):
            draw.line([(xv, start), (xv, end)], fill=ink, width=2)

    original = _plot.draw_strokes
    _plot.draw_strokes = record
    try:
        _plot.draw_line_plot(canvas, (0, 0, *canvas.size), y, x, x_label="Energy (keV)")
    finally:
        _plot.draw_strokes = original
    assert strokes and len(strokes[0][0]) > 400  # one stroke per pixel column was drawn
    return canvas


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_dense_spectra_are_drawn_with_the_pixels_pil_draws(seed: int) -> None:
    # Strokes are written as array slices instead of one PIL call each: same pixels.
    from nexuslims.previews._plot import draw_line_plot, draw_strokes

    rng = np.random.default_rng(seed)
    y = rng.poisson(rng.uniform(5, 500), 4096).astype(np.float64)
    y[rng.integers(0, 4096, 20)] = rng.uniform(1e3, 1e5, 20)  # sharp peaks
    x = np.arange(4096) * 0.01
    expected = _plot_as_pil_draws_it(Image.new("RGB", (500, 375), "white"), y, x)
    drawn = Image.new("RGB", (500, 375), "white")
    draw_line_plot(drawn, (0, 0, 500, 375), y, x, x_label="Energy (keV)")
    assert np.array_equal(np.asarray(drawn), np.asarray(expected))
    # and every way PIL rounds a stroke's ends: whole, half and arbitrary coordinates
    xs = rng.choice([rng.uniform(5, 30, 2000), rng.integers(10, 60, 2000) / 2.0])
    starts = rng.integers(40, 240, 2000) / 4.0
    ends = np.where(rng.random(2000) < 0.3, starts + rng.uniform(-1.5, 1.5, 2000),
                    rng.integers(40, 240, 2000) / 4.0)
    for i in range(0, 2000, 50):  # few strokes a canvas, so that each one is seen
        ours, theirs = Image.new("L", (40, 70), 255), Image.new("L", (40, 70), 255)
        draw_strokes(ours, xs[i:i + 2], starts[i:i + 2], ends[i:i + 2], 0)
        draw = ImageDraw.Draw(theirs)
        for xv, start, end in zip(xs[i:i + 2], starts[i:i + 2], ends[i:i + 2], strict=True):
            draw.line([(xv, start), (xv, end)], fill=0, width=2)
        assert np.array_equal(np.asarray(ours), np.asarray(theirs)), (xs[i], starts[i], ends[i])


def test_a_plot_is_a_palette_image_with_the_pixels_of_its_rgb_drawing(tmp_path: Path) -> None:
    # Greys and one blue: written with one byte a pixel (a fifth of the encoding time of
    # RGB), the same picture.
    from nexuslims.previews._plot import draw_line_plot

    energy = np.arange(2048) * 0.01
    counts = 5e4 * np.exp(-(energy / 0.05) ** 2) + 80 * np.exp(-((energy - 1.74) / 0.06) ** 2)
    sparse = np.r_[counts[:300], np.nan, counts[301:400]]  # a gap, and single points
    for name, y in (("dense", counts + 3), ("sparse", sparse)):
        x = energy[: y.size]
        previews.render_array(y, tmp_path / f"{name}.png", kind="spectrum", x=x,
                              x_label="Energy (keV)", y_label="Counts", title=name)
        with Image.open(tmp_path / f"{name}.png") as written:
            assert written.mode == "P"
            pixels = np.asarray(written.convert("RGB"))
        rgb = Image.new("RGB", (500, 375), "white")
        from nexuslims.previews._plot import spans_decades

        draw_line_plot(rgb, (0, 0, 500, 375), y, x, x_label="Energy (keV)", y_label="Counts",
                       title=name, log_y=spans_decades(y))
        assert np.array_equal(pixels, np.asarray(rgb)), name
        assert line_pixels(pixels.astype(np.int32)) > 100


def test_diffraction_uses_a_log_scale(tmp_path: Path) -> None:
    r = np.hypot(*(np.mgrid[0:201, 0:201] - 100))
    # a bright central disc (3% of the pixels) and a ring a thousand times fainter
    pattern = 1e6 * np.exp(-(r**2) / 400) + 1e3 * np.exp(-((r - 60) ** 2) / 8)
    ring = np.abs(r - 60) < 2
    previews.render_array(pattern, tmp_path / "log.png", kind="diffraction")
    previews.render_array(pattern, tmp_path / "lin.png", kind="image")
    big = np.asarray(Image.fromarray(ring.astype(np.uint8)).resize((500, 500))).astype(bool)
    ring_log = load(tmp_path / "log.png").mean(axis=2)[big].mean()
    ring_lin = load(tmp_path / "lin.png").mean(axis=2)[big].mean()
    assert ring_log > 100 > ring_lin


def _spectrum_image(lazy: bool):
    hs = pytest.importorskip("hyperspy.api")
    data = np.zeros((12, 16, 512), dtype=np.float32)
    data[..., 100] = 50.0
    data[:6, :, 300] = 20.0  # top half has a second peak
    signal = hs.signals.Signal1D(data)
    signal.axes_manager[-1].name = "Energy"
    signal.axes_manager[-1].units = "keV"
    signal.axes_manager[-1].scale = 0.01
    return signal.as_lazy() if lazy else signal


@pytest.mark.parametrize("lazy", [False, True], ids=["in-memory", "lazy"])
def test_spectrum_image_has_sum_image_beside_sum_spectrum(tmp_path: Path, lazy: bool) -> None:
    out = tmp_path / "si.png"
    previews.render_signal(_spectrum_image(lazy), out, dataset_type="SpectrumImage")
    pixels = load(out)
    assert pixels.shape[:2] == (260, 500)
    left, right = pixels[:, :235].mean(axis=2), pixels[:, 240:]
    assert left[30:120].mean() > left[140:240].mean() + 50  # top half brighter in the sum image
    assert line_pixels(right) > 100 and line_pixels(pixels[:, :235]) == 0


def test_lazy_signals_give_the_same_picture(tmp_path: Path) -> None:
    previews.render_signal(_spectrum_image(False), tmp_path / "a.png", dataset_type="x")
    previews.render_signal(_spectrum_image(True), tmp_path / "b.png", dataset_type="x")
    assert np.array_equal(load(tmp_path / "a.png"), load(tmp_path / "b.png"))


def test_signal_image_stack_and_point_spectrum(tmp_path: Path) -> None:
    hs = pytest.importorskip("hyperspy.api")
    stack = hs.signals.Signal2D(np.stack([GRADIENT, -GRADIENT, GRADIENT]).astype(np.float32))
    previews.render_signal(stack.as_lazy(), tmp_path / "s.png", dataset_type="Image")
    assert_visible(load(tmp_path / "s.png"))
    point = hs.signals.Signal1D(np.sin(np.linspace(0, 20, 1024))[np.newaxis])  # nav (1,)
    previews.render_signal(point, tmp_path / "p.png", dataset_type="Spectrum")
    assert load(tmp_path / "p.png").shape[:2] == (375, 500)  # a plot, not two panels


def test_unknown_kind_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="kind"):
        previews.render_array(GRADIENT, tmp_path / "p.png", kind="hologram")


def test_image_files_of_any_depth(tmp_path: Path) -> None:
    tifffile = pytest.importorskip("tifffile")
    tifffile.imwrite(tmp_path / "f.tif", GRADIENT.astype(np.float32))
    tifffile.imwrite(tmp_path / "u.tif", (GRADIENT * 100).astype(np.uint16))
    grey = (GRADIENT % 256).astype(np.uint8)
    rgba = np.dstack([grey] * 3 + [np.full(GRADIENT.shape, 200, np.uint8)])
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    for name in ("f.tif", "u.tif", "a.png"):
        previews.render_image_file(tmp_path / name, tmp_path / f"{name}.png")
        assert_visible(load(tmp_path / f"{name}.png"))


def test_truncated_image_file_raises_a_clear_error(tmp_path: Path) -> None:
    Image.fromarray((GRADIENT % 256).astype(np.uint8)).save(tmp_path / "t.png")
    raw = (tmp_path / "t.png").read_bytes()
    (tmp_path / "t.png").write_bytes(raw[: len(raw) // 2])
    try:
        previews.render_image_file(tmp_path / "t.png", tmp_path / "out.png")
    except (ValueError, OSError):
        previews.render_placeholder(tmp_path / "out.png", "image data truncated")
    assert max(load(tmp_path / "out.png").shape[:2]) == 500


def test_a_tiff_cut_short_shows_what_is_left_and_one_with_nothing_left_is_refused(
        tmp_path: Path) -> None:
    # Strips are checked against the file's size before anything is decoded: a TIFF
    # whose data lies (almost) all past its end is refused at once, as Pillow would.
    tifffile = pytest.importorskip("tifffile")
    data = (np.add.outer(np.arange(400), np.arange(300)) % 251).astype(np.uint8) + 4
    tifffile.imwrite(tmp_path / "whole.tif", data, rowsperstrip=1)
    raw = (tmp_path / "whole.tif").read_bytes()
    with tifffile.TiffFile(tmp_path / "whole.tif") as tif:
        first = min(tif.pages[0].dataoffsets)
    for name, keep in (("most.tif", 0.6), ("none.tif", 0.002)):
        (tmp_path / name).write_bytes(raw[: first + int(keep * data.size)])
    previews.render_image_file(tmp_path / "most.tif", tmp_path / "most.png")
    pixels = load(tmp_path / "most.png")
    assert_visible(pixels)
    assert pixels[: pixels.shape[0] // 2].mean() > 4 and pixels[-20:].mean() == 0  # cut
    with pytest.raises(ValueError, match="truncated"):
        previews.render_image_file(tmp_path / "none.tif", tmp_path / "none.png")
    assert not (tmp_path / "none.png").exists()


def test_text_file_preview_shows_the_first_lines(tmp_path: Path) -> None:
    source = tmp_path / "notes.txt"
    source.write_text("\n".join(f"line {i}: sample tilt {i * 0.5} deg" for i in range(200)))
    previews.render_text_file(source, tmp_path / "t.png")
    pixels = load(tmp_path / "t.png")
    assert pixels.shape[:2] == (500, 500)
    assert (pixels.mean(axis=2) < 128).sum() > 2000  # lots of dark text on white


def test_placeholder_says_unavailable(tmp_path: Path) -> None:
    previews.render_placeholder(tmp_path / "p.png", "reader failed: " + "x" * 300)
    pixels = load(tmp_path / "p.png")
    assert pixels.shape[:2] == (375, 500)
    assert pixels.mean(axis=2).std() > 5


def test_png_is_written_atomically_and_replaces_an_old_one(tmp_path: Path) -> None:
    out = tmp_path / "deep" / "dir" / "p.png"
    previews.render_placeholder(out, "first")
    previews.render_array(GRADIENT, out, kind="image")
    assert sorted(p.name for p in out.parent.iterdir()) == ["p.png"]
    assert load(out).shape[:2] == (400, 500)


CORPUS_IMAGE_FILES = [
    "tiff/FEI-Helios-Ebeam-16bits.tif",
    "tiff/FEI-Helios-Ebeam-8bits.tif",
    "tiff/test_loading_image_saved_with_imageJ.tif",  # 32-bit float
    "tiff/olympus_SIS.tif",
    "nexuslims/test_image_thumb_source.png",
    "nexuslims/test_image_thumb_source.jpg",
    "nexuslims/test_image_thumb_source.gif",
    "image/jpg_no_exif_tags.jpg",
]


@pytest.mark.corpus
@pytest.mark.parametrize("name", CORPUS_IMAGE_FILES)
def test_corpus_image_files_preview(corpus: Path, tmp_path: Path, name: str) -> None:
    previews.render_image_file(corpus / name, tmp_path / "p.png")
    assert_visible(load(tmp_path / "p.png"))


@pytest.mark.corpus
@pytest.mark.parametrize(
    ("name", "dataset_type", "size"),
    [
        ("digitalmicrograph/test-EELS_spectrum.dm3", "Spectrum", (375, 500)),
        ("digitalmicrograph/EELS_SI.dm4", "SpectrumImage", (260, 500)),
        ("digitalmicrograph/test_diffraction_pattern.dm3", "Diffraction", (500, 500)),
        ("digitalmicrograph/test_STEM_image.dm3", "Image", (500, 500)),
        ("digitalmicrograph/test_fft_packed_complex8.dm4", "Image", (250, 500)),
        ("tia/64x64x5_TEM_preview.emi", "Image", (358, 500)),  # a 5-frame montage
        ("tia/16x16-spectrum_image-5x5x1024.emi", "SpectrumImage", (260, 500)),
        ("bruker/16x16_12bit_packed_8bit.bcf", "SpectrumImage", (260, 500)),
    ],
)
def test_corpus_signals_preview_lazily(corpus, tmp_path, name, dataset_type, size) -> None:
    hs = pytest.importorskip("hyperspy.api")
    signal = hs.load(corpus / name, lazy=True)
    signal = signal[-1] if isinstance(signal, list) else signal
    previews.render_signal(signal, tmp_path / "p.png", dataset_type=dataset_type)
    pixels = load(tmp_path / "p.png")
    assert pixels.shape[:2] == size
    assert pixels.mean(axis=2).std() > 20


def test_a_grey_preview_is_written_with_one_channel_and_the_same_pixels(tmp_path: Path) -> None:
    # A scale bar (and a montage, a grey picture stored as RGB) made previews RGB: three
    # times the pixels to compress for the same grey picture.
    image = Image.fromarray(np.tile(np.arange(256, dtype=np.uint8), (64, 1)), "L")
    from nexuslims.previews._scalebar import draw_scale_bar

    assert draw_scale_bar(image, 2.5, "nm", 256).mode == "L"  # a grey image stays grey
    with_bar = draw_scale_bar(image.convert("RGB"), 2.5, "nm", 256)
    assert with_bar.mode == "RGB"
    assert np.array_equal(np.asarray(with_bar.convert("L")),
                          np.asarray(draw_scale_bar(image, 2.5, "nm", 256)))
    from nexuslims.previews._raster import save_png

    save_png(with_bar, tmp_path / "grey.png")
    written = Image.open(tmp_path / "grey.png")
    assert written.mode == "L"
    assert np.array_equal(np.asarray(written.convert("RGB")), np.asarray(with_bar))
    colour = with_bar.copy()
    colour.putpixel((3, 3), (200, 10, 10))
    save_png(colour, tmp_path / "colour.png")
    with Image.open(tmp_path / "colour.png") as written_colour:
        assert written_colour.mode == "RGB"
        assert np.array_equal(np.asarray(written_colour), np.asarray(colour))


def _preview_of(image: Image.Image, path: Path, **save: object) -> np.ndarray:
    image.save(path, **save)
    out = path.with_suffix(".preview.png")
    previews.render_image_file(path, out)
    return np.asarray(Image.open(out).convert("RGB"), dtype=int)


def test_palette_images_look_as_their_colours_laid_on_white(tmp_path: Path) -> None:
    # Palette images are no longer converted to RGBA at full size: the same picture
    # must come out, grey or not, with or without a transparent entry in use.
    rng = np.random.default_rng(3)
    indices = rng.integers(10, 200, size=(1300, 1700), dtype=np.uint8)
    indices[:40, :60] = 7  # a block of one colour, made transparent below
    grey = [v for i in range(256) for v in (i, i, i)]
    colour = [v for i in range(256) for v in (i, 255 - i, (7 * i) % 256)]
    for palette in (grey, colour):
        picture = Image.fromarray(indices, "P")
        picture.putpalette(palette)
        rgb = picture.convert("RGB")
        plain = _preview_of(rgb, tmp_path / "rgb.png")
        # a transparent entry no pixel uses changes nothing
        unused = _preview_of(picture, tmp_path / "unused.gif", transparency=250, optimize=False)
        assert np.array_equal(unused, plain)
        if palette is grey:
            continue  # Pillow opens a grey-palette GIF as L, transparency aside
        # a transparent entry in use shows white
        used = _preview_of(picture, tmp_path / "used.gif", transparency=7, optimize=False)
        assert (used[:8, :12] == 255).all()
        # elsewhere the same colours (alpha is premultiplied when shrinking: +-1 or so)
        assert np.abs(used[100:, 100:] - plain[100:, 100:]).max() <= 2


def test_exif_orientation_is_applied_to_previews(tmp_path: Path) -> None:
    photo = Image.new("RGB", (1200, 400), (200, 30, 30))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    path = tmp_path / "turned.jpg"
    photo.save(path, exif=exif)
    previews.render_image_file(path, tmp_path / "p.png")
    width, height = Image.open(tmp_path / "p.png").size
    assert height > width
