"""Renamed keywords and methods: the old name keeps working for a while, with a ``FutureWarning`` naming the new one.

The renames are listed in ``CHANGELOG.md`` ("Names").
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

__all__ = ["renamed_keys", "renamed_keywords", "warn_renamed"]


def warn_renamed(old: str, new: str, where: str, *, what: str = "keyword", stacklevel: int = 3) -> None:
    """Emit the ``FutureWarning`` of a ``what`` (keyword, method) ``old`` of ``where`` renamed ``new``."""
    warnings.warn(
        f"{where}: the {what} {old!r} is now {new!r}; {old!r} will be removed in a future version",
        FutureWarning,
        stacklevel=stacklevel,
    )


def renamed_keys(values: dict[str, Any], renames: dict[str, str], *, where: str | None = None) -> dict[str, Any]:
    """A copy of ``values`` with each old key (``renames``: old -> new) under its new name.

    ``where`` names the caller in a ``FutureWarning`` per old key; ``None`` reads them silently
    (what a file stores keeps its names). Giving both an old key and its new one is an
    :class:`~ndx_causal_emergence.errors.InputError`.

    >>> renamed_keys({"cut": 2, "seed": 0}, {"cut": "q"})
    {'seed': 0, 'q': 2}
    """
    from .errors import InputError

    out = dict(values)
    for old, new in renames.items():
        if old in out:
            if new in out:
                raise InputError(f"give {new!r} or its old name {old!r}, not both.")
            if where is not None:
                warn_renamed(old, new, where, stacklevel=4)
            out[new] = out.pop(old)
    return out


def renamed_keywords(**renames: str) -> Callable[[F], F]:
    """Decorator: accept each old keyword (``old="new"``) as the new one, with a ``FutureWarning``.

    Giving both the old and the new name is a ``TypeError``.

    >>> @renamed_keywords(random_state="seed")
    ... def draw(*, seed: int = 0) -> int:
    ...     return seed
    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     draw(random_state=3), caught[0].category.__name__
    (3, 'FutureWarning')
    """

    def decorate(func: F) -> F:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            for old, new in renames.items():
                if old in kwargs:
                    if new in kwargs:
                        raise TypeError(f"{func.__qualname__}() got both {old!r} and its new name {new!r}")
                    warn_renamed(old, new, f"{func.__qualname__}()")
                    kwargs[new] = kwargs.pop(old)
            return func(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate
