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
  long recording is read from start to end;
- an overall deadline on every range request (:func:`request_deadline_s`: a server trickling
  bytes is abandoned, not waited on for minutes) and a retry budget per opened file
  (:data:`RETRY_BUDGET` failed requests in all, then its reads stop);
- checks of every range response before it is used or cached (status, a well-formed
  ``Content-Length`` equal to the range, the same ETag as the file's first response), and a
  SHA-256 checksum stored with every cached block and checked at every read (a damaged or
  planted block is dropped and fetched again);
- redirects followed only to the URL's own host and the archive's blob hosts
  (:data:`ALLOWED_HOSTS_ENV` adds hosts), each hop checked before the Range header is sent;
- the archive's SHA-256 checked whenever a whole file is downloaded.

This module imports remfile and requests at import time; :mod:`ndx_causal_emergence.nwb.read`
imports it only when a URL or DANDI reference is opened.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import h5py
import remfile
import requests

from ..data.recording import SourceInfo
from ..errors import SourceError, StreamingError

try:  # remfile gives up at once (no retry) on this exception
    from remfile.RemFile import _PermanentHTTPError as _NoRetry
except ImportError:  # pragma: no cover
    _NoRetry = Exception

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
#: Overall deadline of one range request: this many seconds plus the time its bytes take at
#: :data:`MIN_TRANSFER_RATE` (bytes per second).
REQUEST_DEADLINE_BASE_S = 30.0
MIN_TRANSFER_RATE = 64 * 2**10
#: Failed requests (any URL) a process retries in all before streaming stops for good.
RETRY_BUDGET = 24
#: Comma-separated host names to which redirects may lead, besides the URL's own host and :data:`BLOB_HOSTS`.
ALLOWED_HOSTS_ENV = "NDX_CE_ALLOWED_HOSTS"
#: Where the DANDI Archive keeps its blobs (redirect targets of its download URLs).
BLOB_HOSTS = (
    "dandiarchive.s3.amazonaws.com",
    "dandiarchive-embargo.s3.amazonaws.com",
    "dandi-api-staging-dandisets.s3.amazonaws.com",
)
_MAX_REDIRECTS = 5
#: Trailer of a cached block: its SHA-256 then this marker.
_BLOCK_MARK = b"ndxce-v1"
_BLOCK_TRAILER = 32 + len(_BLOCK_MARK)


def request_deadline_s(n_bytes: int) -> float:
    """The overall deadline of a request for ``n_bytes`` bytes (seconds)."""
    return REQUEST_DEADLINE_BASE_S + n_bytes / MIN_TRANSFER_RATE


class _RetryBudget:
    """Failed requests one opened file may still retry (shared by the threads that read it)."""

    def __init__(self) -> None:
        self.spent = 0
        self._lock = threading.Lock()

    def spend(self, url: str, err: BaseException) -> None:
        """Count one failed request; raise (no retry) once :data:`RETRY_BUDGET` failures are spent."""
        with self._lock:
            self.spent += 1
            if self.spent > RETRY_BUDGET:
                raise _NoRetry(
                    f"giving up on {url!r}: {RETRY_BUDGET} failed requests for this file, the last: "
                    f"{type(err).__name__}: {err}"
                ) from err


def content_length(headers: Any, url: str) -> int | None:
    """The ``Content-Length`` of a response (None if absent); malformed or negative is a :class:`SourceError`."""
    text = headers.get("Content-Length")
    if text is None:
        return None
    if not str(text).strip().isdigit():
        raise SourceError(f"{url!r} sent a malformed Content-Length {text!r}; expected a non-negative whole number")
    return int(text)


def _allowed_hosts(url: str) -> set[str]:
    extra = {h.strip().lower() for h in os.environ.get(ALLOWED_HOSTS_ENV, "").split(",") if h.strip()}
    return {(urlsplit(url).hostname or "").lower(), *BLOB_HOSTS, *extra}


def default_cache_dir() -> Path:
    """``$NDX_CE_CACHE_DIR`` if set, else ``<user cache>/ndx-causal-emergence/remfile``."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("ndx-causal-emergence")) / "remfile"


class AtomicDiskCache(remfile.DiskCache):
    """remfile's persistent block cache: each block written atomically with a checksum checked at every read."""

    def _path(self, key: str) -> Path:
        digest = hashlib.sha1(key.encode("utf-8")).hexdigest()
        return Path(self._dirname, digest[0:2], digest[2:4], digest[4:6], digest)

    def get(self, key: str) -> bytes | None:
        """The block stored under ``key``, or None (absent, or damaged: then it is removed and fetched again)."""
        path = self._path(key)
        try:
            data = path.read_bytes()
        except (FileNotFoundError, NotADirectoryError):
            return None
        value, trailer = data[:-_BLOCK_TRAILER], data[-_BLOCK_TRAILER:]
        if len(data) < _BLOCK_TRAILER or trailer != hashlib.sha256(value).digest() + _BLOCK_MARK:
            path.unlink(missing_ok=True)
            return None
        return value

    def set(self, key: str, value: bytes) -> None:
        """Store ``value`` under ``key`` (same layout as ``remfile.DiskCache``), followed by its SHA-256."""
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".part-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(value)
                handle.write(hashlib.sha256(value).digest() + _BLOCK_MARK)
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise


class _CheckedSession(requests.Session):
    """A requests session for one file's server: timeouts, checked redirects, and checked range responses.

    Requests time out after :data:`REQUEST_TIMEOUT_S`; redirects are followed only to allowed
    hosts. A range GET is read within :func:`request_deadline_s`, and must answer 206 with the
    range's length and the file's ETag; a failed one counts against the retry budget, and a
    malformed ``Content-Length`` or another ETag stops the read at once (no retry).
    """

    def __init__(self) -> None:
        super().__init__()
        self.etag: str | None = None
        self.budget = _RetryBudget()  # per opened file: a long session does not inherit another file's failures

    def request(self, method: str, url: str, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        kwargs.setdefault("timeout", REQUEST_TIMEOUT_S)
        ranged = method.upper() == "GET" and "Range" in (kwargs.get("headers") or {})
        if ranged:
            kwargs["stream"] = True
        try:
            response = self._follow(method, url, kwargs)
            if ranged:
                response._content = self._checked_body(response, kwargs["headers"]["Range"], url)
                response._content_consumed = True
            return response
        except SourceError as err:
            if ranged:  # inside remfile: give up at once, no retry can fix it
                raise _NoRetry(str(err)) from err
            raise
        except _NoRetry:
            raise
        except Exception as err:
            self.budget.spend(url, err)
            raise

    def _follow(self, method: str, url: str, kwargs: dict[str, Any]) -> requests.Response:
        allowed = _allowed_hosts(url)
        kwargs = {**kwargs, "allow_redirects": False}
        for _ in range(_MAX_REDIRECTS + 1):
            response = super().request(method, url, **kwargs)
            if not response.is_redirect:
                return response
            target = requests.compat.urljoin(url, response.headers["Location"])
            response.close()
            host = (urlsplit(target).hostname or "").lower()
            if host not in allowed:
                raise SourceError(
                    f"{url!r} redirects to {host!r}, which is not an allowed host ({sorted(allowed)}); "
                    f"add it to ${ALLOWED_HOSTS_ENV} if you trust it"
                )
            url = target
        raise SourceError(f"more than {_MAX_REDIRECTS} redirects from {url!r}")

    def _checked_body(self, response: requests.Response, wanted: str, url: str) -> bytes:
        first, last = (int(x) for x in wanted.split("=", 1)[1].split("-"))
        expected = last - first + 1
        length = content_length(response.headers, url)
        if response.status_code != 206:
            response.close()
            raise OSError(f"range {wanted} of {url!r}: HTTP {response.status_code} instead of 206 Partial Content")
        if length is not None and length != expected:
            response.close()
            raise SourceError(f"{url!r} declared Content-Length {length} for the {expected} bytes of {wanted}")
        etag = response.headers.get("ETag")
        if etag is not None:
            if self.etag is None:
                self.etag = etag
            elif etag != self.etag:
                response.close()
                raise SourceError(f"{url!r} changed while it was read (ETag {etag} after {self.etag}); run again")
        deadline = time.monotonic() + request_deadline_s(expected)
        parts, received = [], 0
        while received < expected:
            if time.monotonic() > deadline:
                response.close()
                raise TimeoutError(
                    f"range {wanted} of {url!r} not received within {request_deadline_s(expected):.0f}"
                    f" s ({received} of {expected} bytes)"
                )
            block = response.raw.read1(min(expected - received, 1 << 16))
            if not block:
                break
            parts.append(block)
            received += len(block)
        response.close()
        if received != expected:
            raise OSError(f"range {wanted} of {url!r} ended after {received} of {expected} bytes")
        return b"".join(parts)


class _StreamedFile(remfile.File):
    """remfile's file with timed-out requests and a :class:`StreamingError` when a range cannot be fetched."""

    def __init__(self, url: str, *, cache_dir: Path, **options: object) -> None:
        super().__init__(url, disk_cache=AtomicDiskCache(str(cache_dir)), **options)
        self.session = _CheckedSession()
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
    session = _CheckedSession()
    for attempt in range(_RETRIES):
        try:
            response = session.head(url)
            if response.status_code in (403, 405):  # servers (presigned S3) that refuse HEAD
                response = session.get(url, stream=True)
                response.close()
            if 400 <= response.status_code < 500 and response.status_code != 429:
                raise SourceError(f"{url!r} answered HTTP {response.status_code} {response.reason}; check the URL")
            response.raise_for_status()
            size = content_length(response.headers, url)
            if size is None:
                raise SourceError(f"{url!r} sends no Content-Length; cannot stream it with byte ranges")
            validator = response.headers.get("ETag") or response.headers.get("Last-Modified")
            return size, validator
        except _NoRetry as exc:
            raise SourceError(str(exc)) from None
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


def download(
    url: str, path: str | os.PathLike, *, sha256: str | None = None, chunk_bytes: int = 8 << 20, retries: int = 3
) -> Path:
    """Download ``url`` to ``path`` (whole file), checking the byte count and digest; retried with back-off.

    Used when an output must hold a streamed input's content and NWB export cannot re-encode
    the input: the bytes are copied as they are and the results appended to the copy. ``path``
    is opened without following a symbolic link.

    Parameters
    ----------
    sha256 : str, optional
        The archive's SHA-256 of the file (hex): the download must match it.

    Raises
    ------
    SourceError
        Still failing after ``retries``, a malformed ``Content-Length``, a redirect to a host
        that is not allowed, or bytes that differ from ``sha256``.
    """
    path = Path(path)
    session = _CheckedSession()
    for attempt in range(retries + 1):
        digest = hashlib.sha256()
        try:
            with session.get(url, stream=True) as response:
                response.raise_for_status()
                expected = content_length(response.headers, url)
                written = 0
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
                with os.fdopen(fd, "wb") as handle:
                    for block in response.iter_content(chunk_bytes):
                        handle.write(block)
                        digest.update(block)
                        written += len(block)
            if expected is not None and written != expected:
                raise OSError(f"download of {url} ended after {written} of {expected} bytes")
        except (requests.RequestException, OSError) as err:
            if attempt == retries:
                raise SourceError(f"cannot download {url}: {err}") from None
            time.sleep(0.5 * 2**attempt)
            continue
        if sha256 is not None and digest.hexdigest() != sha256.lower():
            path.unlink(missing_ok=True)
            raise SourceError(
                f"the bytes of {url} (sha256 {digest.hexdigest()}) differ from the archive's digest "
                f"{sha256}; the file is not the one the archive describes"
            )
        return path
    return path
