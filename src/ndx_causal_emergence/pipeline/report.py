"""Summaries of written results: a JSON-able document and readable text tables."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from .results import ConditionResult, read_all_results, stored_analyses

#: What the report's words and columns mean (``report --help``, the HTML report).
GLOSSARY = """Glossary (information in nats, natural logarithms):

\b
EI      effective information of a scale's learned dynamics F under a uniform intervention on
        the box [-1, 1]^d of its normalised coordinates (nats): noise term + Jacobian term.
J       EI per dimension (EI / d), comparable across scales (nats).
dJ      causal emergence: J of the scale minus J of the micro level (scale 0); > 0 means the
        coarse-grained dynamics are more effective per variable than the micro ones.
interval  95 % interval of dJ: moving-block bootstrap of the test block, pooled over seeds
          (with one seed it leaves out how far another fit would move dJ).
p (Holm)  one-sided p-value of dJ > min_effect (0.1 nats by default: above the estimator's
          bias on data without emergence), adjusted over the macro scales (Holm); * significant.
fit     'ok' when the scale's map predicts its next state better than persistence
        (y_t+1 = y_t) and than the mean; otherwise its J and dJ cannot be interpreted.
NMSE    one-step error of the decoded micro prediction over the variance of the data (test
        block); 'persist.' is the same for x_t+1 = x_t. 1 = no better than the mean.
power   causal power: share of the scale in the increase of J from micro to macro.
emergent complexity  entropy of the causal power shares, bits (normalised by log2 #scales).
fraction in box  share of held-out latents inside the intervention box."""


#: The conclusion added to an analysis of one fit (docs/user-guide.md §5, "Seeds").
ONE_FIT_CAVEAT = (
    "One fit (one seed): the intervals and p-values cover the sampling of the test block, not how far another "
    "fit would move J and dJ, which on real recordings can be several times more; run --seeds 3 or more before "
    "drawing conclusions."
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
    comparisons = (
        []
        if result.comparisons is None
        else [{k: _clean(v) for k, v in row.items()} for row in result.comparisons.to_dict("records")]
    )
    summary = {
        "name": name,
        "condition": result.condition,
        "source": result.provenance.get("input_file"),
        "emergent_complexity": _clean(result.emergent_complexity),
        "emergent_complexity_normalized": _clean(result.emergent_complexity_normalized),
        "scales": scales,
        "fixed_points": fixed,
        "n_transitions": 0 if result.transitions is None else len(result.transitions),
        "comparisons": comparisons,
        "provenance": result.provenance,
        "parameters": result.parameters,
    }
    summary["conclusions"] = conclusions(summary)
    return summary


def _dims(scales: list[dict[str, Any]]) -> str:
    return ", ".join(str(s["dimension"]) for s in scales)


def conclusions(analysis: dict[str, Any]) -> list[str]:
    """What can and cannot be concluded from one analysis, in sentences (fit quality, significance, comparisons)."""
    scales = analysis["scales"]
    if not scales or "fit_ok" not in scales[0]:
        return ["This analysis predates the fit-quality gate and significance tests; rerun it to get them."]
    out = []
    failed = [s for s in scales if not s["fit_ok"]]
    if not scales[0]["fit_ok"]:
        out.append(
            "The micro level's map does not beat persistence or the mean on the test block, so no dJ "
            "(causal emergence) of this analysis can be interpreted."
        )
    if failed:
        out.append(
            f"Scales of dimension {_dims(failed)} predict their next state no better than persistence or the "
            "mean: their J and dJ are not interpretable (the model failed there, which is not the same as "
            "'no emergence')."
        )
    significant = [s for s in scales if s.get("significant")]
    macro = [s for s in scales[1:] if s["fit_ok"]]
    if significant:
        best = max(significant, key=lambda s: s["causal_emergence"])
        out.append(
            f"Significant causal emergence at dimension {_dims(significant)} (Holm-adjusted p < alpha); the largest "
            f"is dJ = {best['causal_emergence']:+.3f} nats at d = {best['dimension']} (95 % interval "
            f"[{best['causal_emergence_ci_low']:+.3f}, {best['causal_emergence_ci_high']:+.3f}])."
        )
    elif scales[0]["fit_ok"] and macro:
        best = max(macro, key=lambda s: s["causal_emergence"])
        out.append(
            f"No scale shows significant causal emergence: the largest dJ = {best['causal_emergence']:+.3f} nats "
            f"(d = {best['dimension']}, Holm-adjusted p = {best['causal_emergence_p_holm']:.3g}) is compatible "
            "with none."
        )
    for row in analysis.get("comparisons", []):
        if row["significant"]:
            word = "higher" if row["difference"] > 0 else "lower"
            what = "J" if row["measure"] == "J" else "dJ"
            out.append(
                f"{what} at d = {row['dimension']} is {word} than in '{row['other_condition']}' by "
                f"{abs(row['difference']):.3f} nats (95 % interval [{row['ci_low']:+.3f}, {row['ci_high']:+.3f}], "
                f"permutation p = {row['p_value']:.3g})."
            )
    if analysis.get("comparisons") and not any(r["significant"] for r in analysis["comparisons"]):
        others = sorted({r["other_condition"] for r in analysis["comparisons"]})
        out.append(f"No significant difference in J or dJ from {', '.join(repr(o) for o in others)} at any scale.")
    if (analysis.get("parameters") or {}).get("n_seeds", 1) == 1:
        out.append(ONE_FIT_CAVEAT)
    return out


def results_document(results: dict[str, ConditionResult], file: str) -> dict[str, Any]:
    """The report document of analyses (by name) read from, or to be written to, ``file``."""
    return {"file": file, "analyses": [analysis_summary(n, r) for n, r in results.items()]}


def report_document(path: str | Path) -> dict[str, Any]:
    """The JSON report of every analysis in an NWB file: ``{"file": ..., "analyses": [...]}``."""
    return results_document(stored_analyses(read_all_results(path, load_models=False, load_macro_variables=False)),
                            str(path))  # fmt: skip


def fixed_point_counts(analysis: dict[str, Any]) -> str:
    """The in-support fixed points of an analysis counted per scale, source and kind, in words ("none" if none)."""
    kinds: dict[tuple[int, str], dict[str, int]] = {}
    for fp in analysis["fixed_points"]:
        if fp["in_support"]:
            counts = kinds.setdefault((fp["scale"], fp.get("source", "model")), {})
            counts[fp["stability"]] = counts.get(fp["stability"], 0) + 1
    described = "; ".join(
        f"scale {scale} ({source}): " + ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items()))
        for (scale, source), counts in sorted(kinds.items())
    )
    return described or "none"


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
        lines.append(
            f"  {'scale':>5} {'dim':>5} {'EI (nats)':>10} {'J (nats)':>9} {'dJ (nats)':>10} "
            f"{'dJ 95 % interval':>18} {'p (Holm)':>9} {'fit':>4} {'power':>6} {'NMSE':>6} {'persist.':>8}"
        )
        for s in a["scales"]:
            interval = p_holm = ""
            if s["scale"] and s.get("causal_emergence_ci_low") is not None:
                interval = f"[{s['causal_emergence_ci_low']:+.3f}, {s['causal_emergence_ci_high']:+.3f}]"
                p_holm = f"{s['causal_emergence_p_holm']:.3g}" + ("*" if s.get("significant") else "")
            fit = "" if "fit_ok" not in s else ("ok" if s["fit_ok"] else "FAIL")
            persist = s.get("nmse_persistence")
            lines.append(
                f"  {s['scale']:>5} {s['dimension']:>5} {s['effective_information']:>10.3f} "
                f"{s['dimension_averaged_ei']:>9.3f} {s['causal_emergence']:>+10.3f} {interval:>18} {p_holm:>9} "
                f"{fit:>4} {s['causal_power']:>6.2f} {s['nmse']:>6.3f} "
                f"{'' if persist is None else format(persist, '.3f'):>8}"
            )
        lines += [f"  {sentence}" for sentence in a.get("conclusions", [])]
        if a["fixed_points"]:
            lines.append(f"  fixed points in the data support: {fixed_point_counts(a)}")
        lines.append(f"  state transitions: {a['n_transitions']}")
        prov = a["provenance"]
        lines.append(
            f"  input: {prov.get('input_file')} {prov.get('input_path')} (object_id {prov.get('input_object_id')})"
        )
    return "\n".join(lines)
