"""DANDI asset references: recognise them, parse them with the ``dandi`` client, resolve one asset.

Accepted forms (see :func:`is_dandi_reference`):

- ``DANDI:000123[/VERSION][/PATH]`` (the archive's citation form; the instance is the one
  named by ``$DANDI_INSTANCE``, default ``dandi``);
- ``dandi://INSTANCE/000123[@VERSION][/PATH]``;
- archive and API URLs as :func:`dandi.dandiarchive.parse_dandi_url` parses them
  (``https://dandiarchive.org/dandiset/000123/draft/files?location=...``,
  ``https://api.dandiarchive.org/api/assets/<asset id>/download/``,
  ``.../dandisets/000123/versions/<version>/assets/?path=...``).

Without a version the latest published version is used if there is one, else the draft (the
``dandi`` client's rule).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import SourceError

if TYPE_CHECKING:  # pragma: no cover
    from dandi.dandiapi import DandiAPIClient
    from dandi.dandiarchive import ParsedDandiURL

__all__ = ["ResolvedAsset", "is_dandi_reference", "parse_reference", "resolve_asset"]

_VERSION = r"draft|\d+\.\d{6}\.\d{4}"
_CITATION = re.compile(rf"^DANDI:(?P<id>\d{{6}})(?:/(?P<version>{_VERSION}))?(?:/(?P<path>.*))?$", re.IGNORECASE)
_ARCHIVE_URL = re.compile(
    r"^https?://[^/]+/(?:api/)?(?:"
    r"assets/[^/?]+(?:/download)?/?$"
    r"|dandisets/\d{6}(?:/.*)?$"
    r"|(?:#/)?dandiset/\d{6}(?:/.*)?$)"
    r"|^https?://identifiers\.org/DANDI:\d{6}",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class ResolvedAsset:
    """One DANDI asset and the URL its bytes are streamed from.

    Attributes
    ----------
    api_url : str
        API of the instance that served it.
    dandiset_id, version : str or None
        None when the asset was given by id alone.
    asset_id, path : str
    size : int
        Bytes.
    digest : str or None
        ``"dandi:sha2-256:<hex>"`` if the archive has it, else ``"dandi:dandi-etag:<etag>"``.
    url : str
        Download URL after redirects (the blob), query stripped.
    """

    api_url: str
    dandiset_id: str | None
    version: str | None
    asset_id: str
    path: str
    size: int
    digest: str | None
    url: str


def is_dandi_reference(text: str) -> bool:
    """Whether ``text`` is a DANDI reference (citation form, ``dandi://`` or an archive/API URL)."""
    return bool(_CITATION.match(text) or text.lower().startswith("dandi://") or _ARCHIVE_URL.match(text))


def parse_reference(text: str) -> ParsedDandiURL:
    """Parse a DANDI reference into the ``dandi`` client's ``ParsedDandiURL``.

    Raises
    ------
    SourceError
        The text is not a reference the client knows.
    """
    from dandi.dandiarchive import AssetFolderURL, AssetItemURL, DandisetURL, parse_dandi_url
    from dandi.exceptions import UnknownURLError
    from dandi.utils import get_instance

    match = _CITATION.match(text)
    try:
        if match:  # the client parses no asset path after DANDI:<id>/<version>, so build the object here
            instance = get_instance(os.environ.get("DANDI_INSTANCE", "dandi"))
            path = (match["path"] or "").lstrip("/")
            where = {"instance": instance, "dandiset_id": match["id"], "version_id": match["version"]}
            if not path:
                return DandisetURL(**where)
            return AssetFolderURL(**where, path=path) if path.endswith("/") else AssetItemURL(**where, path=path)
        return parse_dandi_url(text)
    except (UnknownURLError, KeyError, ValueError, RuntimeError) as exc:
        raise SourceError(
            f"{text!r} is not a DANDI reference the dandi client can resolve: {exc}".split("\n")[0]
        ) from exc


def resolve_asset(reference: str, *, client: DandiAPIClient | None = None) -> ResolvedAsset:
    """Resolve a reference to exactly one asset: ids, version, size, digest and download URL.

    Parameters
    ----------
    reference : str
        A DANDI reference naming one asset (a path or an asset id, not a whole Dandiset).
    client : dandi.dandiapi.DandiAPIClient, optional
        Client to use (default: an anonymous client of the reference's instance).

    Returns
    -------
    ResolvedAsset

    Raises
    ------
    SourceError
        Unknown reference, no such Dandiset / version / asset, several assets, unreachable API.
    """
    from dandi.dandiarchive import DandisetURL

    parsed = parse_reference(reference)
    if isinstance(parsed, DandisetURL):
        raise SourceError(
            f"{reference!r} names the whole Dandiset {parsed.dandiset_id}; add the asset path, e.g. "
            f"DANDI:{parsed.dandiset_id}/draft/sub-X/sub-X_ses-Y.nwb"
        )
    with api_errors(parsed.instance.api, f"DANDI asset not found for {reference!r}", f"for {reference!r}"):
        client = client or parsed.get_client()
        assets = _assets(parsed, client)
        if len(assets) != 1:
            shown = ", ".join(a.path for a in assets[:5]) or "none"
            raise SourceError(f"{reference!r} matches {len(assets)} assets ({shown}); name exactly one asset")
        asset = assets[0]
        url = asset.get_content_url(follow_redirects=1, strip_query=True)
        digest = _digest(asset)
    return ResolvedAsset(api_url=parsed.instance.api, **asset_fields(asset), digest=digest, url=url)


def asset_fields(asset: Any) -> dict[str, Any]:
    """``dandiset_id``, ``version``, ``asset_id``, ``path`` and ``size`` of a ``dandi`` client asset.

    ``dandiset_id`` and ``version`` are None for an asset given by id alone.
    """
    return {
        "dandiset_id": getattr(asset, "dandiset_id", None),
        "version": getattr(asset, "version_id", None),
        "asset_id": asset.identifier,
        "path": asset.path,
        "size": int(asset.size),
    }


@contextmanager
def api_errors(api_url: str, not_found: str, unreachable: str) -> Iterator[None]:
    """Turn the ``dandi`` client's not-found and connection errors inside the block into :class:`SourceError`.

    Parameters
    ----------
    api_url : str
        API of the instance, named in the connection error.
    not_found : str
        Start of the message for a missing Dandiset, version or asset (the client's reason follows).
    unreachable : str
        What the block was doing, after "cannot reach the DANDI API at <api_url>" (e.g. ``"to list 'X'"``).
    """
    import requests
    from dandi.exceptions import NotFoundError

    try:
        yield
    except NotFoundError as exc:
        raise SourceError(f"{not_found}: {exc}".split("\n")[0]) from exc
    except requests.RequestException as exc:
        raise SourceError(
            f"cannot reach the DANDI API at {api_url} {unreachable}: {type(exc).__name__}: {exc}"
        ) from exc


def _assets(parsed: ParsedDandiURL, client: DandiAPIClient) -> list[Any]:
    """The assets a reference names; a web-UI ``files?location=PATH`` naming a file counts as that file."""
    from dandi.dandiarchive import AssetFolderURL, AssetItemURL
    from dandi.exceptions import NotFoundError

    try:
        return list(parsed.get_assets(client, strict=True))
    except NotFoundError:
        if not isinstance(parsed, AssetFolderURL):
            raise
        item = AssetItemURL(
            instance=parsed.instance,
            dandiset_id=parsed.dandiset_id,
            version_id=parsed.version_id,
            path=parsed.path.rstrip("/"),
        )
        return list(item.get_assets(client, strict=True))


def _digest(asset: Any) -> str | None:
    from dandi.exceptions import NotFoundError

    for kind in ("dandi:sha2-256", "dandi:dandi-etag"):
        try:
            return f"{kind}:{asset.get_raw_digest(kind)}"
        except NotFoundError:
            continue
    return None
