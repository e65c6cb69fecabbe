"""List the assets of a Dandiset (a version, or a folder of it) whose paths match a glob, with the ``dandi`` client.

The listing pins the version: a reference without one resolves (once) to the latest published
version, else the draft, and every asset found carries that version. Each asset gets a
reference that names its instance, Dandiset, version and asset id (the API download URL), so a
process that never saw ``$DANDI_INSTANCE`` or the client's instance table (a Dask worker on
another machine) opens exactly the same bytes.

Globs match the whole asset path, segment by segment: ``*``, ``?`` and ``[...]`` never cross a
``/``, and a ``**`` segment matches any number of folders (``sub-*/*.nwb``, ``**/*_ecephys.nwb``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from dandi.dandiapi import DandiAPIClient

__all__ = ["DEFAULT_GLOB", "DandisetAsset", "list_assets", "match_glob"]

#: Assets listed when no glob is given: every NWB HDF5 file (``.nwb``; NWB Zarr is not readable here).
DEFAULT_GLOB = "**/*.nwb"
_MAGIC = re.compile(r"[*?\[]")


@dataclass(frozen=True)
class DandisetAsset:
    """One asset of a pinned Dandiset version.

    Attributes
    ----------
    instance : str
        Name of the DANDI instance (``"dandi"`` for the main archive).
    api_url : str
        API of the instance.
    dandiset_id, version : str or None
        None for an asset given by id alone (no Dandiset named).
    asset_id, path : str
    size : int
        Bytes.
    """

    instance: str
    api_url: str
    dandiset_id: str | None
    version: str | None
    asset_id: str
    path: str
    size: int

    @property
    def reference(self) -> str:
        """The asset's API download URL: a DANDI reference that names everything needed to resolve it."""
        api = self.api_url.rstrip("/")
        if self.dandiset_id is None:  # an asset given by id alone
            return f"{api}/assets/{self.asset_id}/download/"
        return f"{api}/dandisets/{self.dandiset_id}/versions/{self.version}/assets/{self.asset_id}/download/"

    @property
    def label(self) -> str:
        """Readable reference: ``DANDI:<id>/<version>/<path>`` (``dandi://<instance>/<id>@<version>/<path>``
        for instances other than the main archive; the download URL for an asset given by id alone)."""
        if self.dandiset_id is None:
            return self.reference
        if self.instance == "dandi":
            return f"DANDI:{self.dandiset_id}/{self.version}/{self.path}"
        return f"dandi://{self.instance}/{self.dandiset_id}@{self.version}/{self.path}"


def match_glob(path: str, pattern: str) -> bool:
    """Whether a ``/``-separated ``path`` matches ``pattern`` (segment-wise; ``**`` matches any folders).

    Examples
    --------
    >>> match_glob("sub-1/sub-1_ses-2.nwb", "sub-*/*.nwb")
    True
    >>> match_glob("derivatives/sub-1/x.nwb", "sub-*/*.nwb")
    False
    >>> match_glob("derivatives/sub-1/x.nwb", "**/*.nwb")
    True
    """
    return _match(path.strip("/").split("/"), pattern.strip("/").split("/"))


def _match(parts: list[str], patterns: list[str]) -> bool:
    if not patterns:
        return not parts
    if patterns[0] == "**":
        return any(_match(parts[i:], patterns[1:]) for i in range(len(parts) + 1))
    return bool(parts) and fnmatchcase(parts[0], patterns[0]) and _match(parts[1:], patterns[1:])


def _literal_prefix(pattern: str) -> str:
    """The part of ``pattern`` before its first glob character (the server filters paths by this prefix)."""
    pattern = pattern.strip("/")
    magic = _MAGIC.search(pattern)
    return pattern[: magic.start()] if magic else pattern


def list_assets(
    reference: str, *, path_glob: str | None = None, client: DandiAPIClient | None = None
) -> list[DandisetAsset]:
    """The assets a DANDI reference names, filtered by a glob on their paths, sorted by path.

    Parameters
    ----------
    reference : str
        A Dandiset (``DANDI:000123[/VERSION]``, ``dandi://INSTANCE/000123[@VERSION]``, archive or
        API URL), a folder of one (a path ending in ``/``) or one asset.
    path_glob : str, optional
        Glob on the asset path from the Dandiset root (e.g. ``sub-*/*.nwb``). Default
        :data:`DEFAULT_GLOB` for a Dandiset or folder; a reference to one asset is kept as is
        unless a glob is given.
    client : dandi.dandiapi.DandiAPIClient, optional
        Client to list with (default: an anonymous client of the reference's instance).

    Returns
    -------
    list of DandisetAsset

    Raises
    ------
    SourceError
        Not a DANDI reference, no such Dandiset / version / asset, or the API cannot be reached.
    """
    from dandi.dandiarchive import AssetFolderURL, DandisetURL

    from .refs import api_errors, asset_fields, parse_reference

    parsed = parse_reference(reference)
    whole = isinstance(parsed, DandisetURL | AssetFolderURL)
    pattern = path_glob or (DEFAULT_GLOB if whole else None)
    with api_errors(parsed.instance.api, f"nothing found on DANDI for {reference!r}", f"to list {reference!r}"):
        client = client or parsed.get_client()
        if whole:
            dandiset = parsed.get_dandiset(client, lazy=False)
            prefix = _literal_prefix(pattern)
            if isinstance(parsed, AssetFolderURL) and not prefix.startswith(parsed.path):
                prefix = parsed.path
            assets = list(dandiset.get_assets_with_path_prefix(prefix, order="path"))
        else:
            assets = list(parsed.get_assets(client, strict=True))
    if isinstance(parsed, AssetFolderURL):
        assets = [a for a in assets if a.path.startswith(parsed.path)]
    if pattern:
        assets = [a for a in assets if match_glob(a.path, pattern)]
    return [
        DandisetAsset(instance=parsed.instance.name, api_url=parsed.instance.api, **asset_fields(a))
        for a in sorted(assets, key=lambda a: a.path)
    ]
