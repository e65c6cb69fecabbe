"""A local stand-in of the DANDI Archive REST API, for testing pipelines offline.

:class:`DandiStandIn` serves local NWB files as DANDI assets over HTTP on 127.0.0.1 (a random
free port, loopback only), implementing the endpoints the ``dandi`` client, remfile, fsspec
and ``dandi download`` use:

- ``GET /server-info``, ``GET /api/info/``;
- ``GET /api/dandisets/{id}/``, ``…/versions/`` (paginated), ``…/versions/{version}/`` and ``…/info/``;
- ``GET /api/dandisets/{id}/versions/{version}/assets/`` (``path`` prefix filter, ``order``,
  ``metadata``; paginated with ``count``, ``next``, ``previous``, ``results``), and
  ``…/assets/{asset_id}/`` (metadata), ``…/assets/{asset_id}/info/``;
- ``GET /api/assets/{asset_id}/`` and ``…/info/``;
- ``GET|HEAD …/assets/{asset_id}/download/`` → ``302`` to the blob URL;
- ``GET|HEAD /blobs/…`` with ``Accept-Ranges: bytes``, ``206 Partial Content`` and
  ``Content-Range`` for ``bytes=a-b``, ``a-`` and ``-n`` (``416`` when unsatisfiable).

Digests (``dandi:dandi-etag``, ``dandi:sha2-256``) are computed from the local bytes. Every
request is recorded (:attr:`DandiStandIn.log`, :attr:`DandiStandIn.blob_bytes`), and faults can
be injected (:meth:`DandiStandIn.inject_fault`: close the connection mid-body, answer 500, or
accept the request and never answer, on the k-th blob request). :func:`point_dandi_client_at`
makes the real ``dandi`` client use the stand-in for ``DANDI:`` references and
``dandi://dandi/…`` URLs, and undoes it on exit.

Example (a pytest fixture)::

    @pytest.fixture
    def archive(tmp_path):
        with DandiStandIn() as server, point_dandi_client_at(server):
            server.add_asset("000123", "sub-1/sub-1_ses-1.nwb", my_file)
            yield server
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import json
import os
import re
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

__all__ = ["DandiStandIn", "RequestRecord", "ServedAsset", "point_dandi_client_at", "REAL_UNITS_ASSETS"]

#: The real DANDI assets of ``tests/data/dandi_units_nwb``: (dandiset, asset path, local file name).
REAL_UNITS_ASSETS = (
    ("000207", "sub-4/sub-4_ses-4_ecephys+image.nwb", "sub-4_ses-4_ecephys+image.nwb"),
    (
        "000009",
        "sub-anm00239123/sub-anm00239123_ses-20170627T093549_ecephys+ogen.nwb",
        "sub_anm00239123_ses_20170627T093549_ecephys_and_ogen.nwb",
    ),
    ("000006", "sub-anm369963/sub-anm369963_ses-20170228.nwb", "sub-anm369963_ses-20170228.nwb"),
    ("000006", "sub-anm372793/sub-anm372793_ses-20170508.nwb", "sub-anm372793_ses-20170508.nwb"),
)
_NAMESPACE = uuid.UUID("6f1c1a9e-5c1b-4f57-9d7e-0c8d3a1b2e44")
_STAMP = "2024-01-01T00:00:00.000000Z"
_BLOCK = 64 * 1024
#: How long a "stall" fault holds a request unanswered, at most (it ends earlier when the stand-in stops).
STALL_S = 60.0
#: Seconds between the bytes of a "trickle" fault.
TRICKLE_S = 0.5


@dataclass(frozen=True)
class ServedAsset:
    """One asset the stand-in serves (ids derived deterministically from dandiset and path)."""

    dandiset_id: str
    path: str
    file: Path
    asset_id: str
    blob_id: str
    size: int
    sha256: str
    etag: str


@dataclass(frozen=True)
class RequestRecord:
    """One request: method, path (with query), Range header, status (0: never answered) and body bytes sent."""

    method: str
    path: str
    range: str | None
    status: int
    body_bytes: int


@dataclass
class _Dandiset:
    identifier: str
    versions: list[str] = field(default_factory=lambda: ["draft"])
    assets: dict[str, ServedAsset] = field(default_factory=dict)


_gc_pause = {"count": 0, "was_enabled": True}
_gc_pause_lock = threading.Lock()


def _pause_gc() -> None:
    """Pause automatic garbage collection (nested: the first pause collects and remembers the state)."""
    with _gc_pause_lock:
        if _gc_pause["count"] == 0:
            gc.collect()
            _gc_pause["was_enabled"] = gc.isenabled()
            gc.disable()
        _gc_pause["count"] += 1


def _resume_gc() -> None:
    """Undo one :func:`_pause_gc`; the last one restores the collector and collects."""
    with _gc_pause_lock:
        _gc_pause["count"] -= 1
        if _gc_pause["count"] == 0:
            if _gc_pause["was_enabled"]:
                gc.enable()
            gc.collect()


class DandiStandIn:
    """A DANDI API stand-in on 127.0.0.1; use as a context manager (``start``/``stop`` also work).

    Parameters
    ----------
    page_size : int
        Default page size of paginated lists (small values exercise pagination).
    """

    def __init__(self, *, page_size: int = 100) -> None:
        self.page_size = page_size
        self.log: list[RequestRecord] = []
        self._dandisets: dict[str, _Dandiset] = {}
        self._assets: dict[str, ServedAsset] = {}
        self._blobs: dict[str, ServedAsset] = {}
        self._lock = threading.Lock()
        self._faults: list[dict[str, Any]] = []
        self._declared_lengths: dict[str, str] = {}
        #: Base URL that blob URLs redirect to (302), e.g. another host's; None: blobs are served here.
        self.redirect_base: str | None = None
        self._blob_requests = 0
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ---- lifecycle -------------------------------------------------------------------------
    def start(self) -> DandiStandIn:
        """Start serving on a free loopback port, with automatic garbage collection paused until :meth:`stop`.

        The server answers from threads of this process. A garbage collection that runs in one of
        them can finalise a leftover h5py or NWBHDF5IO object, which needs h5py's global lock;
        a client reading a streamed file holds that lock while it waits for the server's answer,
        so both would wait forever (seen in CI). Pausing the automatic collector (explicit
        ``gc.collect()`` still works) removes that case; when the last running stand-in stops, the
        collector is restored as it was and a collection runs.
        """
        handler = type("_Handler", (_Handler,), {"standin": self})
        self._stopping.clear()
        self._server = _Server(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        _pause_gc()
        self._thread = threading.Thread(target=self._server.serve_forever, name="dandi-standin", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, close the socket, and restore automatic garbage collection."""
        if self._server is not None:
            self._stopping.set()  # releases stalled requests
            self._server.shutdown()
            self._server.server_close()
            self._server = None
            _resume_gc()

    def __enter__(self) -> DandiStandIn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>`` (the "web UI" URL of the instance)."""
        if self._server is None:
            raise RuntimeError("the DANDI stand-in is not started; use it as a context manager or call start()")
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def api_url(self) -> str:
        """``http://127.0.0.1:<port>/api``."""
        return f"{self.base_url}/api"

    # ---- content ---------------------------------------------------------------------------
    def add_asset(
        self,
        dandiset_id: str,
        path: str,
        file: str | os.PathLike,
        *,
        versions: tuple[str, ...] = ("draft",),
        verbatim_path: bool = False,
    ) -> ServedAsset:
        """Serve ``file`` as asset ``path`` of Dandiset ``dandiset_id`` in ``versions``.

        Published version ids look like ``0.240101.0000``; the most recent one (sorted) is the
        Dandiset's ``most_recent_published_version``. Digests are computed from the bytes. A
        leading ``/`` is dropped unless ``verbatim_path`` (a hostile archive serving absolute paths).
        """
        from dandischema.digests.dandietag import DandiETag

        file = Path(file)
        sha = hashlib.sha256()
        with open(file, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                sha.update(block)
        asset = ServedAsset(
            dandiset_id=dandiset_id,
            path=path if verbatim_path else path.lstrip("/"),
            file=file,
            asset_id=str(uuid.uuid5(_NAMESPACE, f"{dandiset_id}/{path}")),
            blob_id=str(uuid.uuid5(_NAMESPACE, sha.hexdigest())),
            size=file.stat().st_size,
            sha256=sha.hexdigest(),
            etag=DandiETag.from_file(file).as_str(),
        )
        with self._lock:
            dandiset = self._dandisets.setdefault(dandiset_id, _Dandiset(dandiset_id, versions=[]))
            for version in versions:
                if version not in dandiset.versions:
                    dandiset.versions.append(version)
            if "draft" not in dandiset.versions:
                dandiset.versions.append("draft")
            dandiset.assets[asset.path] = asset
            self._assets[asset.asset_id] = asset
            self._blobs[asset.blob_id] = asset
        return asset

    def add_real_units_assets(self, folder: str | os.PathLike) -> list[ServedAsset]:
        """Serve the four real DANDI assets of ``tests/data/dandi_units_nwb`` at their real ids and paths."""
        return [self.add_asset(d, path, Path(folder) / name) for d, path, name in REAL_UNITS_ASSETS]

    def blob_url(self, asset: ServedAsset) -> str:
        """The blob URL the download endpoint redirects to."""
        b = asset.blob_id
        return f"{self.base_url}/blobs/{b[:3]}/{b[3:6]}/{b}"

    def download_url(self, asset: ServedAsset) -> str:
        """``…/api/assets/{asset_id}/download/``."""
        return f"{self.api_url}/assets/{asset.asset_id}/download/"

    # ---- observation and faults ------------------------------------------------------------
    @property
    def blob_bytes(self) -> int:
        """Body bytes sent by blob GETs since the last :meth:`reset_log`."""
        with self._lock:
            return sum(r.body_bytes for r in self.log if r.path.startswith("/blobs/") and r.method == "GET")

    def range_requests(self) -> list[RequestRecord]:
        """Blob GETs with a Range header since the last :meth:`reset_log`."""
        with self._lock:
            return [r for r in self.log if r.path.startswith("/blobs/") and r.method == "GET" and r.range]

    def reset_log(self) -> None:
        """Forget the recorded requests."""
        with self._lock:
            self.log.clear()

    def inject_fault(self, *, on_blob_request: int, kind: str = "drop") -> None:
        """Make the ``on_blob_request``-th blob GET from now fail.

        ``kind="drop"`` sends the headers and half the body, then closes the connection;
        ``kind="500"`` answers ``500 Internal Server Error``; ``kind="stall"`` reads the request
        and sends nothing for :data:`STALL_S` seconds (or until :meth:`stop`), then closes the
        connection; ``kind="trickle"`` sends the headers, then one byte every :data:`TRICKLE_S`
        seconds (until the body is sent or the stand-in stops).
        """
        if kind not in ("drop", "500", "stall", "trickle"):
            raise ValueError(f"kind must be 'drop', '500', 'stall' or 'trickle'; got {kind!r}")
        with self._lock:
            self._faults.append({"at": self._blob_requests + on_blob_request, "kind": kind})

    def declare_length(self, asset: ServedAsset, value: str | None) -> None:
        """Make blob responses of ``asset`` (HEAD and GET) declare ``Content-Length: value`` (a lying server).

        The body is unchanged: a value larger than the bytes sent leaves the client waiting for
        the rest on an open connection. ``None`` restores the true length.
        """
        with self._lock:
            if value is None:
                self._declared_lengths.pop(asset.blob_id, None)
            else:
                self._declared_lengths[asset.blob_id] = value

    def _take_fault(self) -> str | None:
        with self._lock:
            self._blob_requests += 1
            for fault in self._faults:
                if fault["at"] == self._blob_requests:
                    self._faults.remove(fault)
                    return fault["kind"]
        return None

    def _record(self, record: RequestRecord) -> None:
        with self._lock:
            self.log.append(record)

    # ---- JSON documents --------------------------------------------------------------------
    def _version(self, dandiset: _Dandiset, version: str) -> dict[str, Any]:
        assets = dandiset.assets.values()
        return {
            "version": version,
            "name": f"Dandiset {dandiset.identifier} (stand-in)",
            "asset_count": len(assets),
            "size": sum(a.size for a in assets),
            "created": _STAMP,
            "modified": _STAMP,
            "status": "Valid" if version == "draft" else "Published",
        }

    def _dandiset_json(self, dandiset: _Dandiset) -> dict[str, Any]:
        published = sorted(v for v in dandiset.versions if v != "draft")
        return {
            "identifier": dandiset.identifier,
            "created": _STAMP,
            "modified": _STAMP,
            "contact_person": "Stand-in, Test",
            "embargo_status": "OPEN",
            "most_recent_published_version": self._version(dandiset, published[-1]) if published else None,
            "draft_version": self._version(dandiset, "draft"),
        }

    def _asset_row(self, asset: ServedAsset) -> dict[str, Any]:
        return {
            "asset_id": asset.asset_id,
            "blob": asset.blob_id,
            "zarr": None,
            "path": asset.path,
            "size": asset.size,
            "created": _STAMP,
            "modified": _STAMP,
        }

    def _asset_metadata(self, asset: ServedAsset) -> dict[str, Any]:
        return {
            "id": f"dandiasset:{asset.asset_id}",
            "identifier": asset.asset_id,
            "schemaKey": "Asset",
            "path": asset.path,
            "contentSize": asset.size,
            "encodingFormat": "application/x-nwb",
            "digest": {"dandi:dandi-etag": asset.etag, "dandi:sha2-256": asset.sha256},
            "contentUrl": [self.download_url(asset), self.blob_url(asset)],
            "dateModified": _STAMP,
            "blobDateModified": _STAMP,
        }

    def _server_info(self) -> dict[str, Any]:
        return {
            "version": "0.0.0+standin",
            "schema_version": "0.6.10",
            "schema_url": "",
            "cli-minimal-version": "0.60.0",
            "cli-bad-versions": [],
            "services": {"api": {"url": self.api_url}, "webui": {"url": self.base_url}, "jupyterhub": None},
        }

    def _paginate(self, items: list[Any], url: str, query: dict[str, list[str]]) -> dict[str, Any]:
        size = int(query.get("page_size", [self.page_size])[0])
        page = int(query.get("page", ["1"])[0])
        count = len(items)

        def link(number: int) -> str | None:
            if number < 1 or (number - 1) * size >= count:
                return None
            params = {k: v[0] for k, v in query.items()}
            params["page"] = str(number)
            return f"{self.base_url}{url}?{urlencode(params)}"

        return {
            "count": count,
            "next": link(page + 1),
            "previous": link(page - 1) if page > 1 else None,
            "results": items[(page - 1) * size : page * size],
        }

    def route(self, method: str, url: str) -> tuple[int, Any, dict[str, str]]:
        """(status, JSON body or ServedAsset for blobs, extra headers) of an API request."""
        parts = urlsplit(url)
        path, query = parts.path, parse_qs(parts.query)
        if path in ("/server-info", "/api/info/", "/api/info"):
            return 200, self._server_info(), {}
        if m := re.fullmatch(r"/blobs/[^/]+/[^/]+/([^/]+)", path):
            if self.redirect_base is not None:
                return 302, {}, {"Location": self.redirect_base.rstrip("/") + path}
            asset = self._blobs.get(m[1])
            return (200, asset, {}) if asset else (404, {"detail": "Not found."}, {})
        if m := re.fullmatch(r"/api/assets/([^/]+)/(info/|download/)?", path):
            asset = self._assets.get(m[1])
            return self._asset_endpoint(asset, m[2])
        if not (m := re.fullmatch(r"/api/dandisets/(\d{6})/(.*)", path)):
            return 404, {"detail": "Not found."}, {}
        dandiset = self._dandisets.get(m[1])
        if dandiset is None:
            return 404, {"detail": "Not found."}, {}
        rest = m[2]
        if rest == "":
            return 200, self._dandiset_json(dandiset), {}
        if rest == "versions/":
            return 200, self._paginate([self._version(dandiset, v) for v in dandiset.versions], path, query), {}
        if not (m := re.fullmatch(r"versions/([^/]+)/(.*)", rest)) or m[1] not in dandiset.versions:
            return 404, {"detail": "Not found."}, {}
        version, rest = m[1], m[2]
        if rest == "":
            return (
                200,
                {
                    "identifier": f"DANDI:{dandiset.identifier}",
                    "id": f"DANDI:{dandiset.identifier}/{version}",
                    "name": self._version(dandiset, version)["name"],
                    "version": version,
                    "schemaKey": "Dandiset",
                },
                {},
            )
        if rest == "info/":
            info = self._version(dandiset, version) | {
                "asset_validation_errors": [],
                "version_validation_errors": [],
                "dandiset": self._dandiset_json(dandiset),
            }
            return 200, info, {}
        if rest == "assets/":
            prefix = query.get("path", [""])[0]
            order = query.get("order", ["path"])[0] or "path"
            chosen = [a for a in dandiset.assets.values() if a.path.startswith(prefix)]
            chosen.sort(
                key=lambda a: a.path if order.lstrip("-") == "path" else a.asset_id, reverse=order.startswith("-")
            )
            rows = [
                self._asset_row(a) | ({"metadata": self._asset_metadata(a)} if query.get("metadata") else {})
                for a in chosen
            ]
            return 200, self._paginate(rows, path, query), {}
        if m := re.fullmatch(r"assets/([^/]+)/(info/|download/)?", rest):
            asset = self._assets.get(m[1])
            return self._asset_endpoint(asset if asset in dandiset.assets.values() else None, m[2])
        return 404, {"detail": "Not found."}, {}

    def _asset_endpoint(self, asset: ServedAsset | None, tail: str | None) -> tuple[int, Any, dict[str, str]]:
        if asset is None:
            return 404, {"detail": "Not found."}, {}
        if tail == "download/":
            return 302, {}, {"Location": self.blob_url(asset)}
        if tail == "info/":
            return 200, self._asset_row(asset) | {"metadata": self._asset_metadata(asset)}, {}
        return 200, self._asset_metadata(asset), {}


class _Server(ThreadingHTTPServer):
    """The HTTP server; a client that hangs up mid-answer (as clients giving up on a slow range do) is not an error."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Ignore connections the client closed; report anything else as the standard server does."""
        import sys

        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    """HTTP/1.1 handler (keep-alive) delegating to the :class:`DandiStandIn` attached as ``standin``."""

    protocol_version = "HTTP/1.1"
    standin: DandiStandIn

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002  (silence the default stderr log)
        return

    def do_GET(self) -> None:  # noqa: N802
        self._handle(head=False)

    def do_HEAD(self) -> None:  # noqa: N802
        self._handle(head=True)

    def _handle(self, *, head: bool) -> None:
        status, body, headers = self.standin.route(self.command, self.path)
        if isinstance(body, ServedAsset):
            self._send_blob(body, head=head)
            return
        payload = json.dumps(body).encode() if status != 302 else b""
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        if payload:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if not head:
            self.wfile.write(payload)
        self.standin._record(RequestRecord(self.command, self.path, None, status, 0 if head else len(payload)))

    def _send_blob(self, asset: ServedAsset, *, head: bool) -> None:
        size = asset.size
        requested = self.headers.get("Range")
        fault = None if head else self.standin._take_fault()
        if fault == "500":
            self._plain(500, b"injected failure")
            self.standin._record(RequestRecord("GET", self.path, requested, 500, 0))
            return
        if fault == "stall":
            self.standin._record(RequestRecord("GET", self.path, requested, 0, 0))  # in arrival order
            self.standin._stopping.wait(STALL_S)
            self.close_connection = True
            return
        span = _parse_range(requested, size) if requested and not head else None
        if span == "unsatisfiable":
            self.send_response(416)
            self.send_header("Content-Range", f"bytes */{size}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            self.standin._record(RequestRecord(self.command, self.path, requested, 416, 0))
            return
        start, stop = span if isinstance(span, tuple) else (0, size - 1)
        status = 206 if isinstance(span, tuple) else 200
        self.send_response(status)
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Type", "application/x-nwb")
        self.send_header("ETag", f'"{asset.etag}"')
        self.send_header("Last-Modified", "Mon, 01 Jan 2024 00:00:00 GMT")
        self.send_header("Content-Length", self.standin._declared_lengths.get(asset.blob_id, str(stop - start + 1)))
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{stop}/{size}")
        self.end_headers()
        sent = 0
        if not head:
            limit = (stop - start + 1) // 2 if fault == "drop" else stop - start + 1
            with open(asset.file, "rb") as handle:
                handle.seek(start)
                while sent < limit:
                    block = handle.read(min(_BLOCK, limit - sent))
                    if not block:
                        break
                    try:
                        if fault == "trickle":
                            block = block[:1]
                            handle.seek(start + sent + 1)
                            self.wfile.write(block)
                            self.wfile.flush()
                            if self.standin._stopping.wait(TRICKLE_S):
                                break
                        else:
                            self.wfile.write(block)
                    except (BrokenPipeError, ConnectionResetError):
                        break
                    sent += len(block)
            if fault == "drop":
                self.close_connection = True
                self.wfile.flush()
                with contextlib.suppress(OSError):
                    self.connection.shutdown(2)
        self.standin._record(RequestRecord(self.command, self.path, requested, status, sent))

    def _plain(self, status: int, text: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(text)))
        self.end_headers()
        self.wfile.write(text)


def _parse_range(header: str, size: int) -> tuple[int, int] | str | None:
    """(first, last) byte of a single ``bytes=`` range; "unsatisfiable"; None to send the whole body."""
    m = re.fullmatch(r"\s*bytes=(\d*)-(\d*)\s*", header)
    if not m or (m[1] == "" and m[2] == ""):
        return None  # several ranges or a malformed header: RFC 9110 allows ignoring it
    if m[1] == "":  # suffix: the last n bytes
        n = int(m[2])
        return (max(0, size - n), size - 1) if n > 0 and size > 0 else "unsatisfiable"
    first = int(m[1])
    last = min(int(m[2]), size - 1) if m[2] else size - 1
    if first >= size or last < first:
        return "unsatisfiable"
    return first, last


@contextlib.contextmanager
def point_dandi_client_at(server: DandiStandIn, *, instance: str = "dandi") -> Iterator[None]:
    """Make the real ``dandi`` client use ``server`` as the ``instance`` archive, then undo it.

    Replaces the entry in ``dandi.consts.known_instances`` (as dandi-cli's own tests do), updates
    the reverse map, sets ``DANDI_INSTANCE`` to the stand-in's API URL and ``DANDI_NO_ET=1``
    (no version check over the network), and clears the client's cache of instance lookups.
    """
    from dandi import consts, utils
    from dandi.consts import DandiInstance

    saved_instance = consts.known_instances.get(instance)
    saved_rev = dict(consts.known_instances_rev)
    saved_env = {name: os.environ.get(name) for name in ("DANDI_INSTANCE", "DANDI_NO_ET")}
    replacement = DandiInstance(instance, server.base_url, server.api_url)
    consts.known_instances[instance] = replacement
    for url in replacement.urls():
        consts.known_instances_rev[url] = instance
    os.environ["DANDI_INSTANCE"] = server.api_url
    os.environ["DANDI_NO_ET"] = "1"
    utils._get_instance.cache_clear()
    try:
        yield
    finally:
        if saved_instance is None:
            consts.known_instances.pop(instance, None)
        else:
            consts.known_instances[instance] = saved_instance
        consts.known_instances_rev.clear()
        consts.known_instances_rev.update(saved_rev)
        for name, value in saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        utils._get_instance.cache_clear()
