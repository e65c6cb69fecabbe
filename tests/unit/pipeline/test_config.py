"""AnalysisConfig: what decides a result, its validation and its JSON / TOML round trips."""

from __future__ import annotations

import warnings

import pytest

from ndx_causal_emergence.errors import InputError
from ndx_causal_emergence.models import MultiscaleNISPlus
from ndx_causal_emergence.pipeline.config import AnalysisConfig


def test_json_round_trip_keeps_every_field() -> None:
    config = AnalysisConfig(conditions="epochs", condition_column="stage", coarsening=3, q=2, n_seeds=2,
                            model_params={"max_steps": 10})  # fmt: skip
    again = AnalysisConfig.from_json(config.to_json())
    assert again == config
    assert again.model_kwargs(seed=5) == {"preset": "fast", "seed": 5, "device": "auto", "coarsening": 3, "q": 2,
                                          "max_steps": 10}  # fmt: skip


def test_toml_file_and_overrides(tmp_path) -> None:
    path = tmp_path / "analysis.toml"
    path.write_text("q = 4\ncoarsening = 2\nbin_width = 0.5\n")
    config = AnalysisConfig.from_toml(path, bin_width=1.0)
    assert (config.q, config.coarsening, config.bin_width) == (4, 2, 1.0)
    assert MultiscaleNISPlus(**config.model_kwargs(seed=0)).ladder_for(116) == [116, 58, 29, 14, 7, 4]


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"ladder": [8, 2, 1], "q": 2}, "either an explicit ladder"),
        ({"ladder": [8, 2, 1], "coarsening": 4}, "either an explicit ladder"),
        ({"coarsening": 1}, "coarsening must be >= 2"),
        ({"q": 0}, "q .* must be >= 1"),
        ({"preset": "slow"}, "preset must be one of"),
        ({"bin_width": 0.0}, "bin_width must be > 0"),
        ({"bogus": 1}, "unknown analysis parameters \\['bogus'\\]"),
        ({"attribution": "no"}, "attribution must be true or false"),
    ],
)
def test_bad_values_name_the_problem(values, message) -> None:
    with pytest.raises(InputError, match=message):
        AnalysisConfig.from_dict(values)


def test_every_model_preset_is_accepted():
    from ndx_causal_emergence.models.presets import DEPRECATED_PRESETS as MODEL_DEPRECATED
    from ndx_causal_emergence.models.presets import PRESETS as MODEL_PRESETS
    from ndx_causal_emergence.pipeline.config import DEPRECATED_PRESETS, PRESETS

    assert set(PRESETS) == set(MODEL_PRESETS) and DEPRECATED_PRESETS == MODEL_DEPRECATED
    assert AnalysisConfig(preset="sir").model_kwargs(0)["preset"] == "sir"
    with pytest.warns(DeprecationWarning, match="now called 'fmri'"):
        assert AnalysisConfig(preset="paper").preset == "fmri"
    assert AnalysisConfig.from_json(AnalysisConfig(preset="fmri").to_json()).preset == "fmri"


def test_n_samples_is_the_old_name_of_n_monte_carlo(tmp_path):
    """The Monte Carlo draws of the Jacobian term are ``n_monte_carlo`` (``n_samples`` means rows elsewhere)."""
    with pytest.warns(FutureWarning, match="'n_samples' is now 'n_monte_carlo'"):
        assert AnalysisConfig(n_samples=50).n_monte_carlo == 50
    with pytest.warns(FutureWarning, match="'n_samples' is now 'n_monte_carlo'"):
        assert AnalysisConfig.from_dict({"n_samples": 60}).n_monte_carlo == 60
    config = tmp_path / "old.toml"
    config.write_text("n_samples = 70\n")
    with pytest.warns(FutureWarning):
        assert AnalysisConfig.from_toml(config).n_monte_carlo == 70
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # parameters stored in a file keep their names: read without a warning
        old = AnalysisConfig.from_dict({"n_samples": 80}, stored=True)
    assert old.n_monte_carlo == 80 and "n_samples" not in old.to_dict()
    assert AnalysisConfig.from_json(old.to_json()) == old
    with pytest.raises(InputError, match="not both"):
        AnalysisConfig.from_dict({"n_samples": 1, "n_monte_carlo": 2})


def test_cut_is_the_old_name_of_q(tmp_path):
    """The top scale's dimension is ``q`` everywhere (``NISPlus(q=...)``, the measures); ``cut`` still works."""
    with pytest.warns(FutureWarning, match="'cut' is now 'q'"):
        config = AnalysisConfig(cut=3)
    assert config.q == 3 and "cut" not in config.to_dict()
    assert config.model_kwargs(seed=0)["q"] == 3
    with pytest.warns(FutureWarning, match="'cut' is now 'q'"):
        assert AnalysisConfig.from_dict({"cut": 2}).q == 2
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # parameters stored in a file keep their names: read without a warning
        assert AnalysisConfig.from_dict({"cut": 4}, stored=True).q == 4
    with pytest.raises(InputError, match="not both"):
        AnalysisConfig.from_dict({"cut": 1, "q": 2})
    with pytest.raises(InputError, match="give 'q' or its old name 'cut', not both"):
        AnalysisConfig(cut=1, q=2)


def test_scales_is_the_old_name_of_ladder():
    with pytest.warns(FutureWarning, match="'scales' is now 'ladder'"):
        assert AnalysisConfig(scales=[8, 2, 1]).ladder == (8, 2, 1)
    assert AnalysisConfig.from_dict({"scales": [8, 2, 1]}, stored=True).model_kwargs(seed=0)["ladder"] == [8, 2, 1]
