"""Provenance of an analysis: software, environment, input and times."""

from __future__ import annotations

import json
import platform
import sys
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
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


def environment(device: str) -> dict[str, str]:
    """Versions of Python and the libraries that shape the result, the platform and the device."""
    env = {"python": platform.python_version(), "platform": platform.platform(), "device": device}
    for name in ("torch", "pynwb", "hdmf", "numpy", "h5py", "pandas", "dandi", "remfile"):
        env[name] = _version(name)
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
) -> dict[str, str]:
    """The ``AnalysisProvenance`` fields for one analysis; ``source`` is a ``SourceInfo``."""
    from .. import __version__

    fields = {
        "package_name": "ndx-causal-emergence",
        "package_version": __version__,
        "source_url": SOURCE_URL,
        "command": command or command_line(),
        "environment": json.dumps(environment(device), sort_keys=True),
        "device": device,
        "start_time": start_time,
        "end_time": end_time,
        "input_file": str(source.location),
        "input_identifier": str(source.identifier),
        "input_object_id": series_object_id,
        "input_path": series_path,
    }
    for key in ("dandiset_id", "dandiset_version", "asset_id", "asset_path", "asset_digest"):
        value = getattr(source, key, None)
        if value:
            fields[key] = str(value)
    return fields
