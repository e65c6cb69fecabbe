"""Writing results: a new file, an atomic in-place append, and failures that lose nothing."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from pynwb import NWBHDF5IO, validate
from pynwb.testing.mock.file import mock_NWBFile
from pynwb.testing.mock.ophys import mock_RoiResponseSeries

from ndx_causal_emergence.errors import OutputError
from ndx_causal_emergence.nwb.read_results import read_analyses
from ndx_causal_emergence.nwb.write import InputLinks, append_in_place, export_with_results
from ndx_causal_emergence.testing.content import mock_analysis_content


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _input_file(path: Path, n_times: int = 100) -> InputLinks:
    import numpy as np

    nwbfile = mock_NWBFile()
    series = mock_RoiResponseSeries(
        name="RoiResponseSeries",
        n_rois=4,
        rate=10.0,
        nwbfile=nwbfile,
        data=np.random.default_rng(0).normal(size=(n_times, 4)),
    )
    with NWBHDF5IO(path, "w") as io:
        io.write(nwbfile)
    return InputLinks(series.object_id, series.rois.table.object_id, [0, 1, 2, 3])


def _check_result(path: Path, names: list[str]) -> None:
    assert validate(path=str(path)) == []
    analyses = read_analyses(path, load_models=False)
    assert sorted(a.name for a in analyses) == sorted(names)
    for res in analyses:
        assert list(res.emergence["scale"]) == [0, 1, 2]
        assert res.fixed_points["stability"].tolist() == ["stable", "unstable", "stable"]
        assert len(res.transitions) == 2
        assert [data.shape for _, data, _ in res.macro_variables] == [(100, 4), (100, 2), (100, 1)]
        assert res.dropped_channels == [(4, "constant on the training block")]
    with NWBHDF5IO(path, "r", load_namespaces=True) as io:
        for name in names:
            analysis = io.read().processing["ophys"][name]
            assert set(analysis.attribution_table["roi"].data[:]) == {0, 1, 2, 3}


def test_export_new_file_leaves_input_untouched(tmp_path):
    src = tmp_path / "in.nwb"
    links = _input_file(src)
    before = _digest(src)
    out = tmp_path / "out.nwb"
    with NWBHDF5IO(src, "r") as io:
        export_with_results(io, io.read(), [mock_analysis_content()], links, out)
    assert _digest(src) == before
    _check_result(out, ["causal_emergence_awake"])
    with NWBHDF5IO(out, "r") as io:  # the input's own data came along, copied (not linked)
        f = io.read()
        assert f.processing["ophys"]["RoiResponseSeries"].data.shape == (100, 4)
        assert f.processing["ophys"]["RoiResponseSeries"].data.file.filename == str(out)
    assert not list(tmp_path.glob(".*.tmp.nwb"))


def test_export_refuses_existing_output(tmp_path):
    src = tmp_path / "in.nwb"
    links = _input_file(src)
    out = tmp_path / "out.nwb"
    out.write_bytes(b"keep me")
    with NWBHDF5IO(src, "r") as io, pytest.raises(OutputError, match="exists"):
        export_with_results(io, io.read(), [mock_analysis_content()], links, out)
    assert out.read_bytes() == b"keep me"


def test_append_in_place_and_refuse_duplicate_name(tmp_path):
    src = tmp_path / "in.nwb"
    links = _input_file(src)
    append_in_place(src, [mock_analysis_content(name="causal_emergence_awake")], links)
    append_in_place(src, [mock_analysis_content(name="causal_emergence_anesthesia", seed=1)], links)
    _check_result(src, ["causal_emergence_awake", "causal_emergence_anesthesia"])
    before = _digest(src)
    with pytest.raises(OutputError, match="already exists"):
        append_in_place(src, [mock_analysis_content(name="causal_emergence_awake")], links)
    assert _digest(src) == before
    assert not list(tmp_path.glob(".*.tmp.nwb"))


@contextlib.contextmanager
def _tmpfs(path: Path, size: str):
    """A real small tmpfs at ``path`` (root can mount here; CI runs as root)."""
    path.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True)
    if proc.returncode != 0:
        pytest.fail(f"cannot mount a tmpfs for the test: {proc.stderr.decode()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def test_full_disk_gives_clear_error_and_loses_nothing(tmp_path):
    with _tmpfs(tmp_path / "small", "300k") as folder:
        src = folder / "in.nwb"
        links = _input_file(src)
        before = _digest(src)
        # a big analysis that cannot fit in what is left of the 300 kB file system
        content = mock_analysis_content(n_times=20_000, timestamps=None)
        with pytest.raises(OutputError, match="no space left"):
            append_in_place(src, [content], links)
        assert _digest(src) == before
        assert [p.name for p in folder.iterdir()] == ["in.nwb"]


def test_injected_enospc_on_export(tmp_path, monkeypatch):
    src = tmp_path / "in.nwb"
    links = _input_file(src)

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(NWBHDF5IO, "export", full)
    with NWBHDF5IO(src, "r") as io, pytest.raises(OutputError, match="no space left"):
        export_with_results(io, io.read(), [mock_analysis_content()], links, tmp_path / "out.nwb")
    assert not (tmp_path / "out.nwb").exists()
    assert not list(tmp_path.glob(".*.tmp.nwb"))


def test_read_only_target(tmp_path):
    with _tmpfs(tmp_path / "ro", "2m") as folder:
        src = folder / "in.nwb"
        links = _input_file(src)
        before = _digest(src)
        subprocess.run(["mount", "-o", "remount,ro", str(folder)], check=True)
        with pytest.raises(OutputError, match="read-only"):
            append_in_place(src, [mock_analysis_content()], links)
        assert _digest(src) == before


def test_locked_file(tmp_path):
    src = tmp_path / "in.nwb"
    links = _input_file(src)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import h5py, time; f = h5py.File({str(src)!r}, 'a'); print('open', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "open"
        before = _digest(src)  # (opening in 'a' mode marks the file; compare from here)
        with pytest.raises(OutputError, match="locked"):
            append_in_place(src, [mock_analysis_content()], links)
    finally:
        holder.kill()
        holder.wait()
    assert _digest(src) == before


#: Imports once, then on "append" appends in a child process forked from it ("ready PID" as the append
#: starts, "done" after it) and on "reap" waits for that child (finished or killed: "exited STATUS"). The
#: child is reaped only when asked, so that its pid cannot be reused before the test has killed it.
APPENDER = textwrap.dedent(
    """
    import os, sys
    from ndx_causal_emergence.nwb.write import InputLinks, append_in_place
    from ndx_causal_emergence.testing.content import mock_analysis_content
    links = InputLinks(sys.argv[2], sys.argv[3], [0, 1, 2, 3])
    while line := sys.stdin.readline():
        if line.strip() == "reap":
            print("exited", os.waitpid(pid, 0)[1], flush=True)
            continue
        pid = os.fork()
        if pid == 0:
            print("ready", os.getpid(), flush=True)
            append_in_place(sys.argv[1], [mock_analysis_content(n_times=100)], links)
            print("done", flush=True)
            os._exit(0)
    """
)


class _Appender:
    """The APPENDER process: one append per call of :meth:`start`, its child's pid returned."""

    def __init__(self, target: Path, links: InputLinks) -> None:
        command = [sys.executable, "-c", APPENDER, str(target), links.series_object_id, links.roi_table_object_id]
        self.proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def _say(self, word: str) -> None:
        self.proc.stdin.write(word + "\n")
        self.proc.stdin.flush()

    def start(self) -> int:
        self._say("append")
        word, pid = self.proc.stdout.readline().split()
        assert word == "ready"
        return int(pid)

    def exited(self) -> int:
        """Wait until the append's child is gone and reaped; its wait status (0: finished normally)."""
        self._say("reap")
        while not (line := self.proc.stdout.readline()).startswith("exited"):
            assert line, "the appender stopped"
        return int(line.split()[1])

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait()


def test_in_place_survives_sigkill_at_random_moments(tmp_path):
    """20 trials: SIGKILL during an in-place append leaves the original or the complete result."""
    original = tmp_path / "original.nwb"
    links = _input_file(original)
    original_digest = _digest(original)
    target = tmp_path / "target.nwb"
    rng = random.Random(1234)
    appender = _Appender(target, links)  # imports once; each append runs in a process forked from it
    # how long an append takes once the process is ready
    target.write_bytes(original.read_bytes())
    appender.start()
    t0 = time.perf_counter()
    assert appender.exited() == 0
    duration = time.perf_counter() - t0
    outcomes = {"original": 0, "complete": 0}
    for _ in range(20):
        target.write_bytes(original.read_bytes())
        pid = appender.start()
        time.sleep(rng.uniform(0, duration * 1.1))
        os.kill(pid, signal.SIGKILL)  # running or finished, the child is not reaped before exited()
        appender.exited()
        for leftover in tmp_path.glob(".*.tmp.nwb"):  # a killed writer may leave its temporary file, never the target
            leftover.unlink()
        if _digest(target) == original_digest:
            outcomes["original"] += 1
        else:
            _check_result(target, ["causal_emergence_awake"])
            outcomes["complete"] += 1
    appender.close()
    assert sum(outcomes.values()) == 20
    assert outcomes["original"] > 0  # the kills did land mid-write


def test_what_is_written_reads_back_as_the_content_written(tmp_path):
    """The reader returns the writer's input: tables (dtypes included), arrays, tensors, diagnostics, dropped channels,
    the module and the links to the input's series and ROI table."""
    import numpy as np
    from pandas.testing import assert_frame_equal

    src, out = tmp_path / "in.nwb", tmp_path / "out.nwb"
    links = _input_file(src)
    content = mock_analysis_content()
    content.provenance = {**content.provenance, "input_object_id": links.series_object_id}
    with NWBHDF5IO(src, "r") as io:
        export_with_results(io, io.read(), [content], links, out)
    (read,) = read_analyses(out)
    assert (read.module, read.links) == ("ophys", links)
    for table in ("emergence", "fixed_points", "attribution", "transitions", "diagnostics"):
        assert_frame_equal(getattr(read, table), getattr(content, table), check_like=True, obj=table)
    for field in ("name", "condition", "method", "parameters", "provenance", "dropped_channels",
                  "emergent_complexity", "emergent_complexity_normalized"):  # fmt: skip
        assert getattr(read, field) == getattr(content, field), field
    assert list(read.seeds) == list(content.seeds) and np.array_equal(read.intervals, content.intervals)
    for (k, data, stamps), (k0, data0, stamps0) in zip(read.macro_variables, content.macro_variables, strict=True):
        assert k == k0 and np.array_equal(stamps, stamps0) and np.array_equal(data, data0.astype(np.float32))
    (model,) = read.models
    assert model.object_id and model.architecture == json.dumps({"a": 1, "tensor_shapes": {"w": [3, 3]}})
    assert np.array_equal(model.tensors["w"], content.models[0].tensors["w"])


def test_a_file_without_the_newer_parts_reads(tmp_path):
    """Analyses written before diagnostics, dropped channels and fixed-point agreement were stored read with none."""
    src, out = tmp_path / "in.nwb", tmp_path / "out.nwb"
    links = _input_file(src)
    content = mock_analysis_content()
    content.diagnostics, content.dropped_channels = None, []
    content.fixed_points = content.fixed_points.drop(columns="agrees")
    with NWBHDF5IO(src, "r") as io:
        export_with_results(io, io.read(), [content], links, out)
    with NWBHDF5IO(out, "r", load_namespaces=True) as io:
        stored = io.read().processing["ophys"]["causal_emergence_awake"]
        assert stored.diagnostics is None and stored.dropped_channels is None
    (read,) = read_analyses(out, load_models=False, load_macro_variables=False)
    assert read.diagnostics is None and read.dropped_channels == [] and "agrees" not in read.fixed_points
    assert read.macro_variables == [] and read.models[0].tensors == {} and read.models[0].name == "model_seed0"
