"""One self-contained HTML page of every analysis in a result file: summaries, tables, figures, provenance.

The page needs nothing else: figures are embedded as base64 PNG, the style is inline, and its
Content-Security-Policy lets the browser load nothing (no network, no script). Every text taken
from the file (condition names, provenance, parameters) is escaped: the file is untrusted input.
"""

from __future__ import annotations

import base64
import html
import io
import json
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import OutputError
from .report import GLOSSARY, fixed_point_counts, results_document
from .results import ConditionResult, read_all_results, stored_analyses, stored_layouts

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from ..nwb.layout import RoiLayout

__all__ = ["CONTENT_SECURITY_POLICY", "check_html_target", "html_report", "render_html", "save_html", "write_html"]

#: The page loads nothing but its own data: images from ``data:`` URIs, the inline style; no script.
CONTENT_SECURITY_POLICY = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
#: Resolution of the embedded figures.
HTML_DPI = 100

_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; max-width: 1100px; margin: 2em auto;
       padding: 0 1em; color: #1a1a1a; line-height: 1.45; }
h1 { font-size: 1.5em; } h2 { font-size: 1.25em; border-bottom: 1px solid #ccc; margin-top: 2em; }
h3 { font-size: 1.05em; margin-bottom: 0.3em; }
table { border-collapse: collapse; font-size: 0.85em; margin: 0.5em 0 1em; }
th, td { border: 1px solid #ccc; padding: 0.2em 0.5em; text-align: right; }
th { background: #f2f2f2; } td.text, th.text { text-align: left; }
figure { margin: 1em 0; } figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { font-size: 0.85em; color: #444; }
pre { background: #f7f7f7; padding: 0.6em; overflow-x: auto; font-size: 0.8em; white-space: pre-wrap; }
.no { color: #D55E00; font-weight: 600; } .yes { color: #009E73; font-weight: 600; }
nav a { margin-right: 1em; }
"""

_SECTIONS = [
    ("summary", "Summary"),
    ("emergence", "J and ΔJ against d"),
    ("scales", "Per-scale table"),
    ("fit", "Fit quality"),
    ("comparisons", "Condition comparisons"),
    ("dynamics", "Dynamics"),
    ("attribution", "Attribution"),
    ("provenance", "Provenance"),
    ("glossary", "Glossary"),
]


def _e(value: Any) -> str:
    """Escaped text of any value (quotes too: safe inside attributes)."""
    return html.escape(str(value), quote=True)


def _num(value: Any, fmt: str = ".3f") -> str:
    """A number formatted; empty for a missing one, as stored for anything else (a file may hold anything)."""
    if value is None:
        return ""
    try:
        return format(value, fmt)
    except (TypeError, ValueError):
        return str(value)


def _figure(fig: Figure, caption: str) -> str:
    """A figure as an ``<img>`` with a base64 PNG ``data:`` URI and its caption."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=HTML_DPI)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return (
        f'<figure><img src="data:image/png;base64,{data}" alt="{_e(caption)}">'
        f"<figcaption>{_e(caption)}</figcaption></figure>"
    )


def _table(header: Iterable[str], rows: Iterable[Iterable[Any]], text_columns: int = 0) -> str:
    """An HTML table; the first ``text_columns`` columns are left-aligned text."""
    head = "".join(f'<th class="{"text" if i < text_columns else ""}">{_e(h)}</th>' for i, h in enumerate(header))
    body = "".join(
        "<tr>" + "".join(f'<td class="{"text" if i < text_columns else ""}">{_e(v)}</td>' for i, v in enumerate(row))
        + "</tr>"
        for row in rows
    )  # fmt: skip
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _heading(analysis: dict[str, Any]) -> str:
    return f"<h3>Condition {_e(analysis['condition'])} <small>({_e(analysis['name'])})</small></h3>"


def _summary(analyses: list[dict[str, Any]]) -> str:
    parts = []
    for a in analyses:
        sentences = "".join(f"<li>{_e(s)}</li>" for s in a["conclusions"])
        parts.append(
            f"{_heading(a)}<p>Emergent complexity {_e(_num(a['emergent_complexity']))} bits "
            f"({_e(_num(a['emergent_complexity_normalized']))} normalised).</p><ul>{sentences}</ul>"
        )
    return "".join(parts) or "<p>No causal-emergence analysis in this file.</p>"


def _scales_table(analysis: dict[str, Any]) -> str:
    rows = []
    for s in analysis["scales"]:
        interval = ""
        if s["scale"] and s.get("causal_emergence_ci_low") is not None:
            interval = f"[{_num(s['causal_emergence_ci_low'], '+.3f')}, {_num(s['causal_emergence_ci_high'], '+.3f')}]"
        rows.append([
            s["scale"], s["dimension"], _num(s["effective_information"]), _num(s["dimension_averaged_ei"]),
            _num(s["causal_emergence"], "+.3f"), interval,
            _num(s.get("causal_emergence_p_holm"), ".3g") if s["scale"] else "",
            {True: "yes", False: "no"}.get(s.get("significant"), "") if s["scale"] else "",
            {True: "ok", False: "FAIL"}.get(s.get("fit_ok"), ""), _num(s.get("causal_power"), ".2f"),
        ])  # fmt: skip
    header = ["scale", "d", "EI (nats)", "J (nats)", "ΔJ (nats)", "ΔJ 95 % interval", "p (Holm)", "significant",
              "fit", "causal power"]  # fmt: skip
    return _heading(analysis) + _table(header, rows)


def _fit_table(analysis: dict[str, Any]) -> str:
    rows = [
        [s["scale"], s["dimension"], _num(s.get("latent_nmse")), _num(s.get("latent_nmse_persistence")),
         _num(s.get("nmse")), _num(s.get("nmse_persistence")), {True: "ok", False: "FAIL"}.get(s.get("fit_ok"), "")]
        for s in analysis["scales"]
    ]  # fmt: skip
    header = ["scale", "d", "latent NMSE", "latent NMSE, persistence", "micro NMSE", "micro NMSE, persistence", "fit"]
    return _heading(analysis) + _table(header, rows)


def _comparisons(analyses: list[dict[str, Any]]) -> str:
    """Each pair of conditions once (each analysis stores the comparison from its own side)."""
    shown_by: dict[frozenset[str], str] = {}
    rows = []
    for a in analyses:
        for c in a["comparisons"]:
            pair = frozenset((a["condition"], c["other_condition"]))
            if shown_by.setdefault(pair, a["condition"]) != a["condition"]:
                continue
            rows.append([
                a["condition"], c["other_condition"], "J" if c["measure"] == "J" else "ΔJ", c["dimension"],
                _num(c["difference"], "+.3f"), f"[{_num(c['ci_low'], '+.3f')}, {_num(c['ci_high'], '+.3f')}]",
                _num(c["p_value"], ".3g"), "yes" if c["significant"] else "no",
            ])  # fmt: skip
    if not rows:
        return "<p>One condition only: nothing to compare.</p>"
    header = ["condition", "other condition", "measure", "d", "difference (nats)", "95 % interval", "p (permutation)",
              "significant"]  # fmt: skip
    return _table(header, rows, text_columns=3)


def _figures(figures: dict[str, Figure], names: list[tuple[str, str]]) -> str:
    return "".join(_figure(figures[name], caption) for name, caption in names if name in figures)


def _dynamics(analyses: list[dict[str, Any]], figures: dict[str, Figure]) -> str:
    parts = []
    for a in analyses:
        name = a["name"]
        flows = sorted(k for k in figures if k.startswith(f"{name}_flow_scale"))
        parts.append(
            f"{_heading(a)}<p>Fixed points in the data support: {_e(fixed_point_counts(a))}. "
            f"Metastable-state transitions on the test block: {_e(a['n_transitions'])}.</p>"
            + _figures(
                figures,
                [
                    (
                        f"{name}_potential",
                        f"{a['condition']}: drift potentials of the learned map and of the empirical "
                        "drift of the encoded frames, occupancy, fixed points and basins of the top scale",
                    ),
                    *[
                        (
                            k,
                            f"{a['condition']}: drift field F(y) - y of a 2-D scale, fixed points and the encoded "
                            "trajectory",
                        )
                        for k in flows
                    ],
                    (
                        f"{name}_states",
                        f"{a['condition']}: top-scale macro variable over time with the metastable-state transitions",
                    ),
                ],
            )  # fmt: skip
        )
    return "".join(parts)


def _coverage_table(analysis: dict[str, Any]) -> str:
    """Coverage C_d per scale (docs/method.md §4), where the analysis stored it."""
    scales = [s for s in analysis["scales"] if s.get("coverage") is not None]
    if not scales:
        return ""
    rows = [
        [s["scale"], s["dimension"], _num(s["coverage"]), _num(s.get("coverage_top_fraction")),
         _num(s.get("coverage_extent"), ".1f")]
        for s in scales
    ]  # fmt: skip
    header = ["scale", "d", "coverage C_d", "share of channels holding 80 % of the importance", "extent (pixels)"]
    return _table(header, rows)


def _attribution(analyses: list[dict[str, Any]], figures: dict[str, Figure], layouts: dict[str, RoiLayout]) -> str:
    parts = []
    for a in analyses:
        name = a["name"]
        layout = layouts.get(name)
        if layout is None:
            note = "The input series links no ROI table: channels are named by their column in the series."
        elif layout.labels is None:
            note = f"ROIs named by their id in '{layout.table}'; no layout drawn: {layout.note}."
        else:
            note = f"ROIs drawn from the masks of '{layout.table}' and named by their id."
        parts.append(
            f"{_heading(a)}<p>{_e(note)}</p>"
            + _coverage_table(a)
            + _figures(
                figures,
                [
                    (
                        f"{name}_attribution_map",
                        f"{a['condition']}: importance of each ROI per scale on the field of "
                        "view (integrated gradients)",
                    ),
                    (
                        f"{name}_attribution",
                        f"{a['condition']}: importance of each input channel per scale (integrated gradients)",
                    ),
                ],
            )  # fmt: skip
        )
    return "".join(parts)


def _provenance(analyses: list[dict[str, Any]]) -> str:
    parts = []
    for a in analyses:
        prov = dict(a["provenance"])
        environment = prov.pop("environment", None)
        rows = [[k, v] for k, v in sorted(prov.items())]
        parts.append(_heading(a) + _table(["field", "value"], rows, text_columns=2))
        if environment:
            try:
                environment = json.dumps(json.loads(environment), indent=1, sort_keys=True)
            except (TypeError, ValueError):
                pass  # shown as stored
            parts.append(f"<details><summary>software environment</summary><pre>{_e(environment)}</pre></details>")
        parameters = json.dumps(a["parameters"], indent=1, sort_keys=True, default=str)
        parts.append(f"<details><summary>parameters</summary><pre>{_e(parameters)}</pre></details>")
    return "".join(parts)


def render_html(results: dict[str, ConditionResult], file: str, *, layouts: dict[str, RoiLayout] | None = None) -> str:
    """The HTML page of analyses ``results`` (by analysis name) of the result file ``file``.

    Figures come from :func:`~ndx_causal_emergence.pipeline.figures.result_figures` (with the
    fitted models and macro variables when the results hold them); ``layouts`` (by analysis name)
    draw the attribution on the ROIs.
    """
    from .. import __version__
    from .figures import result_figures

    layouts = layouts or {}
    document = results_document(results, file)
    analyses = document["analyses"]
    figures = result_figures(results, layouts)
    sections = {
        "summary": _summary(analyses),
        "emergence": _figures(
            figures,
            [
                (
                    "conditions",
                    "J and ΔJ against the scale's dimension d, every condition overlaid with its 95 % intervals",
                )
            ],
        ),  # fmt: skip
        "scales": "".join(_scales_table(a) for a in analyses),
        "fit": _figures(figures, [("fit_quality", "one-step error of each scale's latent map beside persistence")])
        + "".join(_fit_table(a) for a in analyses),
        "comparisons": _comparisons(analyses),
        "dynamics": _dynamics(analyses, figures),
        "attribution": _attribution(analyses, figures, layouts),
        "provenance": _provenance(analyses),
        "glossary": f"<pre>{_e(GLOSSARY.replace(chr(8) + chr(10), ''))}</pre>",
    }
    nav = "".join(f'<a href="#{key}">{_e(title)}</a>' for key, title in _SECTIONS)
    body = "".join(f'<section id="{key}"><h2>{_e(title)}</h2>{sections[key]}</section>' for key, title in _SECTIONS)
    title = f"Causal emergence report: {Path(file).name}"
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{_e(CONTENT_SECURITY_POLICY)}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title><style>{_STYLE}</style></head><body>"
        f"<h1>{_e(title)}</h1><p>File {_e(file)}; {len(analyses)} analys{'is' if len(analyses) == 1 else 'es'}; "
        f"report by ndx-causal-emergence {_e(__version__)}.</p><nav>{nav}</nav>{body}</body></html>\n"
    )


def html_report(path: str | Path) -> str:
    """The HTML page of every analysis in the NWB file ``path`` (see :func:`render_html`)."""
    results = read_all_results(path)
    return render_html(stored_analyses(results), str(path), layouts=stored_layouts(results))


def check_html_target(out: str | Path) -> Path:
    """``out`` as a path, refused (:class:`OutputError`) unless its folder exists and it is not a folder itself."""
    out = Path(out)
    if out.is_dir():
        raise OutputError(f"cannot write the HTML report to {out}: it is a folder; name a file.")
    if not out.absolute().parent.is_dir():
        raise OutputError(f"cannot write the HTML report to {out}: its folder {out.absolute().parent} does not exist.")
    return out


def save_html(text: str, out: str | Path) -> Path:
    """Write an HTML page to ``out``, replacing it atomically (never a half-written page); returns ``out``."""
    import os
    import tempfile

    out = check_html_target(out)
    fd, name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.absolute().parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        umask = os.umask(0o022)
        os.umask(umask)
        os.chmod(name, 0o666 & ~umask)  # as an ordinary new file: a report is meant to be shared
        os.replace(name, out)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
    return out


def write_html(path: str | Path, out: str | Path) -> Path:
    """Write the HTML page of the NWB file ``path`` to ``out``; returns ``out``."""
    check_html_target(out)  # before the work
    return save_html(html_report(path), out)
