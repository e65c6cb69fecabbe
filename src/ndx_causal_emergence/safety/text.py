"""Text fields read from files: JSON parsed so that any malformed document is an input error."""

from __future__ import annotations

import json
from typing import Any

from ..errors import SourceError

__all__ = ["parse_json"]


def parse_json(text: Any, what: str) -> Any:
    """``json.loads(text)``; malformed, non-text or too deeply nested JSON raises :class:`SourceError`.

    Parameters
    ----------
    text : str or bytes
        The document (e.g. an attribute of an NWB file).
    what : str
        What the document is, for the message.
    """
    try:
        return json.loads(text)
    except RecursionError:
        raise SourceError(f"{what} is JSON nested too deeply to be read; the file is damaged or hostile") from None
    except (json.JSONDecodeError, TypeError, UnicodeDecodeError) as err:
        raise SourceError(f"{what} is not valid JSON: {err}") from None
