"""Renamed keywords and methods: the old name keeps working for a while, with a ``FutureWarning`` naming the new one.

The renames are listed in ``CHANGELOG.md`` ("Names").
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

__all__ = ["renamed_keywords", "warn_renamed"]


def warn_renamed(old: str, new: str, where: str, *, what: str = "keyword", stacklevel: int = 3) -> None:
    """Emit the ``FutureWarning`` of a ``what`` (keyword, method) ``old`` of ``where`` renamed ``new``."""
    warnings.warn(
        f"{where}: the {what} {old!r} is now {new!r}; {old!r} will be removed in a future version",
        FutureWarning,
        stacklevel=stacklevel,
    )


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
