"""Item 6: no credentials and no personal paths in the output files (a byte search for planted secrets)."""

from __future__ import annotations

import sys

import pytest

from ndx_causal_emergence.pipeline.results import read_results
from ndx_causal_emergence.testing.dandi_server import DandiStandIn

from .conftest import invoke

SIGNATURE, TOKEN, PASSWORD, ENV_SECRET = "S1GNATURE5ecret", "T0KEN5ecret", "PA55W0RD5ecret", "ENV5ecretVALUE"
PERSONAL = "alice-private-project"


@pytest.fixture
def private_dir(tmp_path, monkeypatch, tiny_nwb, tiny_toml):
    """A home-like folder holding the input and the config; a secret planted in the environment."""
    monkeypatch.setenv("DANDI_API_KEY", ENV_SECRET)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", ENV_SECRET)
    monkeypatch.delenv("NDX_CE_RECORD_FULL_PATHS", raising=False)
    folder = tmp_path / "home" / PERSONAL
    folder.mkdir(parents=True)
    (folder / "in.nwb").write_bytes(tiny_nwb.read_bytes())
    (folder / "tiny.toml").write_text(tiny_toml.read_text())
    return folder


def _run(monkeypatch, *args):
    """``causal-emergence run ARGS`` with ``sys.argv`` as the console script sets it (provenance records it)."""
    argv = ["causal-emergence", "run", *map(str, args)]
    monkeypatch.setattr(sys, "argv", argv)
    return invoke(*argv[1:])


def _assert_clean(path):
    data = path.read_bytes()
    for secret in (SIGNATURE, TOKEN, PASSWORD, ENV_SECRET, PERSONAL):
        assert secret.encode() not in data, secret


def test_signed_url_credentials_are_not_recorded(private_dir, monkeypatch):
    out = private_dir / "streamed.nwb"
    with DandiStandIn() as server:
        asset = server.add_asset("000123", "sub-1/in.nwb", private_dir / "in.nwb")
        host = server.base_url.split("//", 1)[1]
        signed = (
            f"http://reader:{PASSWORD}@{host}{server.blob_url(asset).split(host, 1)[1]}"
            f"?X-Amz-Signature={SIGNATURE}&token={TOKEN}&versionId=7"
        )
        result = _run(
            monkeypatch,
            signed,
            "--out",
            out,
            "--config",
            private_dir / "tiny.toml",
            "--cache-dir",
            private_dir / "cache",
        )
    assert result.exit_code == 0, result.output
    _assert_clean(out)
    provenance = next(iter(read_results(out, load_models=False).conditions.values())).provenance
    assert "X-Amz-Signature=REDACTED" in provenance["command"] and "versionId=7" in provenance["command"]
    assert provenance["input_file"].endswith("?X-Amz-Signature=REDACTED&token=REDACTED&versionId=7")


def test_local_inputs_are_named_by_file_name_and_digest(private_dir, monkeypatch):
    import hashlib

    out = private_dir / "local.nwb"
    result = _run(monkeypatch, private_dir / "in.nwb", "--out", out, "--config", private_dir / "tiny.toml")
    assert result.exit_code == 0, result.output
    _assert_clean(out)
    provenance = next(iter(read_results(out, load_models=False).conditions.values())).provenance
    assert provenance["input_file"] == "in.nwb"
    assert provenance["input_identifier"] == "simulated-two-condition-0"
    digest = hashlib.sha256((private_dir / "in.nwb").read_bytes()).hexdigest()
    assert provenance["asset_digest"] == f"sha256:{digest}"
    assert provenance["digest_verification"] == "computed"  # taken from the bytes that were read
    assert provenance["command"] == "causal-emergence run in.nwb --out local.nwb --config tiny.toml"


def test_a_streamed_assets_digest_is_recorded_as_not_verified():
    from ndx_causal_emergence.data.recording import SourceInfo
    from ndx_causal_emergence.pipeline.provenance import provenance_fields

    source = SourceInfo(location="DANDI:000123/draft/sub-1/x.nwb", identifier="x", kind="dandi",
                        asset_digest="dandi:sha2-256:ab12")  # fmt: skip
    fields = provenance_fields(source=source, series_path="/acquisition/s", series_object_id="o", device="cpu",
                               start_time="t0", end_time="t1", command="causal-emergence run x")  # fmt: skip
    assert fields["asset_digest"] == "dandi:sha2-256:ab12"
    assert fields["digest_verification"] == "not verified"  # the archive's word; the whole file was not hashed


def test_full_paths_only_when_asked():
    from ndx_causal_emergence.safety.redact import redact_command

    command = "causal-emergence run /home/a/x.nwb --out=/home/a/o.nwb --path-glob sub-*/*.nwb https://u:p@h/f?sig=1"
    assert redact_command(command, full_paths=False) == (
        "causal-emergence run x.nwb --out=o.nwb --path-glob sub-*/*.nwb https://REDACTED@h/f?sig=REDACTED"
    )
    assert "/home/a/x.nwb --out=/home/a/o.nwb" in redact_command(command, full_paths=True)
