"""One style for every figure of the package: the Okabe–Ito colour-blind-safe palette, readable sizes.

Colours come from :func:`palette`, the Okabe–Ito colours (Okabe & Ito 2008, "Color Universal
Design"), which stay distinct under the common colour-vision deficiencies; magnitudes use
``viridis`` (perceptually uniform, colour-blind safe). Figures are drawn inside
:func:`figure_style` (sizes, spines, and the same palette for artists that take the default cycle).
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

__all__ = ["OKABE_ITO", "SEQUENTIAL_CMAP", "figure_style", "palette", "shorten", "styled"]

#: Okabe–Ito colours, in the order the figures use them (yellow last: weak on white).
OKABE_ITO = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#000000", "#F0E442")

#: Colour map for magnitudes (importance, speed).
SEQUENTIAL_CMAP = "viridis"

_RC = {
    "axes.prop_cycle": None,  # set in figure_style (needs matplotlib's cycler)
    "font.size": 9.0,
    "axes.titlesize": 9.5,
    "axes.labelsize": 9.0,
    "legend.fontsize": 8.0,
    "xtick.labelsize": 8.0,
    "ytick.labelsize": 8.0,
    "figure.titlesize": 10.5,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": False,
    "legend.frameon": False,
    "image.cmap": SEQUENTIAL_CMAP,
    "savefig.dpi": 120,
}

F = TypeVar("F", bound=Callable[..., Any])


def shorten(text: str, width: int = 90) -> str:
    """``text`` cut to ``width`` characters (an ellipsis marks the cut): names from a file can be of any length."""
    text = str(text)
    return text if len(text) <= width else text[: width - 1] + "…"


def palette(i: int) -> str:
    """The ``i``-th colour of the palette (cycling), as hex: fixed at drawing time, whatever the rc settings then."""
    return OKABE_ITO[int(i) % len(OKABE_ITO)]


@contextlib.contextmanager
def figure_style() -> Iterator[None]:
    """Context in which new figures take the package's style (palette, font sizes, no top/right spines)."""
    import matplotlib
    from cycler import cycler

    with matplotlib.rc_context({**_RC, "axes.prop_cycle": cycler(color=list(OKABE_ITO))}):
        yield


def styled(fn: F) -> F:
    """Decorator: draw the figure of ``fn`` inside :func:`figure_style`."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with figure_style():
            return fn(*args, **kwargs)

    return wrapper  # type: ignore[return-value]
