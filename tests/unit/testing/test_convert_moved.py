"""The converters' old import path (``ndx_causal_emergence.testing.convert``) still works and warns."""

from __future__ import annotations

import importlib

import pytest

from ndx_causal_emergence import convert, testing


@pytest.mark.parametrize(
    ("name", "new_home"),
    [(name, convert) for name in convert.__all__] + [("write_long_ophys_nwb", testing)],
)
def test_old_path_gives_the_same_function_with_a_warning(name, new_home) -> None:
    old = importlib.import_module("ndx_causal_emergence.testing.convert")
    with pytest.warns(DeprecationWarning, match=f"import {name} from {new_home.__name__} instead"):
        moved = getattr(old, name)
    assert moved is getattr(new_home, name)


def test_old_path_names_only_what_moved() -> None:
    old = importlib.import_module("ndx_causal_emergence.testing.convert")
    with pytest.raises(AttributeError, match="no attribute 'mock_EmergenceTable'"):
        old.mock_EmergenceTable  # noqa: B018
    assert sorted(old.__all__) == sorted([*convert.__all__, "write_long_ophys_nwb"])
