"""The demo: the whole job on a small real recording bundled with the package.

The bundled file ``caiman_cnmfe_demo.nwb`` is the CaImAn CNMF-E result on CaImAn's 1-photon
microendoscope demo movie (72 components x 1000 frames at 30 Hz, ``F_dff`` in ``DfOverF``),
converted to NWB by :func:`ndx_causal_emergence.convert.caiman_to_nwb` from
``tests/data/neuroconv_ophys_segmentation/caiman_analysis.hdf5`` of the repository
(origin: the NWB/CatalystNeuro ophys testing data; see ``README.md`` beside the file).
"""

from __future__ import annotations

import shutil
from importlib.resources import files
from pathlib import Path

DEMO_FILE = "caiman_cnmfe_demo.nwb"


def demo_file() -> Path:
    """Path of the bundled demo recording (read-only; copy it before modifying)."""
    return Path(str(files(__name__) / DEMO_FILE))


def run_demo(
    out_dir: str | Path, *, progress: bool = False, overwrite: bool = False, **params: object
) -> tuple[Path, list[Path]]:
    """Analyse the bundled recording into ``out_dir``; returns the result file and the figures.

    ``out_dir`` receives a copy of the input, the output NWB file (input + results) and PNG
    figures in ``figures/``. ``params`` go to :class:`~ndx_causal_emergence.AnalysisConfig`;
    ``progress`` shows the phases on stderr (see :func:`~ndx_causal_emergence.analyze`).
    """
    from ..pipeline.figures import save_figures
    from ..pipeline.run import analyze
    from ..runtime.progress import PhaseLog, phase, reporting

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    source = out_dir / DEMO_FILE
    shutil.copyfile(demo_file(), source)
    params = {"ladder": (72, 8, 1), **params}  # a short ladder keeps the whole job to minutes on 2 cores
    results = analyze(source, progress=progress, command="causal-emergence demo", **params)
    with reporting(PhaseLog(display="auto" if progress else "off")):
        with phase("write"):
            output = results.write(out_dir / f"{source.stem}_causal-emergence.nwb", overwrite=overwrite)
        with phase("figures"):
            return output, save_figures(output, out_dir / "figures")
