"""Stream remote HDF5 files with remfile: persistent disk cache, retries, no silent truncation.

remfile fetches byte ranges on demand (100 KiB blocks, growing for sequential reads), retries
each range request with exponential back-off (9 tries over about 25 s) and rejects any response
whose length differs from the range asked for, so a dropped connection is retried and never
returns short data. On top of it this module adds:

- a timeout on every range request (:data:`REQUEST_TIMEOUT_S`; remfile sends none), so a server
  that accepts the connection and then stops answering is abandoned and the range asked again,
  instead of hanging the read forever;
- a :class:`~ndx_causal_emergence.errors.StreamingError` (a ``SourceError``) naming the URL
  and the disk cache when a range still cannot be fetched after the retries (instead of a bare
  ``requests`` or remfile exception from inside h5py);
- a persistent :class:`AtomicDiskCache` (blocks written to a temporary file and renamed, so a
  killed process never leaves a truncated block that a later read would trust), in
  ``cache_dir`` / ``$NDX_CE_CACHE_DIR`` / the user cache folder;
- cache scoping by content: one sub-folder per (URL, size, validator), where the validator is
  the DANDI digest or the server's ETag / Last-Modified, so a changed file is never served from
  a stale cache;
- a size probe (HEAD, else a GET that is not read) with the same retry policy;
- bounds on remfile's in-memory block cache and request size, so memory stays bounded when a
  long recording is read from start to end.

This module imports remfile and requests at import time; :mod:`ndx_causal_emergence.nwb.read`
imports it only when a URL or DANDI reference is opened.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import h5py
import remfile
import requests

from ..data.recording import SourceInfo
from ..errors import SourceError, StreamingError

if TYPE_CHECKING:  # pragma: no cover
    from dandi.dandiapi import DandiAPIClient

__all__ = ["AtomicDiskCache", "default_cache_dir", "open_dandi_asset", "open_url", "probe_url"]

CACHE_ENV = "NDX_CE_CACHE_DIR"
#: remfile keeps fetched blocks in memory too (1 GB by default): bound it so long reads stay small.
MEMORY_CACHE_BYTES = 64 * 2**20
#: Largest single range request (remfile grows requests for sequential reads; its default is 100 MB).
MAX_REQUEST_BYTES = 16 * 2**20
_RETRIES = 6
_BACKOFF_S = 0.2
#: (connect, read) timeout of every request to a file server (size probe, range requests,
#: download), in seconds. The read timeout bounds the wait for the next bytes, not the whole
#: transfer, so large ranges on slow links are unaffected.
REQUEST_TIMEOUT_S: tuple[float, float] = (10.0, 30.0)


def default_cache_dir() -> Path:
    """``$NDX_CE_CACHE_DIR`` if set, else ``<user cache>/ndx-causal-emergence/remfile``."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("ndx-causal-emergence")) / "remfile"


class AtomicDiskCache(remfile.DiskCache):
    """remfile's persistent block cache, with every block written atomically (temporary file + rename)."""

    def set(self, key: str, value: bytes) -> None:
        """Store ``value`` under ``key`` (same layout as ``remfile.DiskCache``)."""
        digest = hashlib.sha1(key.encode("utf-8")).hexdigest()
        target = Path(self._dirname, digest[0:2], digest[2:4], digest[4:6], digest)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".part-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(value)
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise


class _TimeoutSession(requests.Session):
    """A requests session whose requests time out after :data:`REQUEST_TIMEOUT_S` unless told otherwise."""

    def request(self, method: str, url: str, **kwargs: object) -> requests.Response:  # type: ignore[override]
        kwargs.setdefault("timeout", REQUEST_TIMEOUT_S)
        return super().request(method, url, **kwargs)


class _StreamedFile(remfile.File):
    """remfile's file with timed-out requests and a :class:`StreamingError` when a range cannot be fetched."""

    def __init__(self, url: str, *, cache_dir: Path, **options: object) -> None:
        super().__init__(url, disk_cache=AtomicDiskCache(str(cache_dir)), **options)
        self.session = _TimeoutSession()
        self._cache_dir = cache_dir

    def read(self, size: int | None = None) -> bytes:
        """Read ``size`` bytes at the current position (fetched, or from the caches)."""
        try:
            return super().read(size)
        except Exception as exc:  # remfile raises bare Exception (and requests errors) once its retries are spent
            raise StreamingError(
                f"streaming {self._url!r} stopped (after remfile's retries where retrying could help): "
                f"{type(exc).__name__}: {exc}. The blocks read so far stay in the disk cache "
                f"{str(self._cache_dir)!r}, so running again fetches only the rest."
            ) from exc


def probe_url(url: str) -> tuple[int, str | None]:
    """(size in bytes, validator) of a remote file, retrying transient failures with back-off.

    The validator is the ETag, else Last-Modified (None if the server sends neither).

    Raises
    ------
    SourceError
        HTTP 4xx (except 429), no Content-Length, or still unreachable after the retries.
    """
    last: Exception | None = None
    for attempt in range(_RETRIES):
        try:
            response = requests.head(url, allow_redirects=True, timeout=REQUEST_TIMEOUT_S)
            if response.status_code in (403, 405):  # servers (presigned S3) that refuse HEAD
                response = requests.get(url, stream=True, timeout=REQUEST_TIMEOUT_S)
                response.close()
            if 400 <= response.status_code < 500 and response.status_code != 429:
                raise SourceError(f"{url!r} answered HTTP {response.status_code} {response.reason}; check the URL")
            response.raise_for_status()
            if "Content-Length" not in response.headers:
                raise SourceError(f"{url!r} sends no Content-Length; cannot stream it with byte ranges")
            validator = response.headers.get("ETag") or response.headers.get("Last-Modified")
            return int(response.headers["Content-Length"]), validator
        except requests.RequestException as exc:
            last = exc
            time.sleep(_BACKOFF_S * 2**attempt)
    raise SourceError(f"cannot reach {url!r} after {_RETRIES} tries: {type(last).__name__}: {last}")


@contextlib.contextmanager
def open_url(
    url: str, *, cache_dir: str | os.PathLike | None = None, size: int | None = None, validator: str | None = None
) -> Iterator[h5py.File]:
    """Open a remote HDF5 file read-only, streamed through a persistent disk cache.

    Parameters
    ----------
    url : str
        http(s) URL answering Range requests.
    cache_dir : str or path, optional
        Cache root (default :func:`default_cache_dir`).
    size, validator : optional
        Known size and content validator (e.g. a DANDI digest); probed from the server if ``size``
        is None.

    Yields
    ------
    h5py.File
        Closed on exit.

    Raises
    ------
    SourceError
        Unreachable, not found, or not an HDF5 file.
    StreamingError
        From reads of the yielded file, when a byte range cannot be fetched after remfile's retries.
    """
    if size is None:
        size, validator = probe_url(url)
    scope = hashlib.sha256(f"{url}|{size}|{validator}".encode()).hexdigest()[:24]
    root = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    remote = _StreamedFile(
        url, cache_dir=root / scope, _size=size, _max_cache_size=MEMORY_CACHE_BYTES, _max_chunk_size=MAX_REQUEST_BYTES
    )
    try:
        h5file = h5py.File(remote, "r")
    except OSError as exc:
        raise SourceError(f"{url!r} could not be opened as HDF5 (expected an NWB HDF5 file): {exc}") from exc
    try:
        yield h5file
    finally:
        h5file.close()


@contextlib.contextmanager
def open_dandi_asset(
    reference: str, *, cache_dir: str | os.PathLike | None = None, client: DandiAPIClient | None = None
) -> Iterator[tuple[h5py.File, SourceInfo]]:
    """Resolve a DANDI reference and stream the asset.

    Parameters
    ----------
    reference : str
        A DANDI reference naming one asset (see :mod:`.refs`).
    cache_dir : str or path, optional
        Cache root (default :func:`default_cache_dir`).
    client : dandi.dandiapi.DandiAPIClient, optional
        Client to resolve with.

    Yields
    ------
    (h5py.File, SourceInfo)
        The open file and its DANDI provenance (``identifier`` is filled in by the NWB reader).
    """
    from .refs import resolve_asset

    asset = resolve_asset(reference, client=client)
    info = SourceInfo(
        location=reference,
        kind="dandi",
        dandiset_id=asset.dandiset_id,
        dandiset_version=asset.version,
        asset_id=asset.asset_id,
        asset_path=asset.path,
        asset_digest=asset.digest,
        url=asset.url,
    )
    with open_url(asset.url, cache_dir=cache_dir, size=asset.size, validator=asset.digest or asset.asset_id) as h5:
        yield h5, info


def download(url: str, path: str | os.PathLike, *, chunk_bytes: int = 8 << 20, retries: int = 3) -> Path:
    """Download ``url`` to ``path`` (whole file), checking the byte count; retried with back-off.

    Used when an output must hold a streamed input's content and NWB export cannot re-encode
    the input: the bytes are copied as they are and the results appended to the copy.
    """
    path = Path(path)
    for attempt in range(retries + 1):
        try:
            with requests.get(url, stream=True, timeout=REQUEST_TIMEOUT_S) as response:
                response.raise_for_status()
                expected = int(response.headers.get("Content-Length", -1))
                written = 0
                with open(path, "wb") as handle:
                    for block in response.iter_content(chunk_bytes):
                        handle.write(block)
                        written += len(block)
            if expected >= 0 and written != expected:
                raise OSError(f"download of {url} ended after {written} of {expected} bytes")
            return path
        except (requests.RequestException, OSError) as err:
            if attempt == retries:
                raise SourceError(f"cannot download {url}: {err}") from None
            time.sleep(0.5 * 2**attempt)
    return path
