"""Batch mode (``run_batch``, ``causal-emergence run --out-dir``) on real Dask clusters.

A module-scoped ``LocalCluster`` (2 worker processes) runs one batch over the DANDI stand-in:
the four real units assets, a converted suite2p recording and a truncated copy of it. A worker
plugin SIGKILLs a worker in the middle of an analysis and another in the middle of a write. The
same cluster then reruns the batch (resume: nothing is refitted). The CLI runs a second batch on
local files with two conditions each, on a ``LocalCluster`` it starts itself.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from distributed import WorkerPlugin
from pynwb import NWBHDF5IO, validate

from ndx_causal_emergence import convert
from ndx_causal_emergence.cli.main import cli
from ndx_causal_emergence.dandi.dandisets import list_assets, match_glob
from ndx_causal_emergence.dandi.refs import resolve_asset
from ndx_causal_emergence.errors import InputError, SourceError, StreamingError
from ndx_causal_emergence.pipeline.batch import batch_summary_dataset, expand_sources, run_batch
from ndx_causal_emergence.pipeline.config import AnalysisConfig
from ndx_causal_emergence.pipeline.results import read_results
from ndx_causal_emergence.testing.dandi_server import DandiStandIn, point_dandi_client_at

TINY = {
    "max_steps": 40,
    "hidden_width": 8,
    "dynamics_width": 8,
    "n_coupling_layers": 2,
    "eval_every": 20,
    "weight_refresh": 20,
    "batch_size": 64,
    "polish_steps": 20,
}
#: 2 s bins give 1,400-1,850 frames for the multi-unit assets; coarsening 16 keeps the ladders short (35 -> 2 -> 1).
CONFIG = AnalysisConfig(bin_width=2.0, coarsening=16, device="cpu", n_monte_carlo=100, model_params=TINY)
SOURCES = ["DANDI:000006", "DANDI:000009/draft", "DANDI:000207/draft", "DANDI:000999/draft"]
GLOB = "sub-*/*.nwb"
OPHYS = "DANDI:000999/draft/sub-s2p/sub-s2p_ophys.nwb"  # 000999 exists only on the stand-in
BROKEN = "DANDI:000999/draft/sub-broken/sub-broken_ophys.nwb"
SINGLE_UNIT = [
    "DANDI:000006/draft/sub-anm369963/sub-anm369963_ses-20170228.nwb",
    "DANDI:000006/draft/sub-anm372793/sub-anm372793_ses-20170508.nwb",
]
UNITS_000009 = "DANDI:000009/draft/sub-anm00239123/sub-anm00239123_ses-20170627T093549_ecephys+ogen.nwb"
UNITS_000207 = "DANDI:000207/draft/sub-4/sub-4_ses-4_ecephys+image.nwb"


def _open_files() -> list[str]:
    found = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            found.append(os.readlink(f"/proc/self/fd/{fd}"))
        except OSError:  # closed meanwhile
            continue
    return found


class KillMidTask(WorkerPlugin):
    """SIGKILL the worker once 1 s into an analysis task, and once while a writer holds its temporary output open.

    A marker file per kind, created atomically just before the kill, makes each kill happen once per
    cluster (the nanny restarts the worker, the plugin is installed again, the marker stops it).
    """

    def __init__(self, markers: Path) -> None:
        self.markers = markers
        self.running: set[str] = set()

    def transition(self, key: Any, start: str, finish: str, **kwargs: Any) -> None:
        name = str(key)
        if finish == "executing":
            self.running.add(name)
            target = {"analyze-": self._kill_during_analysis, "write-": self._kill_during_write}
            for prefix, func in target.items():
                if name.startswith(prefix):
                    threading.Thread(target=func, args=(name,), daemon=True).start()
        elif start == "executing":
            self.running.discard(name)

    def _claim(self, what: str) -> bool:
        try:
            (self.markers / what).open("x").close()
        except FileExistsError:
            return False
        return True

    def _kill_during_analysis(self, key: str) -> None:
        time.sleep(1.0)
        if key in self.running and self._claim("analysis-killed"):
            os.kill(os.getpid(), signal.SIGKILL)

    def _kill_during_write(self, key: str) -> None:
        while key in self.running and not (self.markers / "write-killed").exists():
            if any(f.endswith(".tmp.nwb") for f in _open_files()) and self._claim("write-killed"):
                os.kill(os.getpid(), signal.SIGKILL)
            time.sleep(0.0005)


@pytest.fixture(scope="module")
def archive(real_data: Path, tmp_path_factory: pytest.TempPathFactory) -> DandiStandIn:
    """The stand-in with the real units assets, a converted suite2p recording and a truncated copy (000999)."""
    folder = tmp_path_factory.mktemp("served")
    ophys = convert.suite2p_to_nwb(real_data / "pynapple_suite2p_plane0", folder / "s2p.nwb", rate=30.0)
    broken = folder / "broken.nwb"
    content = ophys.read_bytes()
    broken.write_bytes(content[: len(content) // 2])
    # the environment is set before any cluster starts, so worker processes inherit it
    with pytest.MonkeyPatch.context() as env, DandiStandIn(page_size=2) as server, point_dandi_client_at(server):
        env.setenv("NDX_CE_CACHE_DIR", str(folder / "cache"))
        server.add_real_units_assets(real_data / "dandi_units_nwb")
        server.add_asset("000999", "sub-s2p/sub-s2p_ophys.nwb", ophys)
        server.add_asset("000999", "sub-broken/sub-broken_ophys.nwb", broken)
        yield server


@pytest.fixture(scope="module")
def cluster(archive: DandiStandIn, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    """A LocalCluster of 2 single-threaded worker processes with the kill plugin: (scheduler address, markers)."""
    from distributed import Client, LocalCluster

    markers = tmp_path_factory.mktemp("kills")
    with (
        LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as local,
        Client(local) as client,
    ):
        client.register_plugin(KillMidTask(markers))
        yield local.scheduler_address, markers


@pytest.fixture(scope="module")
def first(cluster: tuple[str, Path], tmp_path_factory: pytest.TempPathFactory) -> tuple[pd.DataFrame, Path]:
    """The batch over the four Dandisets: (summary, out_dir)."""
    out = tmp_path_factory.mktemp("batch") / "results"
    summary = run_batch(
        SOURCES,
        out,
        config=CONFIG,
        path_glob=GLOB,
        scheduler=cluster[0],
        progress=False,
        cache_dir=out.parent / "cache",
    )
    return summary, out


def _missing_as_none(df: pd.DataFrame) -> pd.DataFrame:
    return df.astype(object).where(df.notna(), None)


def _rows(summary: pd.DataFrame, label: str) -> pd.DataFrame:
    return summary[summary["input"] == label]


def _analyses(path: Path) -> dict[str, Any]:
    return {r.analysis_name: r for r in read_results(path, load_models=False).conditions.values()}


# ------------------------------------------------------------------------------------------------
# the batch over DANDI


def test_every_input_is_in_the_summary(first: tuple[pd.DataFrame, Path]) -> None:
    summary, out = first
    assert set(summary["input"]) == {OPHYS, BROKEN, UNITS_000009, UNITS_000207, *SINGLE_UNIT}
    assert list(summary.columns[:7]) == ["input", "output", "condition", "status", "error", "scale", "dimension"]
    stored = pd.read_parquet(out / "summary.parquet")
    pd.testing.assert_frame_equal(_missing_as_none(stored), _missing_as_none(summary), check_dtype=False)
    csv = pd.read_csv(out / "summary.csv")
    assert list(csv["input"]) == list(summary["input"]) and list(csv["status"]) == list(summary["status"])
    dataset = batch_summary_dataset(summary)
    assert str(dataset["status"].sel(input=OPHYS).item()) == "ok"
    assert {str(dataset["status"].sel(input=x).item()) for x in [BROKEN, *SINGLE_UNIT]} == {"error"}
    ce = dataset["causal_emergence"].sel(input=OPHYS, condition="all").dropna("scale")
    np.testing.assert_allclose(ce.values, _rows(summary, OPHYS)["causal_emergence"].to_numpy())


def test_ophys_asset_output(first: tuple[pd.DataFrame, Path]) -> None:
    summary, out = first
    path = out / "000999" / "sub-s2p" / "sub-s2p_ophys.nwb"  # the asset path, mirrored under <out>/<dandiset>/
    rows = _rows(summary, OPHYS)
    assert set(rows["status"]) == {"ok"} and set(rows["output"]) == {str(path)}
    analyses = _analyses(path)
    assert list(analyses) == ["causal_emergence_all"]
    result = analyses["causal_emergence_all"]
    assert result.parameters == json.loads(CONFIG.to_json())
    prov = result.provenance
    assert (prov["dandiset_id"], prov["dandiset_version"], prov["asset_path"]) == (
        "000999",
        "draft",
        "sub-s2p/sub-s2p_ophys.nwb",
    )
    np.testing.assert_allclose(result.emergence["causal_emergence"].to_numpy(), rows["causal_emergence"].to_numpy())
    assert list(rows["dimension"]) == [20, 1]  # 20 cells, coarsening 16: 20 -> 1
    with NWBHDF5IO(str(path), "r") as io:  # the input's content is there too
        assert io.read().processing["ophys"]["Fluorescence"]["RoiResponseSeries"].data.shape == (300, 20)
    assert validate(path=str(path)) == []


def _validation(path: Path) -> set[str] | str:
    """``pynwb.validate`` errors of a file, or the exception's text where pynwb cannot validate it at all."""
    try:
        return {str(e) for e in validate(path=str(path))}
    except Exception as err:  # noqa: BLE001  (e.g. 000207's cached spec lacks 'experimental.yaml')
        return f"{type(err).__name__}: {err}"


def _plain_export_errors(source: Path, tmp: Path) -> set[str] | str:
    """Validation errors an output inherits from its input: the input's own, and those of its plain export.

    (Outputs of streamed inputs are NWB exports; where export cannot re-encode an input, a byte copy.)
    """
    errors = _validation(source)
    if isinstance(errors, str):
        return errors
    try:
        with NWBHDF5IO(str(source), "r", load_namespaces=True) as io, NWBHDF5IO(str(tmp), "w") as out:
            out.export(src_io=io, nwbfile=io.read(), write_args={"link_data": False})
    except Exception:  # noqa: BLE001  (pynwb cannot export some older files; then the output is a byte copy)
        return errors
    return errors | {str(e) for e in validate(path=str(tmp))}


@pytest.mark.parametrize(
    "label, file",
    [
        (UNITS_000009, "sub_anm00239123_ses_20170627T093549_ecephys_and_ogen.nwb"),
        (UNITS_000207, "sub-4_ses-4_ecephys+image.nwb"),
    ],
)
def test_units_asset_output(
    first: tuple[pd.DataFrame, Path], real_data: Path, tmp_path: Path, label: str, file: str
) -> None:
    summary, out = first
    rows = _rows(summary, label)
    assert set(rows["status"]) == {"ok"}, rows["error"].iloc[0]
    path = Path(rows["output"].iloc[0])
    assert list(_analyses(path)) == ["causal_emergence_all"]
    inherited = _plain_export_errors(real_data / "dandi_units_nwb" / file, tmp_path / "plain.nwb")
    if isinstance(inherited, str):  # pynwb cannot validate the input itself: the output fails the same way
        assert _validation(path) == inherited
    else:
        assert _validation(path) <= inherited  # our additions add no validation error


def test_single_unit_assets_are_errors_not_results(first: tuple[pd.DataFrame, Path]) -> None:
    summary, out = first
    for label in SINGLE_UNIT:
        rows = _rows(summary, label)
        assert len(rows) == 1 and rows["status"].item() == "error" and rows["output"].isna().all()
        assert rows["error"].item() == (
            f"DataError: {label}: /units has 1 channel; causal emergence compares coarser scales with the micro "
            "scale, so it needs at least 2 channels (units or ROIs) that vary; nothing to analyse"
        )
    assert not (out / "000006").exists()


def test_corrupt_asset_is_recorded(first: tuple[pd.DataFrame, Path]) -> None:
    summary, out = first
    rows = _rows(summary, BROKEN)
    assert len(rows) == 1 and rows["status"].item() == "error"
    assert rows["error"].item().startswith("SourceError: ") and "HDF5" in rows["error"].item()
    assert not (out / "000999" / "sub-broken").exists()


def test_killed_workers_leave_no_partial_output(first: tuple[pd.DataFrame, Path], cluster: tuple[str, Path]) -> None:
    summary, out = first
    markers = cluster[1]
    assert (markers / "analysis-killed").exists(), "no worker was killed during an analysis"
    assert (markers / "write-killed").exists(), "no worker was killed while writing an output"
    leftovers = [p for p in out.rglob("*") if p.name.startswith(".")]
    assert leftovers == []  # no temporary file of the killed writer, no partial output
    outputs = sorted(p for p in out.rglob("*.nwb"))
    assert outputs == sorted(Path(p) for p in summary.loc[summary["status"] == "ok", "output"].unique())
    for path in outputs:
        assert _analyses(path), path


def test_rerun_skips_finished_outputs(
    first: tuple[pd.DataFrame, Path], cluster: tuple[str, Path], archive: DandiStandIn
) -> None:
    summary, out = first
    sources = ["DANDI:000006", "DANDI:000999/draft"]  # the Dandisets whose inputs all ended (written or failed)
    before = summary[summary["input"].str.startswith(("DANDI:000006/", "DANDI:000999/"))]
    done = before[before["status"] == "ok"]
    stamps = {p: os.stat(p).st_mtime_ns for p in done["output"].unique()}
    ophys_blob = urlsplit(resolve_asset(OPHYS).url).path
    archive.reset_log()
    again = run_batch(
        sources,
        out,
        config=CONFIG,
        path_glob=GLOB,
        scheduler=cluster[0],
        progress=False,
        cache_dir=out.parent / "cache",
    )
    assert set(again["input"]) == set(before["input"])
    skipped = again[again["input"].isin(done["input"])]
    assert set(skipped["status"]) == {"skipped"}
    pd.testing.assert_frame_equal(
        skipped.drop(columns="status").reset_index(drop=True),  # as read from the files
        done.drop(columns="status").reset_index(drop=True),
        check_dtype=False,
    )
    assert {p: os.stat(p).st_mtime_ns for p in stamps} == stamps
    assert not [r for r in archive.log if r.path == ophys_blob]  # the skipped input was not even opened
    failed = again[~again["input"].isin(done["input"])]
    pd.testing.assert_frame_equal(
        failed.reset_index(drop=True),  # failures are tried again, and fail again
        before[before["status"] == "error"].reset_index(drop=True),
        check_dtype=False,
    )


# ------------------------------------------------------------------------------------------------
# listing and naming (no cluster)


@pytest.mark.parametrize(
    "path, pattern, expected",
    [
        ("sub-1/sub-1_ses-1.nwb", "sub-*/*.nwb", True),
        ("sub-1/ses-1/x.nwb", "sub-*/*.nwb", False),  # * does not cross /
        ("sub-1/ses-1/x.nwb", "**/*.nwb", True),
        ("x.nwb", "**/*.nwb", True),
        ("sub-1/x.nwb.zarr", "**/*.nwb", False),
        ("sub-10/x.nwb", "sub-[0-9]/*.nwb", False),
    ],
)
def test_match_glob(path: str, pattern: str, expected: bool) -> None:
    assert match_glob(path, pattern) is expected


def test_list_assets_pins_the_version_and_filters(archive: DandiStandIn) -> None:
    assets = list_assets("DANDI:000006")  # no version: the latest published, else draft (here draft)
    assert [(a.dandiset_id, a.version, a.label) for a in assets] == [("000006", "draft", x) for x in SINGLE_UNIT]
    for asset in assets:  # the reference names the instance itself: it resolves without the client's set-up
        assert resolve_asset(asset.reference).asset_id == asset.asset_id
        assert asset.reference.startswith(archive.api_url)
    assert [a.path for a in list_assets("DANDI:000006/draft", path_glob="sub-anm37*/*.nwb")] == [
        "sub-anm372793/sub-anm372793_ses-20170508.nwb"
    ]
    assert [a.path for a in list_assets("DANDI:000006/draft/sub-anm369963/")] == [
        "sub-anm369963/sub-anm369963_ses-20170228.nwb"
    ]
    assert list_assets("DANDI:000006/draft", path_glob="*.nwb") == []  # top-level only: none


def test_expand_sources_names_outputs(tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "sub-1").mkdir(parents=True)
    for name in ("sub-1/a.nwb", "sub-1/b.nwb", "c.nwb", "notes.txt"):
        (data / name).write_bytes(b"")
    out = tmp_path / "out"
    items, failures = expand_sources([data], out)  # a folder: its .nwb files, relative paths mirrored
    assert [(i.label, i.output) for i in items] == [
        (str(data / "c.nwb"), out / "c.nwb"),
        (str(data / "sub-1/a.nwb"), out / "sub-1/a.nwb"),
        (str(data / "sub-1/b.nwb"), out / "sub-1/b.nwb"),
    ]
    items, failures = expand_sources([str(data / "sub-1" / "*.nwb"), str(tmp_path / "none-*.nwb")], out)
    assert [i.output for i in items] == [out / "a.nwb", out / "b.nwb"]  # other files: <out>/<stem>.nwb
    assert len(failures) == 1 and failures[0]["error"].item().startswith("SourceError: no file matches")
    with pytest.raises(InputError, match="would all write"):
        expand_sources([data / "c.nwb", str(data / "*.nwb")], out)
    items, failures = expand_sources([data / "c.nwb"], data)  # the output would replace the input
    assert items == [] and "would replace the input" in failures[0]["error"].item()
    items, _ = expand_sources([data], data / "sub-1")  # outputs inside the folder are not inputs
    assert [i.label for i in items] == [str(data / "c.nwb")]


# ------------------------------------------------------------------------------------------------
# the command line


def _with_epochs(path: Path, split: float) -> Path:
    with NWBHDF5IO(str(path), "a") as io:
        nwbfile = io.read()
        nwbfile.add_epoch_column(name="stage", description="condition of the frames")
        nwbfile.add_epoch(start_time=0.0, stop_time=split, stage="awake")
        nwbfile.add_epoch(start_time=split, stop_time=1e6, stage="anesthesia")
        io.write(nwbfile)
    return path


def test_cli_batch_runs_every_condition(real_data: Path, tmp_path: Path) -> None:
    inputs = tmp_path / "inputs"
    recording = inputs / "sub-x" / "rx.nwb"
    recording.parent.mkdir(parents=True)
    recording.write_bytes((real_data / "neuroconv_ophys_segmentation" / "nwb_test.nwb").read_bytes())
    _with_epochs(recording, 12.5)
    model = "\n".join(f"{k} = {v}" for k, v in TINY.items())
    toml = tmp_path / "config.toml"
    toml.write_text(
        'conditions = "epochs"\ncondition_column = "stage"\nbin_width = 1.0\ncoarsening = 16\n'
        'device = "cpu"\n'
        f"n_monte_carlo = 100\n\n[model_params]\n{model}\n"
    )
    out = tmp_path / "out"
    result = CliRunner().invoke(
        cli, ["-q", "run", str(inputs), "--out-dir", str(out), "--config", str(toml), "--workers", "1"]
    )
    assert result.exit_code == 0, result.output
    summary = pd.read_csv(out / "summary.csv")
    assert list(summary["condition"]) == ["awake", "awake", "anesthesia", "anesthesia"]  # one task each, 2 scales
    assert set(summary["status"]) == {"ok"} and set(summary["output"]) == {str(out / "sub-x" / "rx.nwb")}
    analyses = _analyses(out / "sub-x" / "rx.nwb")  # both conditions in the one output file
    assert sorted(analyses) == ["causal_emergence_anesthesia", "causal_emergence_awake"]
    # the conditions ran as separate tasks; the writer compares them (each file's table, seen from its condition)
    awake = analyses["causal_emergence_awake"].comparisons
    anesthesia = analyses["causal_emergence_anesthesia"].comparisons
    assert len(awake) > 0 and set(awake["other_condition"]) == {"anesthesia"}
    np.testing.assert_allclose(awake["difference"], -anesthesia["difference"])
    expected = json.loads(AnalysisConfig.from_toml(toml).to_json())
    assert all(a.parameters == expected for a in analyses.values())  # the file's values, not the CLI defaults
    assert validate(path=str(out / "sub-x" / "rx.nwb")) == []


@pytest.mark.parametrize(
    "args, message",
    [
        (["a.nwb", "b.nwb", "--out", "x.nwb"], "several sources need batch mode: add --out-dir DIR"),
        (["a.nwb", "--workers", "2", "--out", "x.nwb"], "--workers need batch mode"),
        (["a.nwb", "--out-dir", "d", "--out", "x.nwb"], "drop --out / --in-place"),
    ],
)
def test_cli_batch_options_need_out_dir(args: list[str], message: str) -> None:
    result = CliRunner().invoke(cli, ["run", *args])
    assert result.exit_code == 2 and message in result.output


def _fails_once(marker: str, error: str) -> str:
    """Raise ``error`` the first time (the marker file does not exist yet), then succeed."""
    if not Path(marker).exists():
        Path(marker).write_text("failed once")
        raise {"stream": StreamingError, "source": SourceError}[error]("streaming 'http://…/blob' stopped")
    return "done"


@pytest.mark.parametrize(("error", "retried"), [("stream", True), ("source", False)])
def test_stopped_stream_is_retried_other_source_errors_are_recorded(tmp_path: Path, error: str, retried: bool) -> None:
    """A task whose stream stopped is retried by Dask (a rerun resumes from the cache); bad input is not."""
    from distributed import Client, LocalCluster

    from ndx_causal_emergence.pipeline.batch import _Failure, _outcome, _recorded

    with (
        LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=":0") as cluster,
        Client(cluster) as client,
    ):
        outcome = _outcome(client.submit(_recorded(_fails_once), str(tmp_path / "marker"), error, retries=1))
    if retried:
        assert outcome == "done"
    else:
        assert isinstance(outcome, _Failure) and outcome.error.startswith("SourceError: streaming")
