"""Checks of an output target that need no results, run before any data is read.

A fit takes minutes to hours; a target that cannot be written (an existing file without
``--overwrite``, a missing folder, the input itself, a read-only file, a symbolic link) is
reported at once instead of after the fit.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from ..errors import InputError, OutputError

__all__ = ["check_in_place_target", "check_out_file"]


def _is_local(source: str) -> bool:
    from ..dandi.refs import is_dandi_reference

    return not is_dandi_reference(source) and not source.lower().startswith(("http://", "https://"))


def check_out_file(out: str | os.PathLike, *, source: str, overwrite: bool) -> None:
    """Raise unless ``out`` can receive a new output file (``--out``).

    Raises
    ------
    OutputError
        ``out`` is a symbolic link (dangling or not: it would redirect the write), a folder, an
        existing file without ``overwrite``, or lies in a missing or read-only folder.
    InputError
        ``out`` is the input file (use ``--in-place``).
    """
    out = Path(out).expanduser()
    if out.is_symlink():
        raise OutputError(f"--out {out} is a symbolic link; give the path of a regular file (links are not followed)")
    if _is_local(source) and out.exists() and out.resolve() == Path(source).expanduser().resolve():
        raise InputError(f"--out {out} is the input file; use --in-place to add the results to the input")
    if out.is_dir():
        raise OutputError(f"--out {out} is a folder; give a file name (or use --out-dir for a batch)")
    if out.exists() and not overwrite:
        raise OutputError(f"{out} exists; pass --overwrite to replace it or choose another --out")
    folder = out.absolute().parent
    if not folder.is_dir():
        raise OutputError(f"the folder {folder} of --out does not exist; create it first")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputError(f"cannot write into {folder}: permission denied")


def check_in_place_target(source: str) -> None:
    """Raise unless ``source`` is a local file that ``--in-place`` may modify.

    A file without any write permission bit counts as read-only even for a user who could
    override it (root): its owner marked it so.

    Raises
    ------
    InputError
        Not a local file.
    OutputError
        The file or its folder is read-only.
    """
    if not _is_local(source):
        raise InputError("--in-place works on local files only; write a new file with --out instead")
    path = Path(source).expanduser()
    if not path.is_file():
        raise InputError(f"--in-place needs an existing local file; {path} is not one")
    if not path.stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH) or not os.access(path, os.W_OK):
        raise OutputError(f"{path} is read-only; --in-place would modify it (make it writable or use --out)")
    if not os.access(path.absolute().parent, os.W_OK | os.X_OK):
        raise OutputError(
            f"cannot write into {path.absolute().parent} (read-only folder); --in-place replaces the "
            "file atomically from a temporary file beside it"
        )
