"""Summaries of written results: a JSON-able document and readable text tables."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from .results import ConditionResult, read_results

SCALE_KEYS = (
    "scale",
    "dimension",
    "effective_information",
    "dimension_averaged_ei",
    "causal_emergence",
    "causal_power",
    "nmse",
)


def _clean(value: Any) -> Any:
    """Plain JSON values (NaN → None, numpy scalars → Python)."""
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def analysis_summary(name: str, result: ConditionResult) -> dict[str, Any]:
    """One analysis as the ``report --json`` document describes it."""
    scales = [{k: _clean(row[k]) for k in result.emergence.columns} for row in result.emergence.to_dict("records")]
    fixed = []
    if result.fixed_points is not None:
        for row in result.fixed_points.to_dict("records"):
            entry = {
                "scale": _clean(row["scale"]),
                "stability": row["stability"],
                "in_support": bool(row["in_support"]),
            }
            if "source" in row:
                entry["source"] = row["source"]
            entry["location"] = [float(v) for v in row["location"]]
            fixed.append(entry)
    return {
        "name": name,
        "condition": result.condition,
        "source": result.provenance.get("input_file"),
        "emergent_complexity": _clean(result.emergent_complexity),
        "emergent_complexity_normalized": _clean(result.emergent_complexity_normalized),
        "scales": scales,
        "fixed_points": fixed,
        "n_transitions": 0 if result.transitions is None else len(result.transitions),
        "provenance": result.provenance,
        "parameters": result.parameters,
    }


def report_document(path: str | Path) -> dict[str, Any]:
    """The JSON report of every analysis in an NWB file: ``{"file": ..., "analyses": [...]}``."""
    results = read_results(path, load_models=False)
    return {"file": str(path), "analyses": [analysis_summary(n, r) for n, r in results.items()]}


def report_text(document: dict[str, Any]) -> str:
    """Readable tables of a report document."""
    lines = [f"File: {document['file']}"]
    if not document["analyses"]:
        lines.append("No causal-emergence analysis in this file.")
    for a in document["analyses"]:
        lines += [
            "",
            f"Analysis {a['name']}  (condition: {a['condition']})",
            f"  emergent complexity: {a['emergent_complexity']:.3f} bits "
            f"({a['emergent_complexity_normalized']:.3f} normalised)",
        ]
        lines.append(f"  {'scale':>5} {'dim':>5} {'EI':>9} {'J':>8} {'dJ':>8} {'power':>6} {'NMSE':>7}")
        for s in a["scales"]:
            lines.append(
                f"  {s['scale']:>5} {s['dimension']:>5} {s['effective_information']:>9.3f} "
                f"{s['dimension_averaged_ei']:>8.3f} {s['causal_emergence']:>8.3f} {s['causal_power']:>6.2f} "
                f"{s['nmse']:>7.3f}"
            )
        if a["fixed_points"]:
            kinds: dict[tuple[int, str], dict[str, int]] = {}
            for fp in a["fixed_points"]:
                if fp["in_support"]:
                    counts = kinds.setdefault((fp["scale"], fp.get("source", "model")), {})
                    counts[fp["stability"]] = counts.get(fp["stability"], 0) + 1
            described = "; ".join(
                f"scale {scale} ({source}): " + ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items()))
                for (scale, source), counts in sorted(kinds.items())
            )
            lines.append(f"  fixed points in the data support: {described or 'none'}")
        lines.append(f"  state transitions: {a['n_transitions']}")
        prov = a["provenance"]
        lines.append(
            f"  input: {prov.get('input_file')} {prov.get('input_path')} (object_id {prov.get('input_object_id')})"
        )
    return "\n".join(lines)
