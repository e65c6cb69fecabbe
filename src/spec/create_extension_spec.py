"""Generate the ``ndx-causal-emergence`` schema (the YAML in ``spec/``).

This script is the single source of the extension's schema, as in
``nwb-extensions/ndx-template`` and ``rly/ndx-pose``: edit it, run
``python src/spec/create_extension_spec.py`` and commit the regenerated YAML.
Never edit the YAML by hand. The version below must equal the package version in
``pyproject.toml`` (a test checks it).
"""

from __future__ import annotations

import os.path

from pynwb.spec import (
    NWBAttributeSpec,
    NWBDatasetSpec,
    NWBGroupSpec,
    NWBLinkSpec,
    NWBNamespaceBuilder,
    export_spec,
)

NAME = "ndx-causal-emergence"
VERSION = "0.1.0"
CORE_TYPES = (
    "NWBData",
    "NWBContainer",
    "NWBDataInterface",
    "TimeSeries",
    "VectorData",
    "VectorIndex",
    "DynamicTableRegion",
    "DynamicTable",
    "EventsTable",
)


def _column(name: str, doc: str, dtype: str, *, required: bool = True, ragged: bool = False) -> list:
    """A DynamicTable column (plus its VectorIndex when ``ragged``)."""
    quantity = 1 if required else "?"
    specs = [
        NWBDatasetSpec(
            name=name,
            neurodata_type_inc="VectorData",
            doc=doc,
            dtype=dtype,
            dims=["num_values"],
            shape=[None],
            quantity=quantity,
        )
    ]
    if ragged:
        specs.append(
            NWBDatasetSpec(
                name=f"{name}_index",
                neurodata_type_inc="VectorIndex",
                doc=f"Index into the ragged column '{name}'.",
                dims=["num_rows"],
                shape=[None],
                quantity=quantity,
            )
        )
    return specs


def _text(name: str, doc: str, *, required: bool = True) -> NWBAttributeSpec:
    return NWBAttributeSpec(name=name, doc=doc, dtype="text", required=required)


def macro_variable_series() -> NWBGroupSpec:
    return NWBGroupSpec(
        neurodata_type_def="MacroVariableSeries",
        neurodata_type_inc="TimeSeries",
        doc=(
            "Learned macro variables of one scale of a multiscale causal-emergence model, "
            "time x variables. Scale 0 is the micro level in latent coordinates (all input "
            "channels), higher scales are coarser. Values are in the normalised latent "
            "coordinates in which the measures were taken (the 1st and 99th percentiles of the "
            "encoded training block map to -1 and +1), so 'unit' is 'a.u.'. Timestamps are "
            "those of the input series (linked where possible)."
        ),
        datasets=[
            NWBDatasetSpec(
                name="data",
                doc="Macro variables, one column per variable of this scale.",
                dtype="float32",
                dims=["num_times", "num_variables"],
                shape=[None, None],
                attributes=[
                    NWBAttributeSpec(
                        name="unit",
                        doc="Unit of the values: 'a.u.' (normalised latent coordinates).",
                        dtype="text",
                        default_value="a.u.",
                        required=False,
                    )
                ],
            )
        ],
        attributes=[
            NWBAttributeSpec(name="scale", doc="Index of the scale (0 = micro level).", dtype="int32"),
            NWBAttributeSpec(name="dimension", doc="Number of macro variables of this scale.", dtype="int32"),
        ],
        links=[
            NWBLinkSpec(
                name="source_series",
                target_type="TimeSeries",
                doc="The input series the macro variables were computed from.",
                quantity="?",
            )
        ],
    )


def model_parameter() -> NWBDatasetSpec:
    return NWBDatasetSpec(
        neurodata_type_def="ModelParameter",
        neurodata_type_inc="NWBData",
        doc=(
            "One parameter tensor of a learned model, named by its key in the model's state "
            "dictionary. Zero-dimensional tensors are stored with shape (1,). Float32, except "
            "statistics fitted in float64 (centres, scales, axes, variances, the preprocessing), "
            "stored as float64 so that a rebuilt model reproduces the fitted one exactly."
        ),
        dtype="float32",
        dims=[["d0"], ["d0", "d1"], ["d0", "d1", "d2"], ["d0", "d1", "d2", "d3"]],
        shape=[[None], [None, None], [None, None, None], [None, None, None, None]],
        quantity="*",
    )


def learned_dynamics_model() -> NWBGroupSpec:
    return NWBGroupSpec(
        neurodata_type_def="LearnedDynamicsModel",
        neurodata_type_inc="NWBDataInterface",
        doc=(
            "A learned model stored as plain data: its architecture and hyperparameters as JSON "
            "and one ModelParameter dataset per parameter tensor, so that it can be rebuilt and "
            "re-run from the file alone, without pickles."
        ),
        attributes=[
            _text("description", "What the model is and what it was fitted on."),
            _text("model_class", "Fully qualified class name of the model in ndx_causal_emergence."),
            _text("architecture", "JSON: constructor arguments and fitted non-tensor state."),
            _text("framework", "Deep-learning framework (e.g. 'torch')."),
            _text("framework_version", "Version of the framework used for training."),
        ],
        datasets=[model_parameter()],
    )


def emergence_table() -> NWBGroupSpec:
    cols = []
    float_cols = {
        "effective_information": "Effective information EI_L(F) of the scale's dynamics, in nats.",
        "dimension_averaged_ei": "Dimension-averaged effective information J = EI / q, in nats.",
        "noise_term": "Noise term of EI, -(q/2)(1 + ln 2 pi) - 1/2 sum ln sigma_i^2, in nats.",
        "jacobian_term": "Jacobian term of EI, q ln 2L + E ln|det dF/dy|, in nats.",
        "causal_emergence": "Causal emergence Delta J = J(scale) - J(scale 0), in nats.",
        "causal_power": "Causal power share p_k of the scale (sums to 1 over scales).",
        "nmse": "One-step normalised mean squared error of the decoded prediction on the test block.",
    }
    cols += _column("scale", "Index of the scale (0 = micro level).", "int32")
    cols += _column("dimension", "Number of macro variables q of the scale.", "int32")
    for name, doc in float_cols.items():
        cols += _column(name, doc, "float64")
    optional = {
        "causal_emergence_observed": (
            "Delta J against an observed-space micro reference (residual MLP fitted on the channels), nats."
        ),
        "nmse_persistence": "NMSE of the persistence baseline x_{t+1} = x_t on the same block.",
        "fraction_in_box": "Fraction of held-out points inside the intervention box [-L, L]^q.",
        "latent_nmse": (
            "One-step squared error of the scale's map on its own latents (test block), over their variance "
            "(summed over the latent directions in latent units)."
        ),
        "latent_nmse_persistence": "The same for the persistence baseline y_{t+1} = y_t.",
        "dimension_averaged_ei_sd": "Standard deviation of J over seeds, in nats.",
        "dimension_averaged_ei_ci_low": (
            "Lower bound of the 95 % interval of J (moving-block bootstrap of the test block, pooled over seeds), nats."
        ),
        "dimension_averaged_ei_ci_high": "Upper bound of that 95 % interval of J, in nats.",
        "causal_emergence_sd": "Standard deviation of Delta J over seeds, in nats.",
        "causal_emergence_ci_low": (
            "Lower bound of the 95 % interval of Delta J (moving-block bootstrap of the test block, pooled over "
            "seeds), in nats."
        ),
        "causal_emergence_ci_high": "Upper bound of that 95 % interval of Delta J, in nats.",
        "causal_emergence_p_value": "One-sided bootstrap p-value of Delta J > 0 (NaN at scale 0).",
        "causal_emergence_p_holm": "The p-value adjusted by Holm's method over the macro scales.",
        "causal_emergence_surrogate_p_value": "P-value of Delta J against refits on circularly shifted channels.",
        "coverage": (
            "Coverage C_d of the scale's attribution: the participation ratio of the channels' importance shares "
            "over the number of channels N, 1 / (N sum_c p_c^2); 1 when all channels contribute equally, 1/N when "
            "one carries everything (NaN where the scale was not attributed)."
        ),
        "coverage_top_fraction": "Fraction of the channels that hold 80 % of the scale's importance (the fewest).",
        "coverage_extent": (
            "Importance-weighted radius of gyration of the centroids of the ROI masks of those channels, in the "
            "masks' pixel (or voxel) units; NaN where the ROI table has no masks."
        ),
    }
    for name, doc in optional.items():
        cols += _column(name, doc, "float64", required=False)
    flags = {
        "fit_ok": (
            "Whether the scale's map beats both persistence and the mean on the test block; J and Delta J of a "
            "scale that does not (or whose micro level does not) cannot be interpreted."
        ),
        "significant": "Whether Delta J > 0 is significant: fit_ok here and at scale 0, Holm-adjusted p < alpha.",
    }
    for name, doc in flags.items():
        cols += _column(name, doc, "bool", required=False)
    return NWBGroupSpec(
        neurodata_type_def="EmergenceTable",
        neurodata_type_inc="DynamicTable",
        doc=(
            "Effective information and causal emergence per scale, one row per scale ordered from "
            "micro (scale 0) to macro. All information quantities are in nats (natural logarithms)."
        ),
        default_name="emergence",
        datasets=cols,
    )


def condition_comparison_table() -> NWBGroupSpec:
    cols = []
    cols += _column("other_condition", "The condition this analysis is compared with.", "text")
    cols += _column("other_analysis", "Name of that condition's CausalEmergenceAnalysis in the same module.", "text")
    cols += _column("scale", "Index of the scale in this analysis.", "int32")
    cols += _column("dimension", "Number of macro variables of the scale (the same in both analyses).", "int32")
    cols += _column("measure", "'J' (dimension-averaged EI) or 'delta_J' (causal emergence against scale 0).", "text")
    cols += _column("difference", "This condition's value minus the other's, in nats.", "float64")
    cols += _column("ci_low", "Lower bound of the 95 % bootstrap interval of the difference, in nats.", "float64")
    cols += _column("ci_high", "Upper bound of the 95 % bootstrap interval of the difference, in nats.", "float64")
    cols += _column("p_value", "Two-sided permutation p-value (condition labels permuted over test blocks).", "float64")
    cols += _column("significant", "p_value < alpha and both conditions' maps pass the fit-quality gate.", "bool")
    return NWBGroupSpec(
        neurodata_type_def="ConditionComparisonTable",
        neurodata_type_inc="DynamicTable",
        doc=(
            "Differences of J and Delta J per scale between this analysis's condition and each other condition "
            "analysed from the same series, one row per other condition, scale and measure."
        ),
        default_name="comparisons",
        datasets=cols,
    )


def fixed_point_table() -> NWBGroupSpec:
    cols = []
    cols += _column("scale", "Index of the scale whose macro dynamics the point belongs to.", "int32")
    cols += _column(
        "location", "Coordinates of the fixed point (normalised latent coordinates).", "float64", ragged=True
    )
    cols += _column("eigenvalues_real", "Real parts of the eigenvalues of dF/dy at the point.", "float64", ragged=True)
    cols += _column(
        "eigenvalues_imag", "Imaginary parts of the eigenvalues of dF/dy at the point.", "float64", ragged=True
    )
    cols += _column("stability", "'stable' (all |lambda| < 1), 'unstable' (all > 1) or 'saddle'.", "text")
    cols += _column("in_support", "Whether the point lies inside the support of the encoded data.", "bool")
    cols += _column(
        "source",
        "'model' (root of the learned map) or 'empirical' (root of the smoothed empirical drift).",
        "text",
        required=False,
    )
    cols += _column(
        "agrees",
        "1 if the other source has a point of the same scale and stability within the agreement tolerance, "
        "0 if not, NaN where the other source was not searched (the empirical drift is searched on 1-D scales).",
        "float64",
        required=False,
    )
    return NWBGroupSpec(
        neurodata_type_def="FixedPointTable",
        neurodata_type_inc="DynamicTable",
        doc="Fixed points of the learned macro dynamics F_k, one row per point.",
        default_name="fixed_points",
        datasets=cols,
    )


def attribution_table() -> NWBGroupSpec:
    cols = []
    cols += _column("scale", "Index of the scale.", "int32")
    cols += _column("channel", "Column of the input series (0-based).", "int32")
    cols += [
        NWBDatasetSpec(
            name="roi",
            neurodata_type_inc="DynamicTableRegion",
            doc="The input channel's row in the PlaneSegmentation or Units table, where one exists.",
            dims=["num_rows"],
            shape=[None],
            quantity="?",
        )
    ]
    cols += _column("importance", "Share of the scale's total absolute attribution carried by the channel.", "float64")
    cols += _column(
        "attribution",
        "Integrated-gradient attribution of each macro variable of the scale to the channel.",
        "float64",
        ragged=True,
    )
    return NWBGroupSpec(
        neurodata_type_def="AttributionTable",
        neurodata_type_inc="DynamicTable",
        doc=(
            "Attribution of the macro variables of each scale to the input channels (integrated "
            "gradients of y^(k) with respect to x, averaged over data), one row per scale and channel."
        ),
        default_name="attribution",
        datasets=cols,
    )


def analysis_provenance() -> NWBGroupSpec:
    req = {
        "package_name": "Name of the package that produced the analysis.",
        "package_version": "Version of that package.",
        "source_url": "URL of the package's source code.",
        "command": "The command line or Python call that produced the analysis.",
        "environment": "JSON: Python, torch, pynwb, hdmf and numpy versions, platform and device.",
        "device": "Compute device the models were trained on ('cpu', 'cuda:0', ...).",
        "start_time": "ISO 8601 time the analysis started.",
        "end_time": "ISO 8601 time the analysis ended.",
        "input_file": "Path or URL of the input file.",
        "input_identifier": "The 'identifier' of the input NWB file.",
        "input_object_id": "object_id of the input series.",
        "input_path": "Path of the input series inside the input file.",
    }
    opt = {
        "dandiset_id": "DANDI dandiset identifier of the input asset.",
        "dandiset_version": "Version of the dandiset.",
        "asset_id": "DANDI asset identifier.",
        "asset_path": "Path of the asset inside the dandiset.",
        "asset_digest": "Digest of the asset (e.g. 'dandi:dandi-etag:<value>').",
        "digest_verification": (
            "Whether asset_digest was checked against the bytes analysed: 'computed' (the SHA-256 of the local "
            "file read) or 'not verified' (a streamed asset: the archive's digest as the archive gives it; each "
            "streamed block is checked against a SHA-256 recorded when it was fetched, the whole file is not)."
        ),
        "model_file": "AppliedModelAnalysis: name (or URL) of the file holding the learned model applied.",
        "model_digest": "AppliedModelAnalysis: 'sha256:<hex>' of model_file.",
        "model_analysis": "AppliedModelAnalysis: name of the CausalEmergenceAnalysis holding the model.",
        "model_name": "AppliedModelAnalysis: name of the LearnedDynamicsModel applied.",
        "model_object_id": "AppliedModelAnalysis: object_id of the LearnedDynamicsModel applied.",
    }
    attrs = [_text(k, v) for k, v in req.items()] + [_text(k, v, required=False) for k, v in opt.items()]
    return NWBGroupSpec(
        neurodata_type_def="AnalysisProvenance",
        neurodata_type_inc="NWBContainer",
        doc="How a causal-emergence analysis was made: software, environment, input and times.",
        default_name="provenance",
        attributes=attrs,
    )


def causal_emergence_analysis() -> NWBGroupSpec:
    return NWBGroupSpec(
        neurodata_type_def="CausalEmergenceAnalysis",
        neurodata_type_inc="NWBDataInterface",
        doc=(
            "One fitted multiscale causal-emergence analysis (one per recording and condition): "
            "parameters, macro variables, learned models, emergence, fixed points, attribution, "
            "metastable-state transitions and provenance."
        ),
        attributes=[
            _text("condition", "Condition label the analysis was fitted on (e.g. 'awake'); 'all' if none."),
            _text("method", "Method name and version, e.g. 'multiscale NIS+ (ndx-causal-emergence 0.1.0)'."),
            _text("parameters", "JSON: every parameter of the analysis."),
            NWBAttributeSpec(
                name="emergent_complexity", doc="Emergent complexity -sum p_k log2 p_k, in bits.", dtype="float64"
            ),
            NWBAttributeSpec(
                name="emergent_complexity_normalized",
                doc="Emergent complexity divided by log2 of the number of scales.",
                dtype="float64",
            ),
        ],
        datasets=[
            NWBDatasetSpec(
                name="intervals",
                doc="Time intervals (start, stop) in seconds of the frames used for the analysis.",
                dtype="float64",
                dims=["num_intervals", "start_stop"],
                shape=[None, 2],
            ),
            NWBDatasetSpec(
                name="seeds",
                doc="Random seeds of the fits (one per repetition).",
                dtype="int64",
                dims=["num_seeds"],
                shape=[None],
            ),
        ],
        groups=[
            NWBGroupSpec(neurodata_type_inc="MacroVariableSeries", doc="Macro variables, one per scale.", quantity="*"),
            NWBGroupSpec(neurodata_type_inc="LearnedDynamicsModel", doc="The learned models.", quantity="*"),
            NWBGroupSpec(neurodata_type_inc="EmergenceTable", doc="EI and emergence per scale.", quantity=1),
            NWBGroupSpec(neurodata_type_inc="FixedPointTable", doc="Fixed points of the macro dynamics.", quantity="?"),
            NWBGroupSpec(
                neurodata_type_inc="ConditionComparisonTable",
                doc="Differences from the other conditions of the same series.",
                quantity="?",
            ),
            NWBGroupSpec(neurodata_type_inc="AttributionTable", doc="Attribution to the input channels.", quantity="?"),
            NWBGroupSpec(
                name="state_transitions",
                neurodata_type_inc="EventsTable",
                doc="Transitions between metastable states of the top-scale trajectory.",
                quantity="?",
            ),
            NWBGroupSpec(
                name="diagnostics",
                neurodata_type_inc="DynamicTable",
                doc=(
                    "Diagnostics of the macro dynamics, one row per scale: scale, dimension, noise_to_drift_ratio, "
                    "occupied_extent, occupancy_entropy, autocorrelation_time (s), n_fixed_points_<source> and "
                    "n_stable_<source> (source 'model' or 'empirical'; NaN where not searched)."
                ),
                quantity="?",
            ),
            NWBGroupSpec(
                name="dropped_channels",
                neurodata_type_inc="DynamicTable",
                doc=(
                    "Input channels left out of the analysis, one row each: 'channel' (its ROI, unit or "
                    "column id) and 'reason' (e.g. 'constant on the training block')."
                ),
                quantity="?",
            ),
            NWBGroupSpec(neurodata_type_inc="AnalysisProvenance", doc="Provenance of the analysis.", quantity=1),
        ],
    )


def applied_model_analysis() -> NWBGroupSpec:
    return NWBGroupSpec(
        neurodata_type_def="AppliedModelAnalysis",
        neurodata_type_inc="NWBDataInterface",
        doc=(
            "Macro variables of a recording under a learned model fitted on another recording or "
            "condition (not refitted): the raw frames mapped through the model's stored "
            "preprocessing and encoders. The provenance names the file, analysis and model applied."
        ),
        attributes=[_text("model_condition", "Condition label the applied model was fitted on (e.g. 'awake').")],
        groups=[
            NWBGroupSpec(neurodata_type_inc="MacroVariableSeries", doc="Macro variables, one per scale.", quantity="*"),
            NWBGroupSpec(
                neurodata_type_inc="AnalysisProvenance",
                doc="Provenance, with the model applied (model_file, model_analysis, model_name).",
                quantity=1,
            ),
        ],
    )


def main() -> None:
    """Write ``spec/ndx-causal-emergence.{namespace,extensions}.yaml``."""
    ns_builder = NWBNamespaceBuilder(
        name=NAME,
        version=VERSION,
        doc=(
            "Results of multiscale causal-emergence analyses (multiscale NIS+) of neural time "
            "series: macro variables, learned dynamics models, effective information and causal "
            "emergence per scale, fixed points, attribution and provenance."
        ),
        author=["ndx-causal-emergence developers"],
        contact=["ndx-causal-emergence@users.noreply.github.com"],
    )
    # Include only the core types the extension builds on (their dependencies follow):
    # loading a namespace re-resolves every included type, and the whole of core costs
    # about half a second at ``import ndx_causal_emergence``.
    for core_type in CORE_TYPES:
        ns_builder.include_type(core_type, namespace="core")
    new_types = [
        macro_variable_series(),
        model_parameter(),
        learned_dynamics_model(),
        emergence_table(),
        condition_comparison_table(),
        fixed_point_table(),
        attribution_table(),
        analysis_provenance(),
        causal_emergence_analysis(),
        applied_model_analysis(),
    ]
    output_dir = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "spec"))
    export_spec(ns_builder, new_types, output_dir)


if __name__ == "__main__":
    main()
