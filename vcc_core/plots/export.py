"""Figures as files for slides and papers: PNG and SVG, the interactive HTML, and a zip of several figures.

PNG and SVG come from kaleido, which renders the figure with plotly.js in a headless Chromium: the image is exactly
what the page draws (a redraw with another library would be another figure, and plotly's older orca exporter is
retired). kaleido needs a Chromium or Chrome: ``$BROWSER_PATH``, else ``chromium``, ``chromium-browser`` or
``google-chrome`` on the ``PATH`` (Debian's ``chromium`` on this project's machines, the one the browser tests
drive). One browser is started on the first image and kept for the process (an image then takes a tenth of a
second, not two).
"""

from __future__ import annotations

import atexit
import functools
import io
import os
import shutil
import threading
import warnings
import zipfile

import plotly.graph_objects as go

FORMATS = {"png": "image/png", "svg": "image/svg+xml", "html": "text/html"}
"""File formats of a figure and their MIME types."""
BROWSERS = ("chromium", "chromium-browser", "google-chrome")
PNG_SCALE = 2  # twice the page's pixels: sharp on a slide

_server = threading.Lock()
_started = False


def browser_path() -> str:
    """The Chromium kaleido will use. ``RuntimeError`` saying what to install when there is none."""
    found = os.environ.get("BROWSER_PATH") or next(filter(None, map(shutil.which, BROWSERS)), None)
    if not found:
        msg = (
            "PNG and SVG figures need Chromium or Chrome (none found): install Debian's chromium package, or set "
            "BROWSER_PATH to a Chrome binary; the HTML download works without it"
        )
        raise RuntimeError(msg)
    return found


@functools.cache
def static_export_problem() -> str | None:
    """Why PNG and SVG cannot be made here (no Chromium), or None: checked once per process."""
    try:
        browser_path()
    except RuntimeError as err:
        return str(err)
    return None


def figure_bytes(fig: go.Figure, fmt: str) -> bytes:
    """``fig`` as a ``png``, ``svg`` or ``html`` file (HTML loads plotly.js from its CDN)."""
    if fmt not in FORMATS:
        msg = f"unknown figure format {fmt!r}; choose one of {', '.join(FORMATS)}"
        raise ValueError(msg)
    if fmt == "html":
        return fig.to_html(include_plotlyjs="cdn").encode()
    _start_browser()
    with warnings.catch_warnings():  # plotly notes that per-call options are unused with a running server
        warnings.simplefilter("ignore", UserWarning)
        return fig.to_image(format=fmt, scale=PNG_SCALE if fmt == "png" else 1)


def figures_zip(figures: dict[str, go.Figure], formats: tuple[str, ...] = ("png", "svg", "html")) -> bytes:
    """One zip with every figure in every format: ``<name>.<format>``."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, fig in figures.items():
            for fmt in formats:
                archive.writestr(f"{name}.{fmt}", figure_bytes(fig, fmt))
    return buffer.getvalue()


def _start_browser() -> None:
    global _started
    with _server:
        if _started:
            return
        import kaleido

        os.environ.setdefault("BROWSER_PATH", browser_path())
        kaleido.start_sync_server(silence_warnings=True)
        atexit.register(kaleido.stop_sync_server, silence_warnings=True)
        _started = True
