"""Legacy ndx-events objects (0.2 layout) read through the file's cached spec, never importing ndx_events."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from ndx_causal_emergence.nwb.discover import list_condition_tables
from ndx_causal_emergence.nwb.read import open_nwb, read_recording

# Writes, in a separate process, a file holding ndx-events 0.2-style LabeledEvents and
# AnnotatedEventsTable objects: the namespace is rebuilt from its published schema (types,
# fields, dtypes) into a temporary folder, loaded into a private type map, and cached in the file.
WRITER = textwrap.dedent("""
    import sys
    from pathlib import Path
    import numpy as np
    from hdmf.build import BuildManager
    from pynwb import NWBHDF5IO, get_type_map
    from pynwb.spec import NWBAttributeSpec as AttributeSpec, NWBDatasetSpec as DatasetSpec
    from pynwb.spec import NWBGroupSpec as GroupSpec, NWBNamespaceBuilder, export_spec
    sys.path.insert(0, sys.argv[3])
    from tests.unit.nwb.read_helpers import ophys_file

    folder, out = Path(sys.argv[1]), sys.argv[2]
    builder = NWBNamespaceBuilder(doc="legacy events", name="ndx-events", version="0.2.0", author=["x"],
                                  contact=["x@example.org"])
    builder.include_type("NWBDataInterface", namespace="core")
    builder.include_type("DynamicTable", namespace="core")
    builder.include_type("VectorData", namespace="core")
    builder.include_type("VectorIndex", namespace="core")
    resolution = AttributeSpec(name="resolution", dtype="float32", doc="resolution", required=False)
    events = GroupSpec(neurodata_type_def="Events", neurodata_type_inc="NWBDataInterface", doc="event times",
        attributes=[AttributeSpec(name="description", dtype="text", doc="description")],
        datasets=[DatasetSpec(name="timestamps", dtype="float32", dims=["num_events"], shape=[None],
                              doc="event times (s)", attributes=[
                                  AttributeSpec(name="unit", dtype="text", value="seconds", doc="unit"),
                                  resolution])])
    labeled = GroupSpec(neurodata_type_def="LabeledEvents", neurodata_type_inc="Events", doc="labelled events",
        attributes=[AttributeSpec(name="labels", dtype="text", dims=["num_labels"], shape=[None], doc="labels")],
        datasets=[DatasetSpec(name="data", dtype="uint8", dims=["num_events"], shape=[None], doc="label index")])
    annotated = GroupSpec(neurodata_type_def="AnnotatedEventsTable", neurodata_type_inc="DynamicTable",
        doc="event times per event type", attributes=[resolution],
        datasets=[DatasetSpec(name="event_times", neurodata_type_inc="VectorData", dtype="float32", doc="times"),
                  DatasetSpec(name="event_times_index", neurodata_type_inc="VectorIndex", doc="index"),
                  DatasetSpec(name="label", neurodata_type_inc="VectorData", dtype="text", doc="label"),
                  DatasetSpec(name="event_description", neurodata_type_inc="VectorData", dtype="text",
                              doc="description")])
    export_spec(builder, [events, labeled, annotated], str(folder))
    type_map = get_type_map()
    type_map.load_namespaces(str(folder / "ndx-events.namespace.yaml"))
    LabeledEvents = type_map.get_dt_container_cls("LabeledEvents", "ndx-events")
    Annotated = type_map.get_dt_container_cls("AnnotatedEventsTable", "ndx-events")
    nwbfile = ophys_file()
    nwbfile.add_acquisition(LabeledEvents(name="stages", description="stage starts",
        timestamps=np.array([5.0, 20.0, 40.0], dtype=np.float32), data=np.array([0, 1, 2], dtype=np.uint8),
        labels=["awake", "anesthesia", "recovery"]))
    table = Annotated(name="annotated_stages", description="stage starts by type")
    table.add_row(label="awake", event_description="awake", event_times=[5.0])
    table.add_row(label="anesthesia", event_description="iso", event_times=[20.0])
    table.add_row(label="recovery", event_description="off", event_times=[40.0])
    nwbfile.add_acquisition(table)
    with NWBHDF5IO(out, "w", manager=BuildManager(type_map)) as io:
        io.write(nwbfile)
""")


@pytest.fixture(scope="module")
def legacy_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("legacy")
    out = folder / "legacy.nwb"
    repo = Path(__file__).resolve().parents[3]
    result = subprocess.run(
        [sys.executable, "-c", WRITER, str(folder), str(out), str(repo)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return out


def expected(times: np.ndarray) -> np.ndarray:
    return np.where(times < 5, None, np.where(times < 20, "awake", np.where(times < 40, "anesthesia", "recovery")))


@pytest.mark.parametrize("name", ["stages", "annotated_stages"])
def test_legacy_events_mark_condition_starts(legacy_path: Path, name: str) -> None:
    assert "ndx_events" not in sys.modules
    with open_nwb(legacy_path) as opened:
        table = list_condition_tables(opened.nwbfile).set_index("name")
    assert table.loc[name, "kind"] == "legacy-events"
    rec = read_recording(legacy_path, conditions=name)
    np.testing.assert_array_equal(rec.labels, expected(rec.timestamps).astype(object))
    assert rec.conditions() == ["awake", "anesthesia", "recovery"]
    assert "ndx_events" not in sys.modules
