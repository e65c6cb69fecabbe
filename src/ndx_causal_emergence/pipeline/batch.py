"""Scale out: many inputs (files, folders, globs, whole Dandisets) analysed on a Dask cluster.

:func:`run_batch` writes one output NWB file per input (the input's content plus one
``CausalEmergenceAnalysis`` per condition) and a summary table across inputs and conditions.

Task graph (Dask ``distributed`` futures; this process only submits tasks and collects results):

- one **plan** task per input: if its output exists and holds analyses made with the same
  parameters, the input is skipped and the numbers are read back from the output; otherwise the
  input is opened and its conditions are listed;
- one **analysis** task per (input, condition): :func:`~ndx_causal_emergence.pipeline.run.analyze`
  with ``only=[condition]``;
- one **writer** task per input, submitted once all its analyses have finished: it merges the
  conditions and writes the output file atomically (temporary file + rename), so an output exists
  only when complete. If any condition failed, nothing is written and every condition of the input
  is reported with the reason.

Failures are recorded as one line in the summary's ``error`` column and never stop the other
inputs. Errors that may be transient (``OSError``, ``TimeoutError``, ``MemoryError`` that are not
this package's own errors, and a streamed read's :class:`StreamingError`) are first retried
``retries`` times by Dask; all others (bad input, too few channels, bugs: their traceback goes to
the worker's log) are recorded at once. A worker that dies mid-task (killed, out of memory) is
replaced by its nanny and the scheduler reruns the task elsewhere (up to
``distributed.scheduler.allowed-failures`` times); results lost with it are
recomputed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import glob
import json
import logging
import os
import re
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pandas as pd

from ..errors import CausalEmergenceError, InputError, OutputError, SourceError, StreamingError
from ..safety.paths import check_inside, confined_path
from .comparisons import attach_comparisons
from .config import AnalysisConfig

__all__ = ["BatchInput", "batch_summary_dataset", "expand_sources", "run_batch"]

#: Leading columns of the summary; the per-scale emergence columns of ``Results.summary()`` follow.
SUMMARY_COLUMNS = ("input", "output", "condition", "status", "error")
_GLOB_CHARS = re.compile(r"[*?\[]")
#: Errors worth a retry (network, file system, memory); anything else is recorded at once.
_TRANSIENT = (OSError, TimeoutError, MemoryError)
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BatchInput:
    """One input of a batch.

    Attributes
    ----------
    source : str
        What the tasks open: a local path, a URL, or a DANDI asset's API download URL.
    label : str
        How the summary names it (the path as given, or ``DANDI:<id>/<version>/<path>``).
    output : Path
        Its output NWB file, inside ``out_dir`` (see :func:`~ndx_causal_emergence.safety.paths.confined_path`).
    out_dir : Path, optional
        The batch's output folder; the writer checks again that ``output`` lies inside it.
    """

    source: str
    label: str
    output: Path
    out_dir: Path | None = None


@dataclass(frozen=True)
class _Failure:
    error: str


@dataclass(frozen=True)
class _Plan:
    conditions: list[str | None] | None = None  # to analyse (None: unlabelled, all frames)
    rows: pd.DataFrame | None = None  # skipped: the numbers stored in the existing output


def _one_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0] if text else ''}"[:500]


def _as_failure(err: Exception) -> _Failure:
    """Record an error of a task; re-raise it if it may be transient, so that Dask retries the task."""
    transient = isinstance(err, _TRANSIENT) and not isinstance(err, CausalEmergenceError)
    if transient or isinstance(err, StreamingError):
        raise err
    if not isinstance(err, CausalEmergenceError):  # a bug, not bad input: keep the traceback in the worker's log
        log.warning("batch task failed", exc_info=err)
    return _Failure(_one_line(err))


def _recorded(task: Callable[..., Any]) -> Callable[..., Any]:
    """A task that returns a :class:`_Failure` instead of raising, except for transient errors."""

    @functools.wraps(task)
    def wrapper(*args: Any) -> Any:
        try:
            return task(*args)
        except Exception as err:
            return _as_failure(err)

    return wrapper


def _frame(rows: pd.DataFrame | list[dict[str, Any]]) -> pd.DataFrame:
    """Rows with a stable column order: :data:`SUMMARY_COLUMNS`, ``scale``, ``dimension``, the others sorted."""
    df = pd.DataFrame(rows)
    for col in SUMMARY_COLUMNS:
        if col not in df:
            df[col] = None
    lead = list(SUMMARY_COLUMNS) + [c for c in ("scale", "dimension") if c in df]
    return df[lead + sorted(c for c in df.columns if c not in lead)]


def _error_rows(label: str, error: str, conditions: Sequence[str | None] = (None,)) -> pd.DataFrame:
    return _frame(
        [{"input": label, "output": None, "condition": c, "status": "error", "error": error} for c in conditions]
    )


def _result_rows(item: BatchInput, summary: pd.DataFrame, *, status: str, error: str | None = None) -> pd.DataFrame:
    """Rows of analysed conditions; ``output`` only where the file exists (status ``ok`` or ``skipped``)."""
    df = summary.copy()
    df["input"], df["status"], df["error"] = item.label, status, error
    df["output"] = None if status == "error" else str(item.output)
    return _frame(df)


# ------------------------------------------------------------------------------------------------
# inputs


def _item(
    source: str, label: str, out_dir: Path, relative: str, *, folder: str | None = None
) -> BatchInput | pd.DataFrame:
    """The input with its output ``out_dir / [folder /] relative``, or an error row if it would leave ``out_dir``."""
    try:
        output = confined_path(confined_path(out_dir, folder) if folder else out_dir, relative)
    except OutputError as err:
        return _error_rows(label, _one_line(err))
    return BatchInput(source=source, label=label, output=output, out_dir=out_dir)


def _local_item(path: Path, label: str, out_dir: Path, relative: str) -> BatchInput | pd.DataFrame:
    found = _item(str(path), label, out_dir, relative)
    if isinstance(found, BatchInput) and path.exists() and found.output.resolve() == path.resolve():
        return _error_rows(
            label, f"InputError: the output {found.output} would replace the input; choose another out_dir"
        )
    return found


def expand_sources(
    sources: Sequence[str | os.PathLike], out_dir: str | os.PathLike, *, path_glob: str | None = None
) -> tuple[list[BatchInput], list[pd.DataFrame]]:
    """Turn sources into batch inputs, each with its output path.

    Parameters
    ----------
    sources : sequence of str or path
        Local NWB files; folders (their files matching ``path_glob``, default ``**/*.nwb``); glob
        patterns (``data/*.nwb``); http(s) URLs; DANDI references to one asset, a folder of a
        Dandiset, or a whole Dandiset (``DANDI:000123[/VERSION]``, listed with the ``dandi`` client
        and filtered by ``path_glob``).
    out_dir : str or path
        Output folder. A DANDI asset's output mirrors its path under ``<out_dir>/<dandiset id>/``
        (the layout of ``dandi download``); a file found in a folder mirrors its path relative to
        that folder (files inside ``out_dir`` are never inputs); any other file is written to
        ``<out_dir>/<stem>.nwb``. An output path that would leave ``out_dir`` (a ``..`` segment, an
        absolute path, a NUL byte, a symbolic link on the way) is refused: that input gets an error row.
    path_glob : str, optional
        Glob on the paths inside Dandisets and folders (see
        :func:`~ndx_causal_emergence.dandi.dandisets.match_glob`).

    Returns
    -------
    (inputs, failures)
        The inputs, and one summary row (status ``error``) per source that named nothing
        (unknown Dandiset, glob without match) or whose output path was refused.

    Raises
    ------
    InputError
        Two inputs would write the same output file.
    """
    from ..dandi.dandisets import DEFAULT_GLOB, list_assets, match_glob
    from ..dandi.refs import is_dandi_reference

    out_dir = Path(out_dir)
    items: list[BatchInput] = []
    failures: list[pd.DataFrame] = []

    def add(found: BatchInput | pd.DataFrame) -> None:
        (items if isinstance(found, BatchInput) else failures).append(found)

    for source in sources:
        text = os.fspath(source)
        if is_dandi_reference(text):
            try:
                assets = list_assets(text, path_glob=path_glob)
            except SourceError as err:
                add(_error_rows(text, _one_line(err)))
                continue
            if not assets:
                add(_error_rows(text, f"SourceError: no asset of {text} matches {path_glob or DEFAULT_GLOB!r}"))
            for asset in assets:
                add(_item(asset.reference, asset.label, out_dir, asset.path, folder=asset.dandiset_id))
        elif re.match(r"^https?://", text, re.IGNORECASE):
            add(_item(text, text, out_dir, f"{Path(urlsplit(text).path).stem}.nwb"))
        elif Path(text).is_dir():
            pattern = path_glob or DEFAULT_GLOB
            root = Path(text)
            found = sorted(
                p
                for p in root.rglob("*")
                if p.is_file()
                and out_dir.resolve() not in p.resolve().parents
                and match_glob(p.relative_to(root).as_posix(), pattern)
            )  # never earlier outputs
            if not found:
                add(_error_rows(text, f"SourceError: no file in the folder {text} matches {pattern!r}"))
            for path in found:
                add(_local_item(path, str(path), out_dir, path.relative_to(root).as_posix()))
        elif _GLOB_CHARS.search(text) and not Path(text).exists():
            matches = sorted(glob.glob(text, recursive=True))
            if not matches:
                add(_error_rows(text, f"SourceError: no file matches the pattern {text!r}"))
            for match in matches:
                add(_local_item(Path(match), match, out_dir, f"{Path(match).stem}.nwb"))
        else:
            add(_local_item(Path(text), text, out_dir, f"{Path(text).stem}.nwb"))
    by_output: dict[Path, list[str]] = {}
    for item in items:
        by_output.setdefault(item.output.resolve(), []).append(item.label)
    clashes = {out: labels for out, labels in by_output.items() if len(labels) > 1}
    if clashes:
        out, labels = next(iter(clashes.items()))
        raise InputError(
            f"inputs {labels} would all write {out}; give each input a distinct file name, or run them "
            "in separate batches with different out_dir"
        )
    return items, failures


# ------------------------------------------------------------------------------------------------
# tasks (run on the workers)


def _result_parameters(stored: dict[str, Any]) -> dict[str, Any] | None:
    """The result-deciding parameters of a stored analysis (defaults for fields it predates); None if unreadable."""
    try:
        return json.loads(json.dumps(AnalysisConfig.from_dict(stored, stored=True).result_parameters()))
    except (InputError, TypeError):
        return None


def _stored_rows(item: BatchInput, config: AnalysisConfig) -> pd.DataFrame:
    """Rows of an existing output if all its analyses used ``config``; else an :class:`OutputError`."""
    from .results import Results, read_all_results, stored_analyses

    try:
        stored = stored_analyses(read_all_results(item.output, load_models=False, load_macro_variables=False))
    except SourceError as err:
        raise OutputError(
            f"{item.output} exists but cannot be read ({err}); delete it or rerun with overwrite"
        ) from None
    wanted = json.loads(json.dumps(config.result_parameters()))
    if not stored or any(_result_parameters(res.parameters) != wanted for res in stored.values()):
        raise OutputError(
            f"{item.output} exists and holds analyses with other parameters (or none); rerun with "
            "overwrite to replace it, or choose another out_dir"
        )
    summary = Results(
        conditions={res.condition: res for res in stored.values()},
        config=config,
        source=None,
        series_path="",
        series_object_id="",
    ).summary()
    return _result_rows(item, summary, status="skipped")


@_recorded
def _plan_input(item: BatchInput, config: AnalysisConfig, overwrite: bool, cache_dir: str | None) -> _Plan:
    """Skip the input (output complete), or list its conditions."""
    from ..nwb.read import read_recording
    from .run import check_analysis_names, too_few_channels

    if item.output.exists() and not overwrite:
        return _Plan(rows=_stored_rows(item, config))
    recording = read_recording(
        item.source,
        series=config.series,
        conditions=config.conditions,
        condition_column=config.condition_column,
        bin_width=config.bin_width,
        cache_dir=cache_dir,
    )
    if recording.n_channels < 2:
        raise too_few_channels(f"{item.label}: {recording.series_path} has {recording.n_channels} channel")
    check_analysis_names(recording.conditions())
    return _Plan(conditions=recording.conditions() or [None])


@_recorded
def _analyze_input(
    item: BatchInput, condition: str | None, config: AnalysisConfig, cache_dir: str | None, command: str | None
) -> Any:
    """The :class:`~.results.Results` of one condition of an input."""

    from .run import analyze

    # threads: one per task unless config.threads says otherwise (runtime.threads.choose_threads sees the worker)
    return analyze(
        item.source,
        config=config,
        only=None if condition is None else [condition],
        cache_dir=cache_dir,
        command=command,
    )  # fewer than 2 channels: a DataError before the fit


def _remove_stale_temporaries(target: Path) -> None:
    """Temporary files a killed writer of ``target`` left behind (``nwb.write.atomic_target`` naming)."""
    stale = re.compile(rf"^\.{re.escape(target.stem)}\.[a-z0-9_]{{8}}\.tmp\.nwb$")
    if target.parent.is_dir():
        for path in target.parent.iterdir():
            if stale.match(path.name):
                path.unlink(missing_ok=True)


@_recorded
def _write_input(
    item: BatchInput, conditions: list[str | None], errors: dict[str | None, str], *outcomes: Any
) -> pd.DataFrame:
    """Write one input's output from its analyses (``outcomes``, one per condition not in ``errors``)."""
    failed = dict(errors)
    done = []
    for condition, outcome in zip([c for c in conditions if c not in errors], outcomes, strict=True):
        if isinstance(outcome, _Failure):
            failed[condition] = outcome.error
        else:
            done.append(outcome)
    if failed:
        reason = "not written: " + "; ".join(f"condition {c or 'all'!r} failed" for c in failed)
        frames = [_result_rows(item, res.summary(), status="error", error=reason) for res in done]
        frames += [_error_rows(item.label, error, [c]) for c, error in failed.items()]
        return pd.concat(frames, ignore_index=True)
    conditions_done = {k: v for res in done for k, v in res.conditions.items()}
    # each condition was its own task: compare them now that they are together
    comparisons = attach_comparisons(conditions_done, alpha=done[0].config.alpha, seed=done[0].config.seed)
    merged = dataclasses.replace(done[0], conditions=conditions_done, comparisons=comparisons)
    if item.out_dir is not None:  # a link planted while the analyses ran must not redirect the write
        check_inside(item.out_dir, item.output)
    item.output.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temporaries(item.output)
    try:
        # the plan task checked that the output may be written; a retry after a kill may meet its own file
        merged.write(item.output, overwrite=True)
    except Exception as err:
        return _result_rows(item, merged.summary(), status="error", error=_as_failure(err).error)
    return _result_rows(item, merged.summary(), status="ok")


# ------------------------------------------------------------------------------------------------
# driver (this process)


#: Where a local cluster's dashboard listens: loopback only (it has no authentication).
DASHBOARD_ADDRESS = "127.0.0.1:0"


@contextlib.contextmanager
def _connect(
    workers: int | None, scheduler: str | None, dashboard_address: str = DASHBOARD_ADDRESS, threads_per_task: int = 1
) -> Iterator[Any]:
    """A Dask client: of an existing cluster (``scheduler``), else of a new ``LocalCluster`` on loopback.

    The local cluster's default size splits the free cores (:func:`~..runtime.threads.choose_threads`)
    between workers whose tasks run ``threads_per_task`` threads each.
    """
    from distributed import Client, LocalCluster

    if scheduler is not None:
        if workers is not None:
            raise InputError("give either workers (start a local cluster) or scheduler (use a running one), not both")
        try:
            client = Client(scheduler, timeout="30s")
        except (OSError, TimeoutError) as err:
            raise InputError(
                f"cannot connect to the Dask scheduler at {scheduler!r}: {err}; check the address "
                "(e.g. tcp://host:8786) and that the scheduler runs"
            ) from None
        with client:
            yield client
        return
    from ..runtime.threads import choose_threads

    n_workers = workers if workers is not None else max(1, choose_threads().threads // threads_per_task)
    if n_workers < 1:
        raise InputError(f"workers must be >= 1, got {workers}")
    with (
        LocalCluster(
            n_workers=n_workers,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=dashboard_address,
            silence_logs=logging.ERROR,
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


def _outcome(future: Any) -> Any:
    try:
        return future.result()
    except Exception as err:  # the task's own exception after its retries, or KilledWorker
        return _Failure(_one_line(err))


def _execute(
    client: Any,
    items: list[BatchInput],
    config: AnalysisConfig,
    *,
    overwrite: bool,
    cache_dir: str | None,
    retries: int,
    command: str | None,
    progress: bool,
) -> list[pd.DataFrame]:
    """Submit the plan, analysis and writer tasks; one summary frame per input, in input order."""
    from distributed import as_completed
    from tqdm import tqdm

    token = uuid.uuid4().hex[:8]
    meta: dict[Any, tuple[str, int, str | None]] = {}
    rows: list[pd.DataFrame | None] = [None] * len(items)
    analyses: dict[int, dict[str | None, Any]] = {}
    remaining: dict[int, int] = {}
    queue = as_completed()

    def submit(kind: str, index: int, condition: str | None, key: str, func: Any, *args: Any) -> Any:
        future = client.submit(func, *args, key=f"{kind}-{token}-{key}", retries=retries)
        meta[future] = (kind, index, condition)
        queue.add(future)
        return future

    for i, item in enumerate(items):
        submit("plan", i, None, str(i), _plan_input, item, config, overwrite, cache_dir)
    with tqdm(total=len(items), unit="task", desc="causal-emergence batch", disable=not progress) as bar:
        for future in queue:
            kind, i, condition = meta.pop(future)
            bar.update()
            item = items[i]
            if kind == "plan":
                plan = _outcome(future)
                if isinstance(plan, _Failure):
                    rows[i] = _error_rows(item.label, plan.error)
                elif plan.rows is not None:
                    rows[i] = plan.rows
                else:
                    analyses[i] = {
                        c: submit("analyze", i, c, f"{i}-{k}", _analyze_input, item, c, config, cache_dir, command)
                        for k, c in enumerate(plan.conditions)
                    }
                    remaining[i] = len(plan.conditions)
                    bar.total += len(plan.conditions)
            elif kind == "analyze":
                remaining[i] -= 1
                if remaining[i] == 0:  # all analyses of the input finished: submit its writer
                    futures = analyses.pop(i)
                    errors = {c: _one_line(f.exception()) for c, f in futures.items() if f.status == "error"}
                    submit(
                        "write",
                        i,
                        None,
                        str(i),
                        _write_input,
                        item,
                        list(futures),
                        errors,
                        *[f for c, f in futures.items() if c not in errors],
                    )
                    bar.total += 1
            else:
                written = _outcome(future)
                rows[i] = _error_rows(item.label, written.error) if isinstance(written, _Failure) else written
            bar.refresh()
    return [r for r in rows if r is not None]


def _write_summary(summary: pd.DataFrame, out_dir: Path) -> None:
    """``summary.csv`` and ``summary.parquet`` in ``out_dir``, each replaced atomically."""
    for name in ("summary.csv", "summary.parquet"):
        tmp = out_dir / f".{name}.tmp"
        if name.endswith(".csv"):
            summary.to_csv(tmp, index=False)
        else:
            summary.to_parquet(tmp, index=False)
        os.replace(tmp, out_dir / name)


def run_batch(
    sources: Sequence[str | os.PathLike],
    out_dir: str | os.PathLike,
    *,
    config: AnalysisConfig | None = None,
    path_glob: str | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    progress: bool = True,
    overwrite: bool = False,
    cache_dir: str | os.PathLike | None = None,
    retries: int = 2,
    command: str | None = None,
    dashboard_address: str = DASHBOARD_ADDRESS,
) -> pd.DataFrame:
    """Analyse many inputs on a Dask cluster: one output NWB per input, and a summary table.

    Parameters
    ----------
    sources : sequence of str or path
        Files, folders, glob patterns, URLs and DANDI references (assets, folders or whole
        Dandisets); see :func:`expand_sources`, which also gives the output names.
    out_dir : str or path
        Output folder; also receives ``summary.csv`` and ``summary.parquet``.
    config : AnalysisConfig, optional
        Parameters of every analysis (default ``AnalysisConfig()``).
    path_glob : str, optional
        Glob on asset paths of Dandisets and on file paths in folders (e.g. ``sub-*/*.nwb``).
    workers : int, optional
        Start a ``distributed.LocalCluster`` with this many single-threaded worker processes
        (default: one per free core this process may use, divided by ``config.threads`` if set;
        each task runs ``config.threads`` torch threads, default 1).
    scheduler : str, optional
        Address of a running Dask scheduler to use instead (its workers must import this package).
    progress : bool
        Show a progress bar (tqdm, stderr) over the finished tasks.
    overwrite : bool
        Redo and replace existing outputs. Otherwise an existing output whose analyses used the
        same parameters is skipped (status ``skipped``, numbers read from it), and one made with
        other parameters is an error.
    cache_dir : str or path, optional
        Disk cache of streamed bytes, shared by the workers of a machine.
    retries : int
        Dask retries of a task that failed with a possibly transient error (``OSError``,
        ``TimeoutError``, ``MemoryError``, a stream that stopped: :class:`StreamingError`).
    command : str, optional
        Command line recorded in each analysis' provenance (default: this process' ``sys.argv``).
    dashboard_address : str
        ``host:port`` of a new local cluster's dashboard (default: loopback, a free port). The
        dashboard has no authentication: bind it to another interface only on a trusted network.

    Returns
    -------
    pandas.DataFrame
        One row per (input, condition, scale): ``input, output, condition, status, error`` then the
        columns of :meth:`~.results.Results.summary`. ``status`` is ``ok`` (analysed and written),
        ``skipped`` or ``error`` (one line in ``error``; inputs that failed before their conditions
        were known have no condition).

    Raises
    ------
    InputError
        No sources, two inputs with the same output, ``workers`` and ``scheduler`` both given, or
        an unreachable scheduler.
    """
    if not sources:
        raise InputError("no sources given; give NWB files, folders, glob patterns or DANDI references")
    from .provenance import command_line

    config = config or AnalysisConfig()
    command = command or command_line()  # this process' command line, not a worker's
    out_dir = Path(out_dir)
    items, frames = expand_sources(sources, out_dir, path_glob=path_glob)
    out_dir.mkdir(parents=True, exist_ok=True)
    if items:
        with _connect(workers, scheduler, dashboard_address, config.threads or 1) as client:
            frames += _execute(
                client,
                items,
                config,
                overwrite=overwrite,
                cache_dir=os.fspath(cache_dir) if cache_dir is not None else None,
                retries=retries,
                command=command,
                progress=progress,
            )
    summary = _frame(pd.concat(frames, ignore_index=True))
    _write_summary(summary, out_dir)
    return summary


def batch_summary_dataset(summary: pd.DataFrame) -> Any:
    """The batch summary as an ``xarray.Dataset``.

    Parameters
    ----------
    summary : pandas.DataFrame
        What :func:`run_batch` returns (or ``summary.parquet`` read back).

    Returns
    -------
    xarray.Dataset
        Numeric measures over ``(input, condition, scale)`` (NaN where an input lacks a condition or
        a scale); ``status`` (``ok``, ``skipped`` or ``error``), ``error`` (the first error) and
        ``output`` over ``input``.
    """
    import xarray as xr

    def status(values: pd.Series) -> str:
        return "error" if (values == "error").any() else str(values.iloc[0])

    def first_error(values: pd.Series) -> str:
        errors = values.dropna()
        return str(errors.iloc[0]) if len(errors) else ""

    per_input = summary.groupby("input", sort=False).agg(
        status=("status", status), error=("error", first_error), output=("output", "first")
    )
    dataset = xr.Dataset.from_dataframe(per_input)
    measured = summary[summary["scale"].notna()] if "scale" in summary else summary.iloc[:0]
    if len(measured):
        numeric = [
            c
            for c in measured.columns
            if c not in SUMMARY_COLUMNS and c != "scale" and pd.api.types.is_numeric_dtype(measured[c])
        ]
        table = measured.assign(scale=measured["scale"].astype(int)).set_index(["input", "condition", "scale"])
        dataset = xr.merge([dataset, xr.Dataset.from_dataframe(table[numeric])], join="outer")
    return dataset
