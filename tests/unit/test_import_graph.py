"""The package's layers, read from the source (``ast``, every import, those inside functions too).

``nwb/`` is the only subpackage that touches pynwb/hdmf objects for results (``convert`` writes NWB
for users, ``testing`` builds test files); the pipeline hands it plain data
(:mod:`ndx_causal_emergence.nwb.content`) and never imports pynwb or hdmf; ``nwb/`` never imports
the pipeline (or anything that fits or measures). :data:`ALLOWED` is the whole graph between
subpackages: an import along a new arrow fails here until it is added on purpose.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2] / "src" / "ndx_causal_emergence"

#: Which subpackages (or top-level modules) each one may import from.
ALLOWED: dict[str, set[str]] = {
    "errors": set(),
    "deprecation": {"errors"},
    "runtime": set(),
    "measures": {"deprecation", "errors"},
    "data": {"deprecation", "errors"},
    "dandi": {"data", "errors"},
    "dynamics": {"deprecation", "errors", "measures", "runtime"},
    # safety.architecture checks a model's size (a deferred import; models import safety at call time too)
    "safety": {"dandi", "errors", "models"},
    "models": {"data", "deprecation", "errors", "measures", "runtime", "safety"},
    "nwb": {"dandi", "data", "errors", "safety"},
    "convert": {"errors", "nwb"},
    "pipeline": {
        *("__init__", "dandi", "data", "deprecation", "dynamics", "errors", "measures", "models", "nwb"),
        *("runtime", "safety"),
    },
    "demo": {"pipeline", "runtime"},
    "testing": {"convert", "data", "dynamics", "errors", "models", "nwb"},
    "cli": {"__init__", "demo", "errors", "nwb", "pipeline", "runtime", "safety"},
    "__init__": {"nwb", "pipeline", "models"},
    "__main__": {"cli"},
}
#: Where pynwb and hdmf may be imported.
NWB_LIBRARIES = {"pynwb", "hdmf"}
MAY_IMPORT_NWB = {"nwb", "convert", "testing"}


def _imports(path: Path) -> list[str]:
    """Absolute names of every module ``path`` imports (relative imports resolved)."""
    rel = path.relative_to(ROOT.parent).with_suffix("")
    package = list(rel.parts[:-1])  # the package a relative import starts from (also for an __init__)
    names = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                name = ".".join(base + ([node.module] if node.module else []))
                names += [name] if node.module else [f"{name}.{alias.name}" for alias in node.names]
            else:
                names.append(node.module or "")
    return names


def _layer(path: Path) -> str:
    rel = path.relative_to(ROOT)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


MODULES = sorted(ROOT.rglob("*.py"))


def _arrows() -> dict[str, set[str]]:
    """Layer -> the layers it imports; a name of the package itself (``from .. import __version__``) is ``__init__``."""
    layers = {_layer(p) for p in MODULES}
    arrows: dict[str, set[str]] = {}
    for path in MODULES:
        layer = _layer(path)
        for name in _imports(path):
            parts = name.split(".")
            if parts[0] == "ndx_causal_emergence" and len(parts) > 1:
                target = parts[1] if parts[1] in layers else "__init__"
                if target != layer:
                    arrows.setdefault(layer, set()).add(target)
    return arrows


def test_the_modules_are_found():
    assert len(MODULES) > 50 and {"pipeline", "nwb", "models"} <= {_layer(p) for p in MODULES}


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_pynwb_and_hdmf_only_in_the_nwb_layer(path):
    used = {name.split(".")[0] for name in _imports(path)} & NWB_LIBRARIES
    assert not used or _layer(path) in MAY_IMPORT_NWB, f"{path.relative_to(ROOT)} imports {sorted(used)}"


def test_nwb_never_imports_the_pipeline():
    assert not _arrows().get("nwb", set()) & {"pipeline", "models", "dynamics", "measures", "cli"}


def test_every_arrow_between_layers_is_allowed():
    unexpected = {layer: sorted(targets - ALLOWED.get(layer, set())) for layer, targets in _arrows().items()}
    assert {k: v for k, v in unexpected.items() if v} == {}


def test_the_checker_sees_imports_inside_functions():
    """The check reads deferred imports too (most of the package's imports are inside functions)."""
    module = ROOT / "pipeline" / "apply.py"
    assert "ndx_causal_emergence.nwb.read" in _imports(module)  # imported inside transform_source
