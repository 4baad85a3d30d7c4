"""Cold start: reading a file imports only what that file needs, in every process.

Each check runs real processes (the CLI with its fork server and worker, or a fresh
interpreter) on real corpus files and looks at what they imported.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
NEVER_FOR_A_DM3 = ("exspy", "matplotlib", "sklearn", "numba", "sparse", "distributed",
                   "sqlalchemy", "alembic", "fastapi",
                   # SciPy itself comes with HyperSpy; these came with dask.array (0.3 s)
                   "scipy.sparse", "scipy.fft", "scipy.fftpack", "scipy.signal")


def _env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env.update(extra)
    return env


def _imported(importtime: str) -> set[str]:
    """Modules that ``-X importtime`` output says were imported (in any process)."""
    names = set()
    for line in importtime.splitlines():
        if line.startswith("import time:") and "self [us]" not in line:
            name = line.rsplit("|", 1)[1].strip()
            if int(line.split(":", 1)[1].split("|")[0]) > 50:  # not a failed look-up
                names.add(name)
    return names


def _fresh(code: str) -> str:
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=_env(),
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout.strip()


@pytest.mark.slow
def test_extract_command_on_a_dm3_imports_no_heavy_package_in_any_process(corpus, tmp_path):
    dm3 = corpus / "digitalmicrograph" / "test_STEM_image.dm3"
    out = subprocess.run(
        [sys.executable, "-m", "nexuslims", "extract", str(dm3), "--preview-dir",
         str(tmp_path / "out")],
        env=_env(PYTHONPROFILEIMPORTTIME="1"), cwd=tmp_path, capture_output=True,
        text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert (tmp_path / "out" / "test_STEM_image.dm3.thumb.png").stat().st_size > 0
    imported = _imported(out.stderr)
    assert "rsciio.digitalmicrograph._api" in imported  # the worker's imports are seen
    heavy = sorted(m for m in imported
                   if any(m == p or m.startswith(p + ".") for p in NEVER_FOR_A_DM3))
    assert heavy == [], f"imported for one DM3 file: {heavy[:10]}"


def test_eels_and_eds_files_are_read_without_exspy_and_keep_their_signal_type(corpus):
    out = _fresh(f"""
        import sys
        from pathlib import Path
        from nexuslims.extractors.registry import extract
        from nexuslims.extractors._reader import load_signals
        dm = Path({str(corpus / "digitalmicrograph")!r})
        kinds = []
        for name in ("test-EELS_spectrum.dm3", "test-EDS_spectrum.dm3"):
            (signal,) = load_signals(dm / name)
            kinds.append(signal.metadata.Signal.signal_type)
            (ds,) = extract(dm / name)
            assert ds.error is None, ds.error
            kinds.append(ds.nx_meta["Data Type"])
        print(",".join(kinds), "exspy" in sys.modules)
        """)
    assert out == "EELS,STEM_EELS,EDS_TEM,STEM_EDS False"


def test_dask_is_imported_without_sparse_and_learns_sparse_when_it_is_imported():
    out = _fresh("""
        import sys
        from nexuslims.extractors._imports import import_dask_array
        da = import_dask_array()
        before = [m for m in ("sparse", "numba", "scipy") if m in sys.modules]
        import sparse
        from dask.array.chunk_types import is_valid_chunk_type
        print(before, is_valid_chunk_type(sparse.COO))
        """)
    assert out == "[] True"


def test_scipy_is_held_back_from_dask_and_its_sparse_matrices_still_work_as_chunks():
    out = _fresh("""
        import sys
        import numpy as np
        from nexuslims.extractors._imports import import_dask_array
        da = import_dask_array()
        held = "scipy" in sys.modules
        import scipy.sparse
        from dask.array.chunk_types import is_valid_chunk_type
        m = scipy.sparse.csr_matrix(np.eye(4))
        x = da.from_array(m, chunks=2)
        total = (x + x).compute()  # chunks joined by dask's scipy.sparse dispatch
        kind, total = type(total).__name__, total.sum()
        print(held, is_valid_chunk_type(type(m)), type(x._meta).__name__, kind, total)
        """)
    assert out == "False True csr_matrix csr_matrix 8.0"


def test_what_is_already_imported_is_not_held_back_and_the_rest_still_is():
    out = _fresh("""
        import sys
        import scipy  # HyperSpy imports SciPy's base package; or a plug-in did first
        from nexuslims.extractors._imports import import_dask_array
        da = import_dask_array()
        print([m for m in ("sparse", "numba", "scipy.sparse", "scipy.fftpack")
               if m in sys.modules], sys.modules["scipy"] is not None)
        """)
    assert out == "[] True"


def test_a_lazy_preview_is_computed_without_importing_distributed(corpus, tmp_path):
    dm3 = corpus / "digitalmicrograph" / "test_STEM_image.dm3"
    out = _fresh(f"""
        import sys
        from pathlib import Path
        from nexuslims.extractors._reader import load_signals
        from nexuslims.previews import render_signal
        (signal,) = load_signals(Path({str(dm3)!r}), lazy=True)  # as a large file is
        assert signal._lazy
        render_signal(signal, Path({str(tmp_path / "p.png")!r}), dataset_type="Image")
        print("distributed" in sys.modules)
        """)
    assert out == "False"
    assert (tmp_path / "p.png").stat().st_size > 0


def test_the_fork_server_imports_only_what_the_files_need():
    from nexuslims.extract.stage import _preload

    tiffs = _preload([Path("a.tif"), Path("b.png")], previews=False)
    assert "nexuslims.extractors._preload" not in tiffs
    assert "nexuslims.previews" not in tiffs
    assert not any(m.startswith("rsciio.") for m in tiffs)  # no reader (its logger only)
    assert tiffs[-1] == "nexuslims.extract._forkserver"
    dm = _preload([Path("a.dm3"), Path("b.tif")], previews=True)
    stack = dm.index("nexuslims.extractors._preload")
    assert stack < dm.index("rsciio.digitalmicrograph._api")  # dask comes in without sparse
    assert "nexuslims.previews" in dm
    assert not any(m.startswith("rsciio.emd") for m in dm)
    assert dm[-1] == "nexuslims.extract._forkserver"
    velox = _preload([Path("a.emd")], previews=True)
    assert "nexuslims.extractors._preload" not in velox  # neither dask nor HyperSpy
    assert not any(m.startswith("rsciio.") for m in velox)
    assert "h5py" in velox and velox[-1] == "nexuslims.extract._forkserver"


@pytest.mark.slow
def test_extract_command_on_velox_files_imports_no_reader_stack_in_any_process(corpus,
                                                                              tmp_path):
    # Velox EMD used to bring RosettaSciIO's Velox reader, pint, sparse and numba (and
    # dask, HyperSpy) into the fork server and every worker, for previews h5py and
    # numpy draw (the EDS spectrum image summed from its event stream).
    out = subprocess.run(
        [sys.executable, "-m", "nexuslims", "extract", str(corpus / "emd"), "--preview-dir",
         str(tmp_path / "out")],
        env=_env(PYTHONPROFILEIMPORTTIME="1"), cwd=tmp_path, capture_output=True,
        text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert len(list((tmp_path / "out").glob("*.thumb.png"))) >= 10
    imported = _imported(out.stderr)
    assert "h5py" in imported and "nexuslims.extractors._velox_stream" in imported
    heavy = sorted(m for m in imported if any(m == p or m.startswith(p + ".") for p in (
        "rsciio.emd", "pint", "sparse", "numba", "dask", "hyperspy")))
    assert heavy == [], f"imported for Velox files: {heavy[:10]}"


def _flat(tree: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in tree.items():
        name = f"{prefix}.{key}" if prefix else key
        out.update(_flat(value, name) if isinstance(value, dict) else {name: repr(value)})
    return out


@pytest.mark.slow
def test_dm_signals_are_those_hyperspy_loads(corpus):
    """Base classes, the tag tree added after squeezing: the same signals as ``hs.load``
    gives (exspy's defaults aside -- binned EELS/EDS axes, detector values -- which the
    extractors never read)."""
    hs = pytest.importorskip("hyperspy.api")
    from nexuslims.extractors._reader import load_signals, load_with_tags

    for path in sorted((corpus / "digitalmicrograph").iterdir()):
        theirs = hs.load(path, lazy=True)
        theirs = theirs if isinstance(theirs, list) else [theirs]
        ours = load_signals(path)
        assert len(ours) == len(theirs), path.name
        # What the DM extractor reads: the tag tree as a plain dictionary, beside a
        # signal whose metadata is mapped from it as HyperSpy maps it.
        with_tags = load_with_tags(path)
        assert len(with_tags) == len(theirs), path.name
        for (bare, tree), mine, other in zip(with_tags, ours, theirs, strict=True):
            assert _flat(tree) == _flat(other.original_metadata.as_dictionary()), path.name
            assert bare.original_metadata.as_dictionary() == {}, path.name
            def mapped(signal):
                return {k: v for k, v in _flat(signal.metadata.as_dictionary()).items()
                        if not k.startswith("General.FileIO")}  # when it was read

            assert mapped(bare) == mapped(mine), path.name
        for mine, other in zip(ours, theirs, strict=True):
            assert mine.data.shape == other.data.shape, path.name
            unbinned = [{**a, "is_binned": None} for a in mine.axes_manager._get_axes_dicts()]
            assert unbinned == [{**a, "is_binned": None}
                                for a in other.axes_manager._get_axes_dicts()], path.name
            assert (_flat(mine.original_metadata.as_dictionary())
                    == _flat(other.original_metadata.as_dictionary())), path.name
            md = _flat(mine.metadata.as_dictionary())
            other_md = _flat(other.metadata.as_dictionary())
            for key in [k for k in md if k.startswith("General.FileIO")]:
                md.pop(key)
                other_md.pop(key, None)
            assert md.items() <= other_md.items(), path.name
            extra = {k for k in other_md.keys() - md.keys() if not k.startswith("General.FileIO")}
            assert all(".Detector.EDS." in k or ".Stage.tilt" in k or "Detector.EELS" in k
                       or "beam_energy" in k for k in extra), (path.name, sorted(extra))


def test_a_small_file_is_read_whole_unless_its_reader_disagrees_with_itself(corpus):
    """Small uncompressed files are read whole (no dask graph); RosettaSciIO's DM
    reader read eagerly gives a packed complex FFT an axis longer than its data, so that
    file is read lazily, and its axes fit its data as HyperSpy's lazy load has them."""
    from nexuslims.extractors._reader import load_signals

    dm = corpus / "digitalmicrograph"
    (image,) = load_signals(dm / "test_STEM_image.dm3")
    assert not image._lazy
    # A compressed format may hold far more than its file's size: read lazily.
    bcf = load_signals(corpus / "bruker" / "16x16_12bit_packed_8bit.bcf")
    assert bcf and all(signal._lazy for signal in bcf)
    (fft,) = load_signals(dm / "test_fft_packed_complex8.dm4")
    assert fft._lazy
    sizes = {a.index_in_array: a.size for a in (*fft.axes_manager.navigation_axes,
                                                *fft.axes_manager.signal_axes)}
    assert tuple(sizes[i] for i in sorted(sizes)) == fft.data.shape


def test_pool_workers_run_numeric_libraries_on_one_thread_each(tmp_path):
    """The fork server (and so every worker) starts with the BLAS/OpenMP thread counts at
    1, unless the user set them; the coordinating process's own environment is left as
    it was."""
    code = """
        import os
        from nexuslims.extract.stage import local_pool
        os.environ["MKL_NUM_THREADS"] = "3"  # the user's own setting wins
        seen = {}
        local_pool(workers=1).map(os.getenv, [(n,) for n in
                                             ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")],
                                  sizes=[0, 0], on_result=seen.__setitem__)
        print(seen[0], seen[1], os.environ.get("OPENBLAS_NUM_THREADS"))
        """
    assert _fresh(code) == "1 3 None"


@pytest.mark.corpus
def test_workers_import_what_the_command_imports_not_the_working_directory(tmp_path, corpus):
    """``nexuslims`` run from a folder holding a ``nexuslims`` package and a ``numpy.py``
    (a clone of an older version, a site's scripts, or planted there): its fork server
    and workers import the installed ones, as the command itself does."""
    command = Path(sys.executable).with_name("nexuslims")
    if not command.is_file():
        pytest.skip("no `nexuslims` console script beside this Python (not pip-installed)")
    here = tmp_path / "cwd"
    marker = tmp_path / "imported-from-the-working-directory"
    plant = f"open({str(marker)!r}, 'a').write(__name__ + '\\n')\nraise ImportError('decoy')\n"
    (here / "nexuslims").mkdir(parents=True)
    (here / "nexuslims/__init__.py").write_text(plant)
    (here / "numpy.py").write_text(plant)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NX_", "PYTHON"))}
    done = subprocess.run([str(command), "extract", "--json",
                           str(corpus / "digitalmicrograph/test_STEM_image.dm3")],
                          cwd=here, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert not marker.exists(), marker.read_text()
    [dataset] = [json.loads(line) for line in done.stdout.splitlines()]
    assert dataset["extractor"] == "digitalmicrograph", dataset  # read by the real reader
    assert dataset["nx_meta"]["Voltage (kV)"] == 200.0


def test_a_pass_with_nothing_to_build_imports_no_numeric_or_reader_package(tmp_path):
    """The timer runs a pass every few minutes and most find nothing to do: those import
    no NumPy (the activities' clustering needs it only for a session with files) and no
    reader."""
    (tmp_path / "instrument-data").mkdir()
    site = {"NX_INSTRUMENT_DATA_PATH": str(tmp_path / "instrument-data"),
            "NX_DATA_PATH": str(tmp_path / "data"), "NX_DB_PATH": str(tmp_path / "nx.db")}
    env = {k: v for k, v in _env(PYTHONPROFILEIMPORTTIME="1").items()
           if not k.startswith("NX_")} | site
    for args in (["db", "init"], ["process"]):
        out = subprocess.run([sys.executable, "-m", "nexuslims", *args], env=env,
                             cwd=tmp_path, capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stderr[-3000:]
    imported = _imported(out.stderr)
    assert "nexuslims.builder.run" in imported and "sqlalchemy" in imported  # it did run
    assert "0 built" in out.stdout + out.stderr, out.stdout
    heavy = sorted(m for m in imported if m.split(".")[0] in (
        "numpy", "scipy", "hyperspy", "rsciio", "dask", "PIL"))
    assert heavy == [], f"imported by a pass with nothing to do: {heavy[:10]}"
