"""Exceptions of the package. The command line maps :class:`InputError` to exit code 2.

Every message says what was expected, what was found and how to fix it.
"""

from __future__ import annotations


class CausalEmergenceError(Exception):
    """Base class of the package's errors."""


class InputError(CausalEmergenceError, ValueError):
    """Bad input from the user: a file, a series, a parameter or data that cannot be analysed."""


class SourceError(InputError):
    """The source cannot be opened or read: missing file, not HDF5/NWB, unreachable URL, unknown DANDI asset,
    a stream that stopped."""


class StreamingError(SourceError, ConnectionError):
    """Streaming stopped: a byte range could not be fetched (dropped or stalled on every retry, or refused).

    Possibly transient: a rerun resumes from the disk cache, and batches retry the task.
    """


class SeriesNotFoundError(InputError):
    """No analysable series, an unknown ``--series`` path, or an ambiguous choice (the message lists candidates)."""


class ConditionError(InputError):
    """Condition labels cannot be read: unknown table or column, no labelled frames."""


class DataError(InputError):
    """The data cannot be analysed: all NaN, constant, too few frames for the model."""


class ChannelMismatchError(InputError):
    """A stored model is applied to a recording whose channels (count, ROI or unit ids) are not the ones it was
    fitted on."""


class MemoryBudgetError(InputError):
    """An input or a parameter would need more memory than the budget (``--max-memory``) allows."""


class OutputError(CausalEmergenceError, OSError):
    """The result cannot be written: read-only target, full disk, locked file, existing analysis name."""


class NotFittedError(CausalEmergenceError, AttributeError):
    """A model method that needs a fitted model was called before ``fit``."""
