"""What provenance may say about where the input came from: no credentials, no personal paths.

Results are shared. Signed URLs carry their credentials in the query (``X-Amz-Signature``,
``token``) or the user part, and absolute paths name home folders and colleagues' projects.
:func:`redact_url` masks credentials in a URL; :func:`redact_command` does that to every URL of
a command line and shortens absolute paths to file names, unless full paths were asked for
(``--record-full-paths``, which sets :data:`FULL_PATHS_ENV` so that batch workers follow it).
"""

from __future__ import annotations

import os
import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

__all__ = ["FULL_PATHS_ENV", "REDACTED", "full_paths_requested", "redact_command", "redact_url"]

FULL_PATHS_ENV = "NDX_CE_RECORD_FULL_PATHS"
REDACTED = "REDACTED"
#: Query parameter names that carry credentials (S3 and GCS signatures, tokens, keys).
_SECRET_KEY = re.compile(r"sig|token|key|secret|passw|pwd|credential|auth|session|policy|^x-amz-|^x-goog-", re.I)
_URL = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)


def full_paths_requested() -> bool:
    """Whether the user asked to record full local paths (``--record-full-paths``)."""
    return os.environ.get(FULL_PATHS_ENV) == "1"


def redact_url(url: str) -> str:
    """``url`` with its password / user part and credential-like query values replaced by ``REDACTED``."""
    if not _URL.match(url):
        return url
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        netloc = f"{REDACTED}@{netloc.rsplit('@', 1)[1]}"
    query = urlencode(
        [(k, REDACTED if _SECRET_KEY.search(k) else v) for k, v in parse_qsl(parts.query, keep_blank_values=True)],
        safe="",
    )
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


def _redact_word(word: str, full_paths: bool) -> str:
    if _URL.match(word):
        return redact_url(word)
    if not full_paths and (word.startswith(("/", "~")) or re.match(r"^[A-Za-z]:[\\/]", word)):
        return re.split(r"[\\/]", word.rstrip("/\\"))[-1] or word
    return word


def redact_command(command: str, *, full_paths: bool | None = None) -> str:
    """A command line with credentials in URLs masked and absolute paths shortened to their file names.

    Words are split at spaces; ``--option=value`` words are redacted in their value.
    ``full_paths`` (default: :func:`full_paths_requested`) keeps absolute paths as they are.
    """
    full = full_paths_requested() if full_paths is None else full_paths
    words = []
    for word in command.split(" "):
        if word.startswith("-") and "=" in word:
            option, value = word.split("=", 1)
            words.append(f"{option}={_redact_word(value, full)}")
        else:
            words.append(_redact_word(word, full))
    return " ".join(words)
