"""``causal-emergence report``: tables, JSON and figures of the analyses in an NWB file."""

from __future__ import annotations

import json
from pathlib import Path

import click

from .main import Context, handle_errors, max_memory_option

GLOSSARY = """Glossary (information in nats, natural logarithms):

\b
EI      effective information of a scale's learned dynamics F under a uniform intervention on
        the box [-1, 1]^d of its normalised coordinates (nats): noise term + Jacobian term.
J       EI per dimension (EI / d), comparable across scales (nats).
dJ      causal emergence: J of the scale minus J of the micro level (scale 0); > 0 means the
        coarse-grained dynamics are more effective per variable than the micro ones.
interval  95 % interval of dJ: moving-block bootstrap of the test block (pooled over seeds).
p (Holm)  one-sided p-value of dJ > min_effect (0.1 nats by default: above the estimator's
          bias on data without emergence), adjusted over the macro scales (Holm); * significant.
fit     'ok' when the scale's map predicts its next state better than persistence
        (y_t+1 = y_t) and than the mean; otherwise its J and dJ cannot be interpreted.
NMSE    one-step error of the decoded micro prediction over the variance of the data (test
        block); 'persist.' is the same for x_t+1 = x_t. 1 = no better than the mean.
power   causal power: share of the scale in the increase of J from micro to macro.
emergent complexity  entropy of the causal power shares, bits (normalised by log2 #scales).
fraction in box  share of held-out latents inside the intervention box."""


@click.command("report", epilog=GLOSSARY)
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print exactly one JSON document instead of tables.")
@click.option("--plots", type=click.Path(file_okay=False, path_type=Path), help="Write PNG figures into this folder.")
@max_memory_option
@click.pass_obj
@handle_errors
def report(obj: Context, file: Path, as_json: bool, plots: Path | None) -> None:
    """Summarise every causal-emergence analysis in FILE (per condition and scale).

    For each analysis: the per-scale table (EI, J, dJ with its interval and p-value, the fit
    gate, NMSE beside persistence), sentences saying what can and cannot be concluded, and the
    comparisons with the other conditions of the same series.
    """
    from ..pipeline.report import report_document, report_text

    doc = report_document(file)
    if plots is not None:
        from ..pipeline.figures import save_figures

        doc["plots"] = [str(p) for p in save_figures(file, plots)]
    click.echo(json.dumps(doc, indent=2) if as_json else report_text(doc))
