"""The official code of the mice paper against ``preset="wang2025"``, side by side on the same NWB input.

The official code (``WZPBelieveFuture/Causal-Emergence-of-Consciousness-in-Mice``, no licence)
is NOT part of this repository: export its tree outside the checkout and give its path::

    git --git-dir=<mirror> archive HEAD | tar -x -C OFFICIAL_CHECKOUT
    python benchmarks/bench_official_mice.py OFFICIAL_CHECKOUT [--nwb FILE] --stage1 1001 --stage2 1001

For each condition of the input (default: a simulated awake/anesthesia recording, a double well
against a noisy single well behind ``--channels`` ROIs; ``--nwb FILE`` with its intervals table
``--conditions``, or ``none`` for the whole recording as one condition; ``--triplett FOLDER``: the
real zebrafish recording of Triplett et al. 2018, fish zf_20151104-f1, converted to NWB, one
condition; ``--first-channels N`` keeps the input's first N ROIs), both codes get the same frames: this
package's split of the condition (``prepare``), the training pairs and the test pairs never
crossing a segment. Runs alternate, ours then official, per condition and seed. Printed per
scale: J_d and ΔJ_d of both codes, whether ours lies within one official seed SD, which scales
the official flows read through a dropped odd coordinate (and the odd scale whose last coordinate
no coarser official scale reads), and each run's wall-clock per phase
(stage 1, stage 2 of all scales, EI). ``--official-records FILE`` takes the official runs of the
seeds an earlier run's JSON holds instead of running them again (the official code is seeded and
repeats its numbers); their wall-clock is that earlier run's, and the table says how many.
``--ours-records FILE ...`` does the same for our runs, from files made by a commit with the same
``src/`` tree only: it joins seeds run in separate processes (``--first-seed``, ``--seeds``) into
one table. Both refuse files run with other ``--stage1`` / ``--stage2``.

What the driver changes to run the official code, and nothing else (its files are not edited):

- it calls ``src.models.train_and_memorize`` directly with tensors (``NIS.py`` reads CSV files
  and asks for a CUDA device), with ``device=cpu``, ``hidden_units=50``, ``min_dim=1`` and
  ``batch_size=512`` as ``NIS.py`` does, ``train_stage=1`` once and ``train_stage=2`` once per
  ``scale_id``, with ``epoches`` set so that each stage's saved state has had ``--stage1`` /
  ``--stage2`` optimizer steps (below);
- it runs in a temporary folder holding the ``loc_result_stage*`` and ``loc_model_stage*``
  folders the official code writes to;
- it puts an empty ``seaborn`` module in ``sys.modules`` when seaborn is not installed (the
  official ``src/models.py`` imports it and never uses it);
- it seeds ``torch``, ``numpy`` and ``random`` before each run;
- the official J of a scale is the last row of its ``EI_scale<k>.csv``;
- after the timed stages, it loads each scale's saved stage-2 model with the official class and
  encodes the training frames, to record the largest half-range of the scale's raw latents
  (1st-99th percentile), as ``latent_half_range_`` reports ours.

The official code saves its stage-1 model, and its stage 2 writes EI and saves its model, only at
the loop indices ``t`` divisible by 1000, after the step of that index: what stage 2 starts from,
and what it measures, is the state after ``t + 1`` steps (its published scripts run 1,000,001
steps per stage, so both are the state after the last step). ``--stage1`` and ``--stage2`` are
therefore optimizer steps of the measured states in both codes and must be one more than a
multiple of 1000; the official code runs ``epoches = stage1`` and ``stage2 + 1`` (the extra step
lets its weight refresh at ``t = stage2 - 1`` happen, as it does for every ``t`` but the loop's
last; the state after that extra step is neither saved nor measured), ours ``stage1`` and
``stage2`` steps, with the weight refresh at the same step. Runs made before this rule (files
whose command says ``--stage1 1000 --stage2 1002``) started the official stage 2 from the state
after one stage-1 step, since a loop of 1000 saves at ``t = 0`` only.

Ours: ``MultiscaleNISPlus(preset="wang2025")`` with ``max_steps = stage1 + stage2`` and
``warmup_fraction = stage1 / max_steps``, the official ladder ``N, N/2, ..., 1``, measured (as the
official code does) on the training pairs. The published scripts run 1,000,001 steps per
stage; short schedules here are a side-by-side comparison, not a replication of published numbers.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import types
from pathlib import Path

import numpy as np
from benchrun import REPO, Run, Table


def _pairs(segments: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """``(x_t, x_t+1)`` of every segment, never across one."""
    inputs = np.concatenate([s[:-1] for s in segments if len(s) > 1])
    targets = np.concatenate([s[1:] for s in segments if len(s) > 1])
    ok = np.isfinite(inputs).all(axis=1) & np.isfinite(targets).all(axis=1)
    return inputs[ok], targets[ok]


def _seed(seed: int) -> None:
    import torch

    torch.manual_seed(seed)
    np.random.seed(seed)  # noqa: NPY002  (the official code draws from numpy's global generator)
    random.seed(seed)


def _official_models(root: Path) -> types.ModuleType:
    """The official ``src.models`` module, imported from the checkout at ``root`` (seaborn stubbed when absent)."""
    if "seaborn" not in sys.modules:
        with contextlib.suppress(ImportError):
            import seaborn  # noqa: F401
    sys.modules.setdefault("seaborn", types.ModuleType("seaborn"))
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    import src.models  # the official code, from its checkout

    return src.models


def _official_net(root: Path, n: int):  # noqa: ANN202  (the official class, imported late)
    """A new official model of ``n`` channels, built as ``train_and_memorize`` builds it (its first random draws)."""
    import torch

    return _official_models(root).Parellel_Renorm_Dynamic(
        sym_size=n, latent_size=1, effect_size=n, cut_size=2, hidden_units=50, normalized_state=True,
        device=torch.device("cpu"),
    )  # fmt: skip


def _copy_official_weights(net, module) -> None:  # noqa: ANN001  (official model, our MultiscaleModule)
    """Give ``module`` (``coupling_form="inverse_affine"``) the weights of the official model ``net``.

    Official coupling layer ``i`` of flow ``f`` becomes our layer ``i`` of encoder ``f``: its ``s``/``t`` networks
    read the masked input, so their first layer keeps the columns of the conditioning coordinates and their
    last the rows of the transformed ones; the dynamics' ``nn.Linear`` layers map one to one. Raises
    ``SystemExit`` where the two layouts differ (an official flow that drops an odd coordinate).
    """
    import torch

    with torch.no_grad():
        for f, (flow, encoder) in enumerate(zip(net.flows, module.encoders, strict=True)):
            if flow.size != encoder.dim or len(flow.s) != len(encoder.layers) or encoder.form != "inverse_affine":
                sys.exit(f"--same-start: the official flow {f} ({flow.size} inputs, {len(flow.s)} layers) has no "
                         f"counterpart in ours ({encoder.dim} inputs, {len(encoder.layers)} layers, form "
                         f"{encoder.form}); odd sizes cannot start the same")  # fmt: skip
            for i, layer in enumerate(encoder.layers):
                cond = torch.nonzero(flow.mask[i]).flatten()
                trans = torch.nonzero(1 - flow.mask[i]).flatten()
                ours = torch.arange(layer.split) if layer.transform_first else torch.arange(layer.split, flow.size)
                if not torch.equal(ours, trans):
                    sys.exit(f"--same-start: layer {i} of flow {f} transforms other coordinates in the two codes")
                for j, net_j in enumerate((flow.s[i], flow.t[i])):
                    first, hidden, last = (m for m in net_j if isinstance(m, torch.nn.Linear))
                    weights = (first.weight[:, cond], hidden.weight, last.weight[trans])
                    biases = (first.bias, hidden.bias, last.bias[trans])
                    for w, b, weight, bias in zip(layer.st.weights, layer.st.biases, weights, biases, strict=True):
                        w[j].copy_(weight.T)
                        b[j, 0].copy_(bias)
        for official, ours in ((net.dynamics_modules, module.forward_maps), (net.inverse_dynamics_modules,
                                                                           module.reverse_maps)):  # fmt: skip
            for a, b in zip(official, ours, strict=True):
                for la, lb in zip((m for m in a if isinstance(m, torch.nn.Linear)), b.layers, strict=True):
                    lb.weight.copy_(la.weight)
                    lb.bias.copy_(la.bias)


def _check_start(root: Path, n: int) -> None:
    """Print how far ours, given the official model's initial weights (seed 0), encodes from it (``--check-start``)."""
    import torch

    from ndx_causal_emergence.models import MultiscaleNISPlus

    model = MultiscaleNISPlus(preset="wang2025", device="cpu")
    p = model._resolved()
    module = model._build(n, model._ladder(n, p), p)
    _seed(0)
    net = _official_net(root, n)
    _copy_official_weights(net, module)
    x = torch.randn(256, n, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        gaps = [float((a - b).abs().max()) for a, b in zip(net.encoding(x), module.encode(x), strict=True)]
    print(f"{n} channels, ladder {module.scales}: largest |official - ours| latent difference per scale "
          f"{[f'{g:.1e}' for g in gaps]} (256 standard normal frames)")  # fmt: skip


def _official(root: Path, train: tuple, test: tuple, n_scales: int, args: argparse.Namespace, seed: int) -> dict:
    """Run the official two stages in a temporary folder; J per scale and the wall-clock per phase."""
    import torch

    from ndx_causal_emergence.models.training import percentile_affine

    train_and_memorize = _official_models(root).train_and_memorize

    tensors = [torch.tensor(a, dtype=torch.float32) for a in (*train, *test)]
    n = tensors[0].shape[1]
    folder, mice, stage = "bench", 0, "stage"
    with tempfile.TemporaryDirectory() as tmp:
        cwd = Path.cwd()
        os.chdir(tmp)
        try:
            for part in ("loc_result_stage1", "loc_model_stage1", "loc_result_stage2", "loc_model_stage2"):
                (Path(tmp) / part / folder / str(mice) / (stage if "result" in part else "")).mkdir(
                    parents=True, exist_ok=True
                )
            _seed(seed)
            t0 = time.perf_counter()
            train_and_memorize(*tensors, 0, 0, 1e-4, folder, mice, stage, "k-means", device=torch.device("cpu"),
                               epoches=args.stage1, hidden_units=50, min_dim=1, batch_size=512,
                               train_stage=1)  # fmt: skip
            t1 = time.perf_counter()
            j = []
            for k in range(n_scales):
                _seed(seed)
                train_and_memorize(*tensors, k, 0, 1e-4, folder, mice, stage, "k-means", device=torch.device("cpu"),
                                   epoches=args.stage2 + 1, hidden_units=50, min_dim=1, batch_size=512,
                                   train_stage=2)  # fmt: skip
                ei = np.loadtxt(Path(tmp) / "loc_result_stage2" / folder / str(mice) / stage / f"EI_scale{k}.csv",
                                delimiter=",", ndmin=1)  # fmt: skip
                j.append(float(np.atleast_1d(ei)[-1]))
            t2 = time.perf_counter()
            half = []  # the largest half-range (1st-99th percentile) of each scale's raw latents, as ours reports
            for k in range(n_scales):
                net = _official_net(root, n)
                net.load_state_dict(
                    torch.load(Path(tmp) / "loc_model_stage2" / folder / str(mice) / f"{stage}_scale{k}.pkl")
                )
                with torch.no_grad():
                    latents = net.encoding1(tensors[0], k)[k].double().numpy()
                half.append(float(np.max(percentile_affine(latents)[1])))
        finally:
            os.chdir(cwd)
    return {"seed": seed, "j": np.array(j), "stage1_s": t1 - t0, "stage2_s": t2 - t1, "half_range": half}


def _start(args: argparse.Namespace) -> str:
    """Where our runs' weights start: ``"official"`` (``--same-start``) or ``"own"``."""
    return "official" if args.same_start else "own"


def _ours(prepared, args: argparse.Namespace, seed: int) -> dict:  # noqa: ANN001  (PreparedData, imported late)
    """``preset="wang2025"`` with the same steps, measured on the training pairs.

    With ``--same-start`` the model starts from the official code's initial weights of this seed: the
    estimator's freshly built module gets them (:func:`_copy_official_weights`) before the fit.
    """
    from ndx_causal_emergence.models import MultiscaleNISPlus

    total = args.stage1 + args.stage2
    model = MultiscaleNISPlus(preset="wang2025", max_steps=total, warmup_fraction=args.stage1 / total, seed=seed,
                              device="cpu")  # fmt: skip
    if args.same_start:
        build = model._build

        def build_from_official(n_features: int, scales: list[int], p: dict):  # noqa: ANN202
            module = build(n_features, scales, p)
            _seed(seed)  # as the official driver seeds before train_and_memorize builds its model
            _copy_official_weights(_official_net(args.official.resolve(), n_features), module)
            return module

        model._build = build_from_official  # the instance's builder, for this fit only
    t0 = time.perf_counter()
    model.fit(prepared.train, validation=prepared.validation)
    t1 = time.perf_counter()
    table = model.emergence_table(prepared.train, n_monte_carlo=1000, seed=seed)  # the training pairs, as the official
    t2 = time.perf_counter()
    half = [float(np.max(h)) for h in model.latent_half_range_]
    return {"seed": seed, "j": table["dimension_averaged_ei"].to_numpy(), "fit_s": t1 - t0, "ei_s": t2 - t1,
            "half_range": half, "scales": model.ladder_, "start": _start(args)}  # fmt: skip


def _package_tree(commit: str) -> str:
    """The git tree id of ``src/`` at ``commit`` (``+dirty`` dropped), or ``commit`` itself where git cannot say."""
    run = subprocess.run(["git", "rev-parse", f"{commit.split('+')[0]}:src"], cwd=REPO, capture_output=True,
                         text=True, check=False)  # fmt: skip
    return run.stdout.strip() if run.returncode == 0 else commit


def _earlier_runs(
    paths: list[Path] | None, condition: str, code: str, steps: str, *, commit: str | None = None
) -> dict[int, dict]:
    """The runs of ``code`` ("official" or "ours") for ``condition`` in earlier runs' JSON files, by seed.

    Records without a seed are skipped; each kept record names its file (``from``). A file whose set-up
    does not hold ``steps`` (this run's "stage 1 ... per scale") is refused, and so, with ``commit``, is a
    file made by a commit whose ``src/`` differs from that of ``commit`` (ours changes with the package; the
    official code does not). Uncommitted changes are not seen: a ``+dirty`` commit counts as its commit.
    """
    found: dict[int, dict] = {}
    for path in paths or []:
        earlier = json.loads(path.read_text())
        if steps not in earlier.get("setup", ""):
            sys.exit(f"{path} was not run with {steps}")
        if commit is not None and _package_tree(earlier.get("commit", "?")) != _package_tree(commit):
            sys.exit(f"{path} was made by commit {earlier.get('commit')}, whose src/ differs from this run's "
                     f"({commit}): run ours again")  # fmt: skip
        for r in earlier["records"].get(condition, {}).get(code, []):
            if "seed" in r:
                found[int(r["seed"])] = {**r, "from": str(path)}
    return found


def _odd_reads(n_features: int, scales: list[int]) -> dict[int, str]:
    """Scales that the official flows' dropped coordinate touches: each scale read through ``m - 1`` of an odd
    ``m > 1`` inputs (ours read all), and the scale ``d = m`` itself, whose last coordinate no coarser official
    scale reads (in stage 1 only its own terms train it)."""
    notes: dict[int, list[str]] = {d: [] for d in scales}
    inputs = [n_features, *scales[:-1]]
    for k, m in enumerate(inputs):
        if m % 2 and m > 1 and (k == 0 or m != inputs[k - 1]):  # an odd input, first read at level k
            if k > 0:  # m is scale k - 1's size
                notes[m].append(f"no coarser official scale reads the last of these {m} coordinates")
            for d in scales[k:]:
                notes[d].append(f"the official flows read {m - 1} of the {m} coordinates of d = {m}")
    return {d: "; ".join(n) for d, n in notes.items() if n}


def _table(condition: str, runs: dict[str, list[dict]], n_features: int) -> Table:
    """Per scale: mean ± SD over the seeds so far of J and ΔJ of both codes, whether ours lies within one official
    seed SD of the official mean, and the mean wall-clock of both."""
    scales = runs["ours"][0]["scales"]
    table = Table(f"{condition} (J in nats per dimension; dJ_d = J_d - J of the first scale)",
                  ["d", "J official", "J ours", "dJ official", "dJ ours", "J within 1 SD", "note"])  # fmt: skip
    odd = _odd_reads(n_features, scales)
    for k, d in enumerate(scales):
        cells = [np.array([r["j"][k] for r in runs[key]]) for key in ("official", "ours")]
        deltas = [np.array([r["j"][k] - r["j"][0] for r in runs[key]]) for key in ("official", "ours")]
        spread = cells[0].std(ddof=1) if len(cells[0]) > 1 else float("nan")
        gap = abs(cells[1].mean() - cells[0].mean()) / spread
        verdict = "n/a" if not np.isfinite(gap) else ("yes" if gap <= 1 else f"no ({gap:.1f} SD)")
        table.add(d, *[f"{v.mean():+.3f} ± {v.std(ddof=1) if len(v) > 1 else 0:.3f} (n={len(v)})"
                       for v in cells + deltas], verdict, odd.get(d, ""))  # fmt: skip
    official = np.mean([r["stage1_s"] + r["stage2_s"] for r in runs["official"]])
    ours = np.mean([r["fit_s"] + r["ei_s"] for r in runs["ours"]])
    reused = [f"{n} {key} run(s)" for key in ("official", "ours") if (n := sum("from" in r for r in runs[key]))]
    where = f"{' and '.join(reused)} from an earlier run" if reused else ""
    table.add("wall s", f"{official:.0f}", f"{ours:.0f}", f"official / ours = {official / ours:.2f}", "", "", where)
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("official", type=Path, help="root of an exported checkout of the official code")
    parser.add_argument("--nwb", type=Path, help="input NWB file with conditions (default: simulated)")
    parser.add_argument("--triplett", type=Path,
                        help="input: the folder of Triplett et al. 2018's CSV files (fish zf_20151104-f1, converted to "
                             "NWB; no conditions)")  # fmt: skip
    parser.add_argument(
        "--conditions",
        default="epochs",
        help="intervals table of the conditions ('none': the whole recording as one condition)",
    )
    parser.add_argument("--first-channels", type=int, help="use the input's first N ROIs only")
    parser.add_argument("--condition-column", default="stage", help="its label column")
    parser.add_argument("--channels", type=int, default=48, help="ROIs of the simulated recording")
    parser.add_argument("--frames", type=int, default=3000, help="frames per condition of the simulated recording")
    parser.add_argument("--stage1", type=int, default=1001,
                        help="stage-1 steps of both codes (1 + a multiple of 1000: the official code saves "
                             "then)")  # fmt: skip
    parser.add_argument("--stage2", type=int, default=1001,
                        help="stage-2 steps per scale of both codes (1 + a multiple of 1000: the official code "
                             "measures then)")  # fmt: skip
    parser.add_argument("--seeds", type=int, default=3, help="seeds per code and condition")
    parser.add_argument("--first-seed", type=int, default=0, help="seeds first-seed, first-seed + 1, ...")
    parser.add_argument("--condition", help="run this condition only (default: every condition of the input)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads")
    parser.add_argument("--official-records", type=Path, nargs="+",
                        help="earlier runs' JSON: take the official runs of their seeds from them instead of running "
                             "them again (the official code is seeded: it repeats its numbers exactly)")  # fmt: skip
    parser.add_argument("--ours-records", type=Path, nargs="+",
                        help="earlier runs' JSON made by a commit with this src/: take our runs of their seeds from "
                             "them (to join seeds run in separate processes)")  # fmt: skip
    parser.add_argument("--same-start", action="store_true",
                        help="start ours from the official code's initial weights of the same seed (both codes then "
                             "differ only in their batches and noise draws; a ladder without odd sizes)")  # fmt: skip
    parser.add_argument("--check-start", type=int, metavar="N",
                        help="only print how far ours, given the official initial weights of an N-channel model, "
                             "encodes from the official model, and exit")  # fmt: skip
    parser.add_argument("--json", type=Path, help="also write the tables (and each run) to this JSON file")
    args = parser.parse_args()
    if any(steps < 1 or (steps - 1) % 1000 for steps in (args.stage1, args.stage2)):
        sys.exit("--stage1 and --stage2 must be 1 + a multiple of 1000 (1001, 2001, ...): the official code "
                 "saves its stage-1 model and measures stage 2 only after the steps of loop indices divisible "
                 "by 1000")  # fmt: skip
    run, tables, records = Run("official_mice"), [], {}
    os.environ["CUDA_VISIBLE_DEVICES"] = ""
    import torch

    from ndx_causal_emergence.convert import triplett_to_nwb
    from ndx_causal_emergence.data.prepare import prepare
    from ndx_causal_emergence.nwb.read import read_recording
    from ndx_causal_emergence.testing.simulated import write_two_condition_nwb

    torch.set_num_threads(args.threads)
    root = args.official.resolve()
    if not (root / "src" / "models.py").is_file():
        sys.exit(f"{root} does not look like the official checkout (no src/models.py)")
    if args.check_start is not None:
        _check_start(root, args.check_start)
        return
    with tempfile.TemporaryDirectory() as tmp:
        if args.triplett is not None:
            source = triplett_to_nwb(args.triplett, Path(tmp) / "triplett.nwb")
            name = f"Triplett et al. 2018, fish zf_20151104-f1 ({args.triplett.name})"
        elif args.nwb is not None:
            source, name = args.nwb, str(args.nwb)
        else:
            source = write_two_condition_nwb(Path(tmp) / "two.nwb", n_channels=args.channels, n_frames=args.frames)
            name = "simulated awake/anesthesia"
        channels = None if args.first_channels is None else slice(0, args.first_channels)
        labelled = args.conditions != "none"
        recording = read_recording(str(source), conditions=args.conditions if labelled else None,
                                   condition_column=args.condition_column if labelled else None,
                                   channels=channels)  # fmt: skip
    subset = "" if args.first_channels is None else f"the first {args.first_channels} ROIs, "
    steps = f"stage 1 {args.stage1} steps, stage 2 {args.stage2} steps per scale"
    same = "; ours from the official initial weights of each seed" if args.same_start else ""
    setup = (f"input: {name}, {subset}{recording.n_channels} channels; {steps}; {args.seeds} seed(s){same}; "
             f"torch {torch.__version__}, {torch.get_num_threads()} threads")  # fmt: skip
    print(setup)
    conditions = recording.conditions() if args.condition is None else [args.condition]
    for condition in conditions or [None]:  # an unlabelled recording: one condition, all of it
        label = condition or "all"
        prepared = prepare(recording, condition=condition)
        train, test = _pairs(prepared.train), _pairs(prepared.test)
        print(f"\n== {label}: {prepared.n_features} channels, {len(train[0])} training pairs, "
              f"{len(test[0])} test pairs")  # fmt: skip
        runs: dict[str, list[dict]] = {"official": [], "ours": []}
        records[label] = runs
        earlier = _earlier_runs(args.official_records, label, "official", steps)
        earlier_ours = _earlier_runs(args.ours_records, label, "ours", steps, commit=run.commit)
        if any(r.get("start", "own") != _start(args) for r in earlier_ours.values()):
            sys.exit(f"--ours-records: runs with another start than this run's ({_start(args)} weights)")
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            ours = earlier_ours.get(seed) or _ours(prepared, args, seed)
            official = earlier.get(seed) or _official(root, train, test, len(ours["scales"]), args, seed)
            runs["official"].append(official)
            runs["ours"].append(ours)
            o, w = runs["official"][-1], runs["ours"][-1]
            print(f"seed {seed}: official stage 1 {o['stage1_s']:.1f} s, stage 2 (all scales, EI included) "
                  f"{o['stage2_s']:.1f} s; ours fit {w['fit_s']:.1f} s, EI {w['ei_s']:.1f} s; ours' largest "
                  f"latent half-range per scale {[round(h, 3) for h in w['half_range']]}")  # fmt: skip
            table = _table(label, runs, prepared.n_features)
            print(table.markdown())
            run.write(args.json, [*tables, table], setup=setup, records=records)  # a stopped run keeps its seeds
        tables.append(table)


if __name__ == "__main__":
    main()
