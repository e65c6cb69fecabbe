"""Make the test data of ``tests/data`` from the full real data sets (see ``tests/data/README.md``).

Usage: ``python tests/data/make_subsets.py FULL_DATA_DIR [OUT_DIR]``, where ``FULL_DATA_DIR`` holds the
four source folders as they were copied from their public repositories (``dandi_units_nwb``,
``neuroconv_ophys_segmentation``, ``pynapple_suite2p_plane0``, ``triplett2018_zebrafish_tectum``).
Files are copied unchanged where small; the rest keep the first frames (values unchanged) or only
the datasets and fields the package's converters read. Prints the sha256 of every file written.
"""

from __future__ import annotations

import hashlib
import io
import pickle
import shutil
import sys
from pathlib import Path

import h5py
import numpy as np

#: Frames kept of the suite2p traces and of the Triplett activity matrices.
SUITE2P_FRAMES = 300
TRIPLETT_FRAMES = 600
#: The per-ROI fields of suite2p's ``stat.npy`` kept (those ``suite2p_to_nwb`` reads, and the centre).
STAT_FIELDS = ("ypix", "xpix", "lam", "med", "npix")
#: The datasets of the CaImAn HDF5 that ``caiman_to_nwb`` reads (all frames: the demo file is built from them).
CAIMAN_DATASETS = (
    "estimates/F_dff",
    "estimates/C",
    "estimates/dims",
    "estimates/A/data",
    "estimates/A/indices",
    "estimates/A/indptr",
    "estimates/A/shape",
    "params/data/fr",
)
COPIED = (
    "dandi_units_nwb/sub-4_ses-4_ecephys+image.nwb",
    "dandi_units_nwb/sub-anm369963_ses-20170228.nwb",
    "dandi_units_nwb/sub-anm372793_ses-20170508.nwb",
    "dandi_units_nwb/sub_anm00239123_ses_20170627T093549_ecephys_and_ogen.nwb",
    "neuroconv_ophys_segmentation/nwb_test.nwb",
    "neuroconv_ophys_segmentation/2014_04_01_p203_m19_check01_extractAnalysis.mat",
)
FISH = ("zf_20151104-f1", "zf_20170215-f3")


def _copy(source: Path, out: Path) -> list[Path]:
    written = []
    for name in COPIED:
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        written.append(Path(shutil.copyfile(source / name, out / name)))
    return written


def _caiman(source: Path, out: Path) -> Path:
    target = out / "neuroconv_ophys_segmentation" / "caiman_analysis.hdf5"
    with (
        h5py.File(source / "neuroconv_ophys_segmentation" / "caiman_analysis.hdf5", "r") as full,
        h5py.File(target, "w", track_order=True) as cut,
    ):
        for name in CAIMAN_DATASETS:
            data = full[name][()]
            big = np.ndim(data) > 0 and np.size(data) > 64
            cut.create_dataset(name, data=data, compression="gzip" if big else None, shuffle=big)
    return target


def _save_portable_object_array(path: Path, array: np.ndarray) -> None:
    """``np.save`` of an object array that numpy 1.x loads as well as 2.x, like suite2p's own files.

    numpy 2 pickles arrays by reference to ``numpy._core``, which numpy 1.x lacks; the text-based
    pickle protocol 2 names modules on lines of their own, so they are renamed to ``numpy.core``,
    which both versions resolve.
    """
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, np.lib.format.header_data_from_array_1_0(array))
    pickle.dump(array, buffer, protocol=2)
    path.write_bytes(buffer.getvalue().replace(b"numpy._core.", b"numpy.core."))


def _suite2p(source: Path, out: Path) -> list[Path]:
    folder, target = source / "pynapple_suite2p_plane0", out / "pynapple_suite2p_plane0"
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for stem in ("F", "Fneu", "spks"):
        np.save(target / f"{stem}.npy", np.load(folder / f"{stem}.npy")[:, :SUITE2P_FRAMES])
        written.append(target / f"{stem}.npy")
    written.append(Path(shutil.copyfile(folder / "iscell.npy", target / "iscell.npy")))
    stat = np.load(folder / "stat.npy", allow_pickle=True)
    kept = np.empty(len(stat), dtype=object)
    kept[:] = [{key: roi[key] for key in STAT_FIELDS} for roi in stat]
    _save_portable_object_array(target / "stat.npy", kept)
    return [*written, target / "stat.npy"]


def _triplett(source: Path, out: Path) -> list[Path]:
    folder, target = source / "triplett2018_zebrafish_tectum", out / "triplett2018_zebrafish_tectum"
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for fish in FISH:
        lines = (folder / f"{fish}_activity_matrix.csv").read_text().splitlines()
        # the first frames of every cell, the values' text unchanged
        first = [",".join(line.split(",")[:TRIPLETT_FRAMES]) for line in lines]
        (target / f"{fish}_activity_matrix.csv").write_text("\n".join(first) + "\n")
        written.append(target / f"{fish}_activity_matrix.csv")
        for part in ("assembly_assignments", "cell_coordinates"):
            written.append(Path(shutil.copyfile(folder / f"{fish}_{part}.csv", target / f"{fish}_{part}.csv")))
    return written


def main(source: Path, out: Path) -> None:
    """Write every subset under ``out`` and print ``sha256  size  path`` per file."""
    written = [*_copy(source, out), _caiman(source, out), *_suite2p(source, out), *_triplett(source, out)]
    for path in sorted(written):
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        print(f"{digest}  {path.stat().st_size:>9}  {path.relative_to(out)}")
    print(f"total {sum(p.stat().st_size for p in written) / 1e6:.2f} MB")


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3):
        sys.exit("usage: python tests/data/make_subsets.py FULL_DATA_DIR [OUT_DIR]")
    main(Path(sys.argv[1]), Path(sys.argv[2]) if len(sys.argv) == 3 else Path(__file__).resolve().parent)
