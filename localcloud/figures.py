"""Plots for the local cloud's HTML pages (dashboard, analytics report, chaos report): one way to draw them.

Pages are single files a person opens from disk or an artifact store, so each plot is embedded as
a base64 PNG ``data:`` URI. matplotlib is imported only when a page is drawn (it costs about half
a second) and always with the Agg backend: these run on machines with no display.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def figure(width: float = 6.4, height: float = 3.0) -> Iterator[tuple[Any, Any]]:
    """A matplotlib figure and its one axes, closed on leaving (a page draws many: they must not pile up)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(width, height), dpi=100)
    try:
        yield fig, ax
    finally:
        plt.close(fig)


def png_base64(fig: Any) -> str:
    """The figure, laid out tight, as base64 PNG for ``<img src="data:image/png;base64,...">``."""
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return base64.b64encode(buffer.getvalue()).decode()
