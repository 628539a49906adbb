"""Figures as files: PNG and SVG rendered by kaleido in the machine's Chromium, HTML, and a page's zip."""

import io
import shutil
import zipfile

import plotly.graph_objects as go
import pytest

from vcc_core.plots import export

CHROMIUM = any(shutil.which(b) for b in export.BROWSERS)
needs_chromium = pytest.mark.skipif(not CHROMIUM, reason="PNG and SVG are rendered in Chromium (none installed)")


def figure() -> go.Figure:
    return go.Figure(go.Bar(x=["A", "B"], y=[3.0, 1.5]), layout={"title": {"text": "two bars"}})


@needs_chromium
def test_png_and_svg_are_real_images():
    png = export.figure_bytes(figure(), "png")
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width = int.from_bytes(png[16:20], "big")  # the IHDR chunk: twice plotly's default 700 px, for slides
    assert width == 2 * 700
    svg = export.figure_bytes(figure(), "svg").decode()
    assert svg.startswith("<svg")
    assert "two bars" in svg


@needs_chromium
def test_a_page_zip_holds_every_figure_in_every_format():
    archive = zipfile.ZipFile(io.BytesIO(export.figures_zip({"first": figure(), "second": figure()})))
    assert sorted(archive.namelist()) == sorted(f"{n}.{f}" for n in ("first", "second") for f in ("png", "svg", "html"))
    assert b"plotly" in archive.read("second.html")


def test_html_needs_no_browser_and_bad_formats_are_refused():
    assert b"cdn.plot.ly" in export.figure_bytes(figure(), "html")
    with pytest.raises(ValueError, match="unknown figure format 'jpeg'; choose one of png, svg, html"):
        export.figure_bytes(figure(), "jpeg")


def test_without_a_browser_the_message_says_what_to_install(monkeypatch):
    monkeypatch.delenv("BROWSER_PATH", raising=False)
    monkeypatch.setattr(export.shutil, "which", lambda name: None)
    with pytest.raises(RuntimeError, match="install Debian's chromium package, or set BROWSER_PATH"):
        export.browser_path()
