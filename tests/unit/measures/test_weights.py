"""Inverse-probability weights and the product-kernel KDE (docs/method.md §2.3)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from sklearn.decomposition import PCA
from sklearn.neighbors import KernelDensity

from ndx_causal_emergence.errors import InputError
from ndx_causal_emergence.measures import ipw_weights, kde_log_density, weights


def _sklearn_weights(x: np.ndarray, h: float) -> np.ndarray:
    """The official way: 1 / exp(score_samples) of a full-data sklearn KDE, normalised to mean 1."""
    w = np.exp(-KernelDensity(kernel="gaussian", bandwidth=h).fit(x).score_samples(x))
    return w / w.mean()


@pytest.mark.parametrize(("q", "h"), [(1, 0.05), (2, 0.05), (3, 0.2), (10, 0.3)])
def test_default_equals_sklearn(q: int, h: float) -> None:
    rng = np.random.default_rng(q)
    x = np.clip(rng.normal(0.0, 0.4, size=(3000, q)), -1, 1)
    w, w_sk = ipw_weights(x, bandwidth=h, clip=None), _sklearn_weights(x, h)
    np.testing.assert_allclose(w, w_sk, atol=1e-3, rtol=0)
    assert np.max(np.abs(w / w_sk - 1.0)) < 1e-6
    np.testing.assert_allclose(
        kde_log_density(x, x, h), KernelDensity(bandwidth=h).fit(x).score_samples(x), atol=1e-6, rtol=0
    )


def _brute_log_density(points: np.ndarray, reference: np.ndarray, h: np.ndarray) -> np.ndarray:
    """Brute-force float64 log density of the product-kernel KDE (log-sum-exp over every pair)."""
    d2 = (((points[:, None, :] - reference[None, :, :]) / h) ** 2).sum(axis=2)
    a = -0.5 * d2
    a_max = a.max(axis=1, keepdims=True)
    log_sum = np.log(np.exp(a - a_max).sum(axis=1)) + a_max[:, 0]
    return log_sum - np.log(h).sum() - 0.5 * h.size * math.log(2 * math.pi) - math.log(reference.shape[0])


def _data(kind: str, n: int, q: int, rng: np.random.Generator) -> np.ndarray:
    """Latents of one kind: clusters, spread over ~1e4 bandwidths, concentrated, or with duplicates."""
    if kind == "clusters":
        centres = rng.uniform(-1.0, 1.0, size=(3, q))
        return centres[rng.integers(0, 3, size=n)] + rng.normal(0.0, rng.uniform(0.02, 0.3, size=q), size=(n, q))
    if kind == "spread":
        return rng.uniform(-500.0, 500.0, size=(n, q))
    if kind == "concentrated":
        return 3.0 + rng.normal(0.0, 1e-4, size=(n, q))
    x = rng.normal(0.0, 0.2, size=(n // 2, q))
    return np.concatenate([x, x[: n - n // 2]])


# The documented bound: each kernel sum within 2e-9 K_h(0) of exact, so p̂ at the data within 2e-9 relative.
_BOUND = 1e-8


_KINDS = ["clusters", "spread", "concentrated", "duplicates"]


@pytest.mark.parametrize(
    ("q", "kind", "engine"),
    [(q, kind, "default") for q in range(1, 11) for kind in _KINDS]
    + [(q, kind, "local") for q in (1, 2) for kind in _KINDS],
)
def test_density_equals_brute_force(q: int, kind: str, engine: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """ipw_weights (1 / p̂) and kde_log_density against a brute-force float64 KDE, every engine.

    ``local`` forbids the fast Gauss transform grid (the default for q ≤ 2), so that the k-d leaf
    sums are checked there too.
    """
    if engine == "local":
        monkeypatch.setattr(weights, "_GRID_VALUES", 0)
    rng = np.random.default_rng(100 * q + len(kind))
    x = _data(kind, 700, q, rng)
    h = rng.uniform(0.03, 0.1, size=q) if kind != "spread" else np.full(q, 0.5)
    exact = _brute_log_density(x, x, h)
    inverse = ipw_weights(x, bandwidth=h, clip=None, normalize=False)
    assert np.max(np.abs(inverse * np.exp(exact) - 1.0)) < _BOUND
    assert np.max(np.abs(kde_log_density(x, x, h) - exact)) < _BOUND
    # elsewhere: near the data, and far from it (exact by log-sum-exp)
    points = np.concatenate([x[:50] + rng.normal(0.0, 2.0 * h, size=(50, q)), x[:5] + 1e3])
    np.testing.assert_allclose(kde_log_density(points, x, h), _brute_log_density(points, x, h), rtol=1e-12, atol=_BOUND)


@pytest.mark.parametrize("q", [1, 2, 5])
def test_scott_rule_and_tiny_samples_equal_brute_force(q: int) -> None:
    rng = np.random.default_rng(q)
    x = rng.normal(0.0, 0.3, size=(500, q))
    h = x.std(axis=0, ddof=1) * 500 ** (-1 / (q + 4))
    inverse = ipw_weights(x, bandwidth="scott", clip=None, normalize=False)
    assert np.max(np.abs(inverse * np.exp(_brute_log_density(x, x, h)) - 1.0)) < _BOUND
    for n in (1, 2):
        y = x[:n]
        inv = ipw_weights(y, bandwidth=0.1, clip=None, normalize=False)
        np.testing.assert_allclose(inv, np.exp(-_brute_log_density(y, y, np.full(q, 0.1))), rtol=_BOUND)
        np.testing.assert_allclose(ipw_weights(y, bandwidth=0.1), np.ones(n), rtol=1e-12)


def test_expansion_error_bound_holds_for_one_kernel_pair() -> None:
    """The fast Gauss transform of one kernel at every offset within reach errs by less than its bound."""
    v = np.array([[0.3]])
    u = np.linspace(-10.0, 10.0, 2001)[:, None]
    got = weights._grid_sums(u, v)
    exact = np.exp(-0.5 * (u[:, 0] - v[0, 0]) ** 2)
    assert np.max(np.abs(got - exact)) < weights._EPS
    assert np.max(np.abs(got - exact)[np.abs(u[:, 0] - 0.3) < weights._cutoff(1)]) > 0  # a true expansion


def _relative_sd(n: int, h: float, q: int, density: float) -> float:
    """Relative sd of a Gaussian KDE at a point: Var p̂ = (p R(K)/h^q − p²)/n, R(K) = (2√π)^-q."""
    r_k = (2.0 * math.sqrt(math.pi)) ** -q
    return math.sqrt((r_k / (h**q * density) - 1.0) / n)


@pytest.mark.parametrize(("n", "h", "q", "n_reference"), [(4000, 0.1, 1, None), (3000, 0.15, 2, None)])
def test_uniform_latents_get_weights_near_one(n: int, h: float, q: int, n_reference: int | None) -> None:
    """Away from the box edges (≥ 4h, bias < Φ(−4) ≈ 3e-5) uniform data get w ≈ 1 up to KDE noise.

    The noise: w = p/p̂ ≈ 1 − δ with sd(δ) = σ_r from the KDE variance, so E[mean (w−1)²] = σ_r².
    Errors are correlated over ~h, so one sample's RMS fluctuates (0.3–1.8 σ_r over 36 seeded runs
    while deriving this test); its mean over 4 seeds lies within [0.5, 1.5] σ_r.
    """
    rms = []
    for seed in range(4):
        y = np.random.default_rng(seed).uniform(-1.0, 1.0, size=(n, q))
        w = ipw_weights(y, bandwidth=h, clip=None, n_reference=n_reference)
        assert w.mean() == pytest.approx(1.0, rel=1e-12)
        inner = np.all(np.abs(y) < 1.0 - 4.0 * h, axis=1)
        wi = w[inner] / w[inner].mean()
        rms.append(np.sqrt(np.mean((wi - 1.0) ** 2)))
    sigma = _relative_sd(n, h, q, 0.5**q)
    assert sigma < 0.07  # the weights are ≈ 1: a few percent
    assert 0.5 * sigma < np.mean(rms) < 1.5 * sigma


def test_subsampled_reference_is_unbiased_and_self_consistent() -> None:
    """n > n_reference: p̂ is unbiased for the full KDE, and the weights track the full-KDE weights.

    In 4-D with h = 0.05 the point's own kernel dominates its density, so a subsample that gave
    only reference points their own kernel would make p̂ of the other points far too small.
    """
    rng = np.random.default_rng(0)
    y = rng.uniform(-1.0, 1.0, size=(3000, 4))
    inv_full = ipw_weights(y, bandwidth=0.05, clip=None, n_reference=None, normalize=False)  # 1 / p̂
    inv_sub = ipw_weights(y, bandwidth=0.05, clip=None, n_reference=600, normalize=False)
    ratio = inv_full / inv_sub  # p̂_sub / p̂_full, mean 1 if unbiased; the points are ~independent here
    assert abs(ratio.mean() - 1.0) < 4.0 * ratio.std() / np.sqrt(ratio.size)
    assert np.median(np.abs(ratio - 1.0)) < 0.02
    # 1-D, benign regime: relative differences of the order of the subsample's KDE noise
    x = rng.uniform(-1.0, 1.0, size=(8000, 1))
    inner = np.abs(x[:, 0]) < 0.6
    full = ipw_weights(x, bandwidth=0.1, clip=None, n_reference=None)[inner]
    sub = ipw_weights(x, bandwidth=0.1, clip=None, n_reference=1000, seed=1)[inner]
    rel = np.sqrt(np.mean((sub / full / np.mean(sub / full) - 1.0) ** 2))
    sigma = _relative_sd(1000, 0.1, 1, 0.5)
    assert rel < 1.5 * sigma


def test_sparser_regions_get_higher_weights() -> None:
    """Two intervals of equal length holding 80 % and 20 % of the points: interior weights differ 4-fold."""
    rng = np.random.default_rng(3)
    dense = rng.uniform(-1.0, -0.05, size=(2400, 1))
    sparse = rng.uniform(0.05, 1.0, size=(600, 1))
    x = np.concatenate([dense, sparse])
    w = ipw_weights(x, bandwidth=0.05, clip=None)
    inner_dense = (x[:, 0] > -0.8) & (x[:, 0] < -0.25)
    inner_sparse = (x[:, 0] > 0.25) & (x[:, 0] < 0.8)
    # KDE noise in the sparse part: σ_r ≈ 0.09, so a Jensen bias ≈ σ_r² < 1 % and a mean error ≈ 3 %
    assert w[inner_sparse].mean() / w[inner_dense].mean() == pytest.approx(4.0, rel=0.1)
    # and along a normal distribution, the weights grow from the centre outwards
    z = rng.normal(0.0, 0.3, size=(3000, 1))
    wz = ipw_weights(z, bandwidth=0.05, clip=None)
    edges = np.quantile(np.abs(z[:, 0]), [0.0, 0.25, 0.5, 0.75, 0.95])
    means = [
        wz[(np.abs(z[:, 0]) >= lo) & (np.abs(z[:, 0]) < hi)].mean()
        for lo, hi in zip(edges[:-1], edges[1:], strict=True)
    ]
    assert np.all(np.diff(means) > 0)


def test_clip_and_normalisation() -> None:
    rng = np.random.default_rng(1)
    x = np.concatenate([rng.normal(0.0, 0.05, size=(2000, 1)), rng.uniform(-3.0, 3.0, size=(20, 1))])
    raw = ipw_weights(x, clip=None)
    assert raw.max() > 10
    clipped = ipw_weights(x, clip=10.0)
    assert clipped.mean() == pytest.approx(1.0, rel=1e-12)
    expected = np.minimum(raw, 10.0)
    np.testing.assert_allclose(clipped, expected / expected.mean(), rtol=1e-12)
    inverse = ipw_weights(x, clip=None, normalize=False)
    np.testing.assert_allclose(inverse, np.exp(-kde_log_density(x, x, 0.05)), rtol=1e-6)
    capped = ipw_weights(x, clip=5.0, normalize=False)
    np.testing.assert_allclose(capped, np.minimum(inverse, 5.0 * inverse.mean()), rtol=1e-12)


def test_more_dims_than_max_dims_use_pca_of_standardised_latents() -> None:
    rng = np.random.default_rng(2)
    base = rng.normal(size=(1500, 3))
    x = np.concatenate([base, base @ rng.normal(size=(3, 9)) + 0.1 * rng.normal(size=(1500, 9))], axis=1)
    x *= rng.uniform(0.1, 10.0, size=12)  # per-column scales are removed by the standardisation
    # 3 strong components and 9 weak ones: the top-3 subspace is well defined, and the isotropic
    # kernel does not care about rotations or sign flips inside it
    z = PCA(n_components=3).fit_transform((x - x.mean(axis=0)) / x.std(axis=0))
    w = ipw_weights(x, bandwidth=0.3, max_dims=3, clip=None)
    np.testing.assert_allclose(w, ipw_weights(z, bandwidth=0.3, max_dims=3, clip=None), rtol=1e-6)
    np.testing.assert_allclose(w, _sklearn_weights(z, 0.3), atol=1e-3, rtol=0)


def test_kde_is_a_true_density() -> None:
    """A product-kernel KDE integrates to 1 (a sum of 1-D kernels would not)."""
    rng = np.random.default_rng(4)
    ref = rng.normal(0.0, 0.3, size=(200, 2))
    g = np.linspace(-2.0, 2.0, 161)
    gx, gy = np.meshgrid(g, g, indexing="ij")
    dens = np.exp(kde_log_density(np.column_stack([gx.ravel(), gy.ravel()]), ref, [0.1, 0.2]))
    cell = (g[1] - g[0]) ** 2
    assert dens.sum() * cell == pytest.approx(1.0, abs=1e-3)
    # Scott's rule: per-dimension h_d = sd_d · m^(-1/(q+4))
    h = ref.std(axis=0, ddof=1) * 200 ** (-1 / 6)
    np.testing.assert_allclose(kde_log_density(ref, ref, "scott"), kde_log_density(ref, ref, h), rtol=1e-12)


def test_tensor_input_and_seed() -> None:
    x = np.random.default_rng(5).normal(size=(800, 2))
    np.testing.assert_allclose(ipw_weights(torch.as_tensor(x), n_reference=300), ipw_weights(x, n_reference=300))
    assert not np.allclose(ipw_weights(x, n_reference=300, seed=1), ipw_weights(x, n_reference=300, seed=2))


def test_far_away_points_do_not_break_the_density() -> None:
    """Kernels that underflow in exp() still give exact log densities (log-sum-exp) and finite weights."""
    x = np.concatenate([np.zeros((50, 1)), [[1e3]]])
    w = ipw_weights(x, clip=None, n_reference=20)
    assert np.all(np.isfinite(w)) and np.argmax(w) == 50
    expected = -0.5 * (1e3 / 0.05) ** 2 - math.log(0.05) - 0.5 * math.log(2 * math.pi)
    assert kde_log_density([[1e3]], np.zeros((5, 1)), 0.05)[0] == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"latents": np.zeros(5)}, r"latents must have shape \(n_samples, n_dims\)"),
        ({"latents": np.array([[0.0], [np.nan]])}, "latents must be finite"),
        ({"latents": np.zeros((5, 1)), "bandwidth": -1.0}, "bandwidth must be a finite number > 0"),
        ({"latents": np.zeros((5, 1)), "bandwidth": "silverman"}, "or 'scott'"),
        ({"latents": np.zeros((5, 2)), "bandwidth": [0.1, 0.1, 0.1]}, "2 positive values"),
        ({"latents": np.zeros((5, 1)), "clip": 0}, "clip must be a finite number > 0"),
        ({"latents": np.zeros((5, 1)), "max_dims": 0}, "max_dims must be an integer"),
        ({"latents": np.zeros((5, 1)), "n_reference": 0}, "n_reference must be an integer"),
    ],
)
def test_bad_input(kwargs: dict, match: str) -> None:
    with pytest.raises(InputError, match=match):
        ipw_weights(**kwargs)
    with pytest.raises(InputError, match="same number of columns"):
        kde_log_density(np.zeros((3, 2)), np.zeros((3, 1)))
