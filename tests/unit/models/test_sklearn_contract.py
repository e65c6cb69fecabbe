"""scikit-learn's estimator checks (``parametrize_with_checks``) on every NIS estimator, at a tiny size.

The estimators follow scikit-learn's contract without importing it at run time (scikit-learn is
a test dependency only), so they do not subclass ``BaseEstimator``; the warning the checks give
for that is silenced here. Two things differ from a scikit-learn estimator on purpose:

- the checks fit on 1 to 30 rows, under the :data:`~ndx_causal_emergence.models.training.MIN_PAIRS`
  transition pairs a fit needs: that data-size floor is lowered to 1 here so that every check
  runs (``test_estimator.py::test_bad_data_raise_clear_errors`` checks the floor itself);
- NaN rows are missing frames, accepted by design (tag ``allow_nan``), so
  ``check_estimators_nan_inf`` is not run; infinite values still raise (``test_estimator.py``).
"""

from __future__ import annotations

import warnings

import pytest
import torch

from ndx_causal_emergence.errors import NotFittedError
from ndx_causal_emergence.models import NIS, MultiscaleNISPlus, NISPlus, training

sklearn_checks = pytest.importorskip("sklearn.utils.estimator_checks")  # the test extra: never skipped in CI

torch.set_num_threads(1)

_TINY = {"max_steps": 6, "batch_size": 16, "hidden_width": 8, "dynamics_width": 8, "n_coupling_layers": 2,
         "eval_every": 3, "polish_steps": 0, "observed_reference": False, "device": "cpu"}  # fmt: skip

#: The checks that cannot pass, and why (also listed in the estimators' docstring).
EXPECTED_FAILED_CHECKS = {
    "check_estimators_unfitted": (
        "a method called before fit raises the package's NotFittedError (an AttributeError, as scikit-learn's "
        "is); it cannot subclass sklearn.exceptions.NotFittedError without making scikit-learn a run-time "
        "dependency"
    ),
}


def _expected_failed_checks(estimator: object) -> dict[str, str]:
    return EXPECTED_FAILED_CHECKS


@pytest.fixture(autouse=True)
def _small_data_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    """The checks' data sets are 1 to 30 rows: lower the data-size floor so that they reach the contract."""
    monkeypatch.setattr(training, "MIN_PAIRS", 1)


with warnings.catch_warnings():  # at collection: the checks warn that the estimators do not subclass BaseEstimator
    warnings.filterwarnings("ignore", message="Estimator .* does not inherit", category=UserWarning)
    _with_checks = sklearn_checks.parametrize_with_checks(
        [MultiscaleNISPlus(**_TINY, weight_refresh=3), NISPlus(q=1, **_TINY, weight_refresh=3), NIS(q=1, **_TINY)],
        expected_failed_checks=_expected_failed_checks,
        xfail_strict=True,
    )


@pytest.mark.filterwarnings("ignore:Estimator .* does not inherit from `sklearn.base.BaseEstimator`")
@_with_checks
def test_sklearn_estimator_checks(estimator, check) -> None:
    check(estimator)


def test_not_fitted_error_is_what_sklearn_catches() -> None:
    """The failing check's intent holds: the error before fit is an AttributeError, as scikit-learn's is."""
    with pytest.raises(AttributeError, match="call fit"):
        NIS(**_TINY).predict([[0.0, 1.0]])
    assert issubclass(NotFittedError, AttributeError)
