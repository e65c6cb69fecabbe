"""Output paths proven to lie inside the folder the user named.

A batch names its outputs after paths it did not choose (DANDI asset paths come from the
archive's API, file names from folders). :func:`confined_path` joins such a relative path to the
output folder only if the result provably stays inside it: no NUL, no absolute path, no ``..``
segment, and no existing symbolic link between the folder and the file.
"""

from __future__ import annotations

import os
import re
from pathlib import Path, PurePosixPath

from ..errors import OutputError

__all__ = ["check_inside", "confined_path"]

_DRIVE = re.compile(r"^[A-Za-z]:")


def confined_path(root: str | os.PathLike, relative: str) -> Path:
    """``root / relative``, refused unless it lies inside ``root``.

    Parameters
    ----------
    root : str or path
        The folder the user named (it may itself be a symbolic link: that was the user's choice).
    relative : str
        A ``/``-separated path from an untrusted source (an asset path, a file name).

    Raises
    ------
    OutputError
        ``relative`` holds a NUL, is absolute, has a ``..`` segment, or would be written through a
        symbolic link or outside ``root``.
    """
    if "\x00" in relative:
        raise OutputError(f"refused output path {relative!r}: it contains a NUL byte")
    pure = PurePosixPath(relative.replace("\\", "/"))
    if pure.is_absolute() or _DRIVE.match(relative):
        raise OutputError(f"refused output path {relative!r}: it is absolute; outputs stay inside {os.fspath(root)}")
    if ".." in pure.parts:
        raise OutputError(f"refused output path {relative!r}: '..' would leave {os.fspath(root)}")
    if not pure.parts:
        raise OutputError(f"refused output path {relative!r}: it names no file")
    candidate = Path(root).joinpath(*pure.parts)
    check_inside(root, candidate)
    return candidate


def check_inside(root: str | os.PathLike, path: str | os.PathLike) -> None:
    """Raise :class:`OutputError` unless ``path`` (below ``root``) is reached without symbolic links and stays inside.

    Run again just before writing: a link planted after planning is caught there.
    """
    root, path = Path(root), Path(path)
    try:
        parts = path.relative_to(root).parts
    except ValueError:
        raise OutputError(f"refused output path {os.fspath(path)!r}: it is not inside {os.fspath(root)}") from None
    current = root
    for part in parts:
        current = current / part
        if current.is_symlink():
            raise OutputError(
                f"refused output path {os.fspath(path)!r}: {os.fspath(current)} is a symbolic link; "
                f"outputs are never written through links"
            )
    real_root = root.resolve()
    real = path.resolve()
    if real != real_root and real_root not in real.parents:
        raise OutputError(f"refused output path {os.fspath(path)!r}: it resolves to {real}, outside {real_root}")
