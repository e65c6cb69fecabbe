"""The dynamics analysis of every scale of a fitted multiscale model (docs/method.md §4)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..deprecation import renamed_keywords
from ..errors import DataError, InputError, NotFittedError
from ..runtime.progress import phase, tracked
from .attribution import attribution_table, chained_integrated_gradients
from .diagnostics import dynamics_diagnostics
from .empirical import conditional_drift, empirical_fixed_points
from .fixed_points import compare_fixed_points, find_fixed_points
from .potential import (
    TRANSITION_COLUMNS,
    basin_boundaries,
    drift_field,
    drift_potential,
    metastable_states,
    occupancy_potential,
    potential_from_drift,
)

__all__ = ["DynamicsAnalysis", "analyze_dynamics", "state_points"]


@dataclass(frozen=True)
class DynamicsAnalysis:
    """Results of :func:`analyze_dynamics`.

    Attributes
    ----------
    fixed_points : pd.DataFrame
        All scales, both sources, with ``agrees`` (NWB ``FixedPointTable`` columns).
    transitions : pd.DataFrame
        Metastable-state transitions of the top scale on the held-out block (``timestamp,
        from_state, to_state, dwell_time``; empty unless the top scale is 1-D with stable points).
        ``attrs["source"]`` names the fixed points whose basins define the states.
    diagnostics : pd.DataFrame
        One row per scale (:func:`~ndx_causal_emergence.dynamics.diagnostics.dynamics_diagnostics`).
    attribution : pd.DataFrame or None
        NWB ``AttributionTable`` columns, or ``None`` when not computed.
    potentials : dict
        Per 1-D scale: ``grid``; ``drift`` and ``potential`` of the learned map; ``empirical_drift``
        (per frame) and ``empirical_potential`` of the ``X_drift`` trajectory; ``occupancy`` (``-ln p̂``
        of the training encoding); and the basin ``boundaries``.
    drift_fields : dict
        Per 2-D scale: ``y1, y2, drift`` arrays.
    states : np.ndarray or None
        Metastable state of each held-out frame of the top scale (-1 for missing frames).
    """

    fixed_points: pd.DataFrame
    transitions: pd.DataFrame
    diagnostics: pd.DataFrame
    attribution: pd.DataFrame | None
    potentials: dict[int, dict[str, np.ndarray]] = field(default_factory=dict)
    drift_fields: dict[int, dict[str, np.ndarray]] = field(default_factory=dict)
    states: np.ndarray | None = None

    def potential_figure(self, scale: int, **options: Any) -> Any:
        """The potential landscape of a 1-D scale (:func:`~ndx_causal_emergence.dynamics.plots.plot_potential`).

        Drift potentials of the learned map and of the empirical drift, occupancy quasi-potential,
        the scale's fixed points and basin boundaries; ``options`` (e.g. ``title``) go to the plot.
        """
        from .plots import plot_potential

        if scale not in self.potentials:
            raise InputError(f"scale {scale} has no potential; 1-D scales with one: {sorted(self.potentials)}.")
        pot = self.potentials[scale]
        return plot_potential(
            pot["grid"], pot["potential"], pot["occupancy"], empirical_potential=pot["empirical_potential"],
            fixed_points=self.fixed_points[self.fixed_points["scale"] == scale], boundaries=pot["boundaries"],
            **options,
        )  # fmt: skip


def state_points(fixed_points: pd.DataFrame, scale: int) -> tuple[np.ndarray, np.ndarray, str]:
    """Stable and unstable in-support points of a 1-D scale that define its metastable states.

    docs/method.md §4: the basins of the stable points of the learned map, or of the empirical drift
    where the two sources disagree (a point of either source without a partner in the other).

    Parameters
    ----------
    fixed_points : pd.DataFrame
        Table from :func:`~ndx_causal_emergence.dynamics.fixed_points.compare_fixed_points`.
    scale : int
        The scale.

    Returns
    -------
    stable, unstable : np.ndarray
        Point locations.
    source : str
        ``"model"`` or ``"empirical"``.
    """
    fp = fixed_points[(fixed_points["scale"] == scale) & fixed_points["in_support"]]
    agree = fp["agrees"].fillna(False).astype(bool) if "agrees" in fp else pd.Series(False, index=fp.index)
    has_empirical = (fp["source"] == "empirical").any()
    source = "empirical" if has_empirical and not agree.all() else "model"
    chosen = fp[fp["source"] == source]

    def locs(kind: str) -> np.ndarray:
        return np.array([loc[0] for loc in chosen.loc[chosen["stability"] == kind, "location"]], dtype=float)

    return locs("stable"), locs("unstable"), source


def _landscapes(
    fmap: Any, u_train: np.ndarray, u_drift: np.ndarray, ts: np.ndarray, grid: np.ndarray, lag: int
) -> dict[str, np.ndarray]:
    """Drift and potential of the learned map, of the empirical drift (per frame, inside the 1st-99th
    percentile range of the drift trajectory, NaN outside) and the occupancy of the training data."""
    drift, pot = drift_potential(fmap, grid)
    emp, _ = conditional_drift(u_drift, grid, lag=lag, timestamps=ts)
    lo, hi = np.percentile(u_drift, [1.0, 99.0])
    emp = np.where((grid >= lo) & (grid <= hi), emp / lag, np.nan)
    return {
        "grid": grid,
        "drift": drift,
        "potential": pot,
        "empirical_drift": emp,
        "empirical_potential": potential_from_drift(grid, emp),
        "occupancy": occupancy_potential(u_train, grid),
    }


def _drift_trajectory(
    model: Any, x_drift: np.ndarray, ts_drift: np.ndarray | None, n_channels: int
) -> tuple[list[np.ndarray], np.ndarray]:
    """Encoded trajectory (finite frames) and times of ``X_drift``, for the empirical drift."""
    x = np.asarray(x_drift, dtype=float)
    if x.ndim != 2 or x.shape[1] != n_channels:
        raise InputError(f"X_drift must have shape (n_frames, {n_channels}), got {x.shape}.")
    ts = np.arange(len(x), dtype=float) if ts_drift is None else np.asarray(ts_drift, dtype=float)
    if ts.shape != (len(x),):
        raise InputError(f"timestamps_drift must have one value per X_drift frame ({len(x)}), got {ts.shape}.")
    ok = np.isfinite(x).all(axis=1)
    if ok.sum() < 2:
        raise DataError("X_drift needs finite frames (rows without NaN); found too few.")
    return model.encode(x[ok]), ts[ok]


def _attributions(
    model: Any, scales: list[int], x: np.ndarray, baseline: np.ndarray, n_steps: int, n_samples: int, seed: int
) -> list[np.ndarray]:
    """Integrated gradients of each scale's encoder map, one chain per encoder the scales share (the chain rule)."""
    chains = (model.encoder_chains(scales) if hasattr(model, "encoder_chains")
              else [([k], [model.encoder_map(k)]) for k in scales])  # fmt: skip
    found: dict[int, np.ndarray] = {}
    with phase("attribution", total=len(scales), unit="scale") as current:
        for group, maps in chains:
            igs = chained_integrated_gradients(
                maps, x, baseline=baseline, n_steps=n_steps, n_samples=n_samples, seed=seed,
                precision="float32",  # within 1e-7 of float64 on trained encoders, in 45-58 % of its time
            )  # fmt: skip
            found.update(zip(group, igs, strict=True))
            current.update(len(group))
    return [found[k] for k in scales]


@renamed_keywords(random_state="seed")
def analyze_dynamics(
    model: Any,
    X_train: np.ndarray,
    X_test: np.ndarray,
    timestamps_test: np.ndarray | None = None,
    *,
    scales: list[int] | None = None,
    attribution: bool = True,
    attribution_samples: int = 128,
    attribution_steps: int = 16,
    core_fraction: float = 0.5,
    min_dwell: float = 0.0,
    agree_tol: float = 0.25,
    X_drift: np.ndarray | None = None,
    timestamps_drift: np.ndarray | None = None,
    seed: int = 0,
) -> DynamicsAnalysis:
    """Fixed points, landscapes, metastable states, diagnostics and attribution of a fitted model.

    Per scale ``k`` (normalised coordinates of docs/method.md §3.0): fixed points of ``F̃_k`` with the
    encoded training data as start range and support reference; for 1-D scales also the empirical
    fixed points of the encoded ``X_drift`` trajectory, the drift and occupancy potentials and the basin
    boundaries; for 2-D scales the drift field; diagnostics on the held-out trajectory; integrated
    gradients of ``y^(k)`` with respect to the input (baseline: the training mean). The top scale, if
    1-D, is cut into metastable states (:func:`state_points`, then
    :func:`~ndx_causal_emergence.dynamics.potential.metastable_states`).

    Parameters
    ----------
    model : MultiscaleNISPlus
        A fitted model (``ladder_``, ``sigma2_``, ``encode``, ``dynamics_map``, and ``encoder_chains`` or
        ``encoder_map``: the attribution shares the Jacobian of an encoder's levels between its scales).
    X_train, X_test : np.ndarray, shape (n_frames, n_channels)
        Preprocessed training and held-out frames (NaN rows are missing frames).
    timestamps_test : np.ndarray, optional
        Times of the held-out frames (default: frame indices); dwell and transition times use them.
    scales : list of int, optional
        Scales to analyse (default all).
    attribution : bool
        Compute the attribution table.
    attribution_samples, attribution_steps : int
        Held-out frames and path points of the integrated gradients.
    core_fraction, min_dwell : float
        Hysteresis of the metastable states (see ``metastable_states``).
    agree_tol : float
        Largest distance between agreeing model and empirical points.
    X_drift : np.ndarray, shape (n_frames, n_channels), optional
        Preprocessed frames in time order whose encoded trajectory gives the empirical drift and
        its fixed points (default: ``X_test``). :func:`~ndx_causal_emergence.analyze` passes every
        frame used (training, validation and test blocks): a held-out block alone is too short for
        the drift to stand 3 standard errors above its noise (docs/method.md §4).
    timestamps_drift : np.ndarray, optional
        Times of the ``X_drift`` frames (default: those of ``X_test`` when ``X_drift`` is not given,
        else frame indices); pairs across a gap are dropped.
    seed : int
        Seed of the random starts and subsamples.

    Returns
    -------
    DynamicsAnalysis

    Raises
    ------
    NotFittedError
        If ``model`` is not fitted.
    DataError
        If a block has no finite frame.
    """
    if not hasattr(model, "ladder_"):
        raise NotFittedError(f"analyze_dynamics needs a fitted model; call {type(model).__name__}.fit(X) first.")
    x_train, x_test = np.asarray(X_train, dtype=float), np.asarray(X_test, dtype=float)
    ts = np.arange(len(x_test), dtype=float) if timestamps_test is None else np.asarray(timestamps_test, float)
    if ts.shape != (len(x_test),):
        raise InputError(f"timestamps_test must have one value per held-out frame ({len(x_test)}), got {ts.shape}.")
    ok_train, ok_test = np.isfinite(x_train).all(axis=1), np.isfinite(x_test).all(axis=1)
    if not ok_train.any() or ok_test.sum() < 2:
        raise DataError("X_train and X_test need finite frames (rows without NaN); found none or too few.")
    n_scales = len(model.ladder_)
    wanted = list(range(n_scales)) if scales is None else [int(s) % n_scales for s in scales]
    enc_train = model.encode(x_train[ok_train])
    enc_test = [u[ok_test] for u in model.encode(x_test)]
    ts_ok = ts[ok_test]
    enc_drift, ts_drift = (
        (enc_test, ts_ok) if X_drift is None else _drift_trajectory(model, X_drift, timestamps_drift, x_test.shape[1])
    )
    dt = float(np.median(np.diff(ts_ok)))
    model_fp, empirical_fp, potentials, fields, diag_rows, attrs = [], [], {}, {}, [], []
    maps = {k: model.dynamics_map(k) for k in wanted}
    for k in tracked(wanted, "fixed points", unit="scale"):
        fmap, u_tr = maps[k], enc_train[k]
        q = u_tr.shape[1]
        model_fp.append(find_fixed_points(fmap, u_tr, scale=k, seed=seed))
        lo, hi = np.percentile(u_tr, [0.5, 99.5], axis=0)
        lo, hi = lo - 0.25 * (hi - lo), hi + 0.25 * (hi - lo)
        if q == 1:
            u_dr = enc_drift[k]
            empirical_fp.append(empirical_fixed_points(u_dr, reference=u_tr, timestamps=ts_drift, scale=k))
            grid = np.linspace(lo[0], hi[0], 401)
            potentials[k] = _landscapes(fmap, u_tr, u_dr, ts_drift, grid, empirical_fp[-1].attrs["lag"])
        elif q == 2:
            y1, y2, vec = drift_field(fmap, lo, hi)
            fields[k] = {"y1": y1, "y2": y2, "drift": vec}
    if attribution:  # no phase when skipped
        attrs = _attributions(model, wanted, x_test[ok_test], x_train[ok_train].mean(axis=0), attribution_steps,
                              attribution_samples, seed)  # fmt: skip
    one_d = [k for k in wanted if enc_train[k].shape[1] == 1]
    fixed = compare_fixed_points(
        pd.concat(model_fp, ignore_index=True),
        pd.concat(empirical_fp, ignore_index=True) if empirical_fp else model_fp[0].iloc[:0],
        empirical_scales=one_d,
        tol=agree_tol,
    )
    for k in tracked(wanted, "diagnostics", unit="scale"):
        sources = ("model", "empirical") if k in one_d else ("model",)
        diag_rows.append(
            dynamics_diagnostics(
                maps[k], enc_test[k], model.sigma2_[k], scale=k, fixed_points=fixed, sources=sources, dt=dt
            )
        )
    for k in one_d:
        stable, unstable, _ = state_points(fixed, k)
        potentials[k]["boundaries"] = basin_boundaries(stable, unstable) if len(stable) else np.zeros(0)
    transitions, states = pd.DataFrame(columns=TRANSITION_COLUMNS), None
    top = n_scales - 1
    if top in one_d:
        stable, unstable, source = state_points(fixed, top)
        if len(stable):
            ok_states, transitions = metastable_states(
                enc_test[top], ts_ok, stable, unstable_points=unstable, core_fraction=core_fraction, min_dwell=min_dwell
            )
            states = np.full(len(x_test), -1)
            states[ok_test] = ok_states
        if transitions.empty:  # one form for "no transition", whatever found none (a file stores none)
            transitions = pd.DataFrame(columns=TRANSITION_COLUMNS)
        transitions.attrs["source"] = source
    return DynamicsAnalysis(
        fixed_points=fixed,
        transitions=transitions,
        diagnostics=pd.concat(diag_rows, ignore_index=True),
        attribution=attribution_table(attrs, scales=wanted) if attribution else None,
        potentials=potentials,
        drift_fields=fields,
        states=states,
    )
