"""Provenance of an analysis: software, environment, input and times."""

from __future__ import annotations

import hashlib
import json
import platform
import sys
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

SOURCE_URL = "https://github.com/ndx-causal-emergence/ndx-causal-emergence"


def now_iso() -> str:
    """The current time in ISO 8601 with time zone."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def _version(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


def environment(device: str, runtime: dict[str, Any] | None = None) -> dict[str, Any]:
    """Versions of Python and the libraries that shape the result, the platform and the device.

    ``runtime`` (:meth:`~ndx_causal_emergence.runtime.job.JobRuntime.record`: threads, phase
    timings, fit estimates, time budget) is stored under the key ``"runtime"``.
    """
    env: dict[str, Any] = {"python": platform.python_version(), "platform": platform.platform(), "device": device}
    for name in ("torch", "pynwb", "hdmf", "numpy", "h5py", "pandas", "dandi", "remfile"):
        env[name] = _version(name)
    if runtime is not None:
        env["runtime"] = runtime
    return env


def command_line() -> str:
    """The command that runs this process (``sys.argv``), as one line."""
    return " ".join(sys.argv) if sys.argv and sys.argv[0] else "python"


def provenance_fields(
    *,
    source: Any,
    series_path: str,
    series_object_id: str,
    device: str,
    start_time: str,
    end_time: str,
    command: str | None = None,
    runtime: dict[str, Any] | None = None,
) -> dict[str, str]:
    """The ``AnalysisProvenance`` fields for one analysis; ``source`` is a ``SourceInfo``.

    ``runtime`` (threads, phase timings, fit estimates, time budget) goes into ``environment``.

    Nothing secret or personal is recorded: credentials in URLs are masked, and a local input is
    named by its file name (full path only with ``--record-full-paths``), its NWB identifier and
    its SHA-256 digest (``asset_digest = "sha256:<hex>"``); see :mod:`..safety.redact`.
    ``digest_verification`` says whether that digest was computed from the bytes read
    (``"computed"``, local files) or is the archive's, not recomputed (``"not verified"``,
    streamed assets, whose blocks are each checked against their own checksums).
    """
    from .. import __version__
    from ..safety.redact import full_paths_requested, redact_command, redact_url

    local = getattr(source, "kind", None) == "local"
    location = str(source.location)
    fields = {
        "package_name": "ndx-causal-emergence",
        "package_version": __version__,
        "source_url": SOURCE_URL,
        "command": redact_command(command or command_line()),
        "environment": json.dumps(environment(device, runtime), sort_keys=True),
        "device": device,
        "start_time": start_time,
        "end_time": end_time,
        "input_file": (location if full_paths_requested() else Path(location).name) if local else redact_url(location),
        "input_identifier": str(source.identifier),
        "input_object_id": series_object_id,
        "input_path": series_path,
    }
    for key in ("dandiset_id", "dandiset_version", "asset_id", "asset_path", "asset_digest"):
        value = getattr(source, key, None)
        if value:
            fields[key] = str(value)
    if local and Path(location).is_file():
        fields["asset_digest"] = f"sha256:{file_sha256(Path(location))}"
        fields["digest_verification"] = "computed"
    elif "asset_digest" in fields:
        fields["digest_verification"] = "not verified"
    return fields


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file's bytes, in hex."""
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()
