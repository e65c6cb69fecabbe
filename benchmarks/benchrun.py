"""What every benchmark script records about its run, and the tables it prints and stores.

A benchmark's JSON file (``--json PATH``) holds how it was made (``command``, ``commit``,
``machine``, ``wall_seconds``) beside what it measured: ``tables``, each a title, column names and
rows of cells exactly as the printed Markdown table shows them, and optionally ``records`` (the
raw values). ``render_results.py`` builds ``RESULTS.md`` from these files.

    from benchrun import Run, Table
    run = Run("measures")                 # at the start: the command and the code it imported
    table = Table("IPW weights", ["q", "seconds"])
    table.add(1, f"{0.049:.3f}")
    print(table.markdown())
    run.write(args.json, [table], records=rows)
"""

from __future__ import annotations

import functools
import json
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent


def commit() -> str:
    """The checked-out commit, with ``+dirty`` when the working tree differs from it."""
    run = functools.partial(subprocess.run, cwd=REPO, capture_output=True, text=True, check=False)
    head = run(["git", "rev-parse", "--short", "HEAD"]).stdout.strip() or "unknown"
    return head + ("+dirty" if run(["git", "status", "--porcelain", "--untracked-files=no"]).stdout.strip() else "")


def machine() -> dict:
    """The machine as a run sees it: platform, CPU count and load average (1, 5, 15 min) now."""
    return {"platform": platform.platform(), "cpus": os.cpu_count(), "loadavg": list(os.getloadavg())}


def command() -> str:
    """The command line of this process as a user would type it again (``python`` + script + arguments)."""
    return " ".join(["python", *sys.argv])


def box_speed(repeats: int = 3) -> float:
    """Seconds of a fixed one-thread torch workload, best of ``repeats``: the box's speed at this moment.

    160 training steps of a small MLP on a batch of 1,792 rows (the sizes of a 114-channel fit's
    decoder), forward and backward. The same code on the same machine took from 80 to 95 s for one
    job over a day: a probe beside each run tells a slower code from a slower box.
    """
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        gen = torch.Generator().manual_seed(0)
        net = torch.nn.Sequential(torch.nn.Linear(57, 64), torch.nn.Tanh(), torch.nn.Linear(64, 64), torch.nn.Tanh(),
                                  torch.nn.Linear(64, 57))  # fmt: skip
        x = torch.randn(1792, 57, generator=gen)
        best = float("inf")
        for _ in range(repeats):
            start = time.perf_counter()
            for _ in range(160):
                net.zero_grad()
                net(x).square().mean().backward()
            best = min(best, time.perf_counter() - start)
        return round(best, 3)
    finally:
        torch.set_num_threads(before)


def _steal_ticks() -> int | None:
    """Clock ticks the hypervisor gave to other machines (``steal`` of ``/proc/stat``), None where unknown."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()
        return int(fields[8])
    except (OSError, IndexError, ValueError):
        return None


def measure_child(command: list[str], *, timeout: float, log: Path) -> dict:
    """Run ``command`` in a child process (stderr to ``log``) and measure it from its ``wait4`` resource usage.

    Returns ``status`` ("ok", "exit N" or "timeout"), wall, user + system CPU time and peak
    resident memory of the child, the 1-minute load average before and after (the machine may
    be shared: on a busy machine wall time grows, CPU time much less) and the seconds of CPU the
    hypervisor gave to other machines meanwhile (``steal_s``, all cores; None where unknown).
    """
    load_before = os.getloadavg()
    steal_before = _steal_ticks()
    start = time.perf_counter()
    with log.open("wb") as err:
        child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=err)
        outcome = None
        while outcome is None:
            pid, code, usage = os.wait4(child.pid, os.WNOHANG)
            if pid:
                outcome = "ok" if code == 0 else f"exit {os.waitstatus_to_exitcode(code)}"
            elif time.perf_counter() > start + timeout:
                child.kill()
                _, _, usage = os.wait4(child.pid, 0)
                outcome = "timeout"
            else:
                time.sleep(0.2)
    wall = time.perf_counter() - start
    steal_after = _steal_ticks()
    steal = None if None in (steal_before, steal_after) else (steal_after - steal_before) / os.sysconf("SC_CLK_TCK")
    return {
        "status": outcome, "wall_s": round(wall, 2), "cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
        "user_s": round(usage.ru_utime, 2), "sys_s": round(usage.ru_stime, 2),
        "peak_rss_mib": round(usage.ru_maxrss / 1024, 1),  # Linux: KiB
        "load_before": [round(x, 2) for x in load_before], "load_after": [round(x, 2) for x in os.getloadavg()],
        "cpu_count": os.cpu_count(), "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "steal_s": None if steal is None else round(steal, 2),
    }  # fmt: skip


def job_runtime(out: Path) -> dict:
    """What one analysis in a job's output file says of its run: the threads and per-phase wall times (from its
    provenance), the first seed's training (its steps, validation losses, best step and each scale's kept step,
    from the stored model) and the measured J, ΔJ and ΔJ's interval per scale."""
    from ndx_causal_emergence.pipeline.results import read_results

    (analysis,) = read_results(out).conditions.values()
    runtime = json.loads(analysis.provenance["environment"]).get("runtime", {})
    phases: dict[str, float] = {}
    for p in runtime.get("phases", []):
        phases[p["phase"]] = round(phases.get(p["phase"], 0.0) + p["wall_s"], 2)
    history = analysis.models[0].history_
    table = analysis.emergence
    return {
        "threads": runtime.get("threads", {}).get("threads"), "phase_wall_s": phases,
        "scales": [int(d) for d in table["dimension"]],
        "fit": {"steps": history["step"], "val_loss": [round(v, 6) for v in history["val_loss"]],
                "best_step": history["best_step"][0], "kept_step_per_scale": history.get("kept_step_per_scale")},
        "J": [round(v, 4) for v in table["dimension_averaged_ei"]],
        "delta_J": [round(v, 4) for v in table["causal_emergence"]],
        "delta_J_ci": [[None if np.isnan(v) else round(v, 4) for v in pair]
                       for pair in table[["causal_emergence_ci_low", "causal_emergence_ci_high"]].to_numpy(float)],
    }  # fmt: skip


def cell(value: object) -> object:
    """A table cell as stored: a number when its shortest text is the text shown, else that text."""
    if isinstance(value, bool) or not isinstance(value, str):
        return value
    for kind in (int, float):
        try:
            number = kind(value)
        except ValueError:
            continue
        if str(number) == value:
            return number
    return value


@dataclass
class Table:
    """A Markdown table: a title, column names and rows of cells as shown (see :func:`cell`)."""

    title: str
    columns: list[str]
    rows: list[list[object]] = field(default_factory=list)

    def add(self, *cells: object) -> None:
        """Append one row (one cell per column)."""
        if len(cells) != len(self.columns):
            raise ValueError(f"{len(cells)} cells for {len(self.columns)} columns")
        self.rows.append([cell(c) for c in cells])

    def markdown(self) -> str:
        """The table as Markdown (no title)."""
        lines = [_row(self.columns), "|" + "---|" * len(self.columns)]
        return "\n".join(lines + [_row(r) for r in self.rows])

    def to_dict(self) -> dict:
        """The table as stored in a JSON file."""
        return {"title": self.title, "columns": self.columns, "rows": self.rows}

    @classmethod
    def from_dict(cls, doc: dict) -> Table:
        """The table stored by :meth:`to_dict`."""
        return cls(doc.get("title", ""), list(doc["columns"]), [list(r) for r in doc["rows"]])


def dumps(doc: object, indent: str = "") -> str:
    """JSON text of ``doc``, indented, with each list of one-line values on one line (a table row)."""
    inner = indent + " "
    if isinstance(doc, dict) and doc:
        items = [f"{inner}{json.dumps(str(k))}: {dumps(v, inner)}" for k, v in doc.items()]
        return "{\n" + ",\n".join(items) + "\n" + indent + "}"
    if isinstance(doc, list | tuple) and any(isinstance(v, dict | list | tuple) or "\n" in str(v) for v in doc):
        return "[\n" + ",\n".join(inner + dumps(v, inner) for v in doc) + "\n" + indent + "]"
    return json.dumps(doc, ensure_ascii=False, default=_plain)


def _plain(value: object) -> object:
    """A NumPy array or scalar (or another number type) as plain JSON."""
    return value.tolist() if hasattr(value, "tolist") else float(value)


def _row(cells: list[object]) -> str:
    return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"


class Run:
    """One benchmark run: its command and commit read at the start, its machine and wall time at each write."""

    def __init__(self, benchmark: str) -> None:
        self.benchmark = benchmark
        self.command = command()
        self.commit = commit()  # the code this run imported, not HEAD at a later write
        self.started = time.time()

    def write(self, path: Path | None, tables: list[Table], **fields: object) -> None:
        """Write the run's JSON file (nothing when ``path`` is None); call again to update it."""
        if path is None:
            return
        doc = {
            "benchmark": self.benchmark,
            "command": self.command,
            "commit": self.commit,
            "machine": machine(),
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(self.started)),
            "wall_seconds": round(time.time() - self.started, 1),
            "tables": [t.to_dict() for t in tables],
            **fields,
        }
        path.write_text(dumps(doc) + "\n")
