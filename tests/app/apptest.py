"""Shared helpers of the page tests: a page of the real app run through AppTest, and its charts read back."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]


def app_page(page: str | None = None, *, data: str | None = "tiny", **params) -> AppTest:
    """The frame (``app.py``) switched to ``app_pages/<page>`` with ``data`` and ``params`` in the URL, not yet run."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
    if data:
        at.query_params["data"] = data
    for key, value in params.items():
        at.query_params[key] = value
    if page:
        at.switch_page(f"app_pages/{page}")
    return at


def run_page(page: str | None = None, *, data: str | None = "tiny", **params) -> AppTest:
    """:func:`app_page`, run once."""
    return app_page(page, data=data, **params).run()


def charts(at: AppTest) -> dict[str, dict]:
    """Plotly specs of the page's charts by element key (keys are embedded in the element id)."""
    out = {}
    for chart in at.get("plotly_chart"):
        spec = json.loads(chart.proto.spec)
        key = chart.proto.id.split("-", 2)[-1] if chart.proto.id else str(len(out))
        out[key] = spec
    return out


def chart(at: AppTest, key: str) -> dict:
    """Plotly spec of the chart whose element key is ``key`` (embedded at the end of the element id)."""
    hits = [json.loads(c.proto.spec) for c in at.get("plotly_chart") if c.proto.id.endswith(f"-{key}")]
    assert hits, f"no chart with key {key!r}"
    return hits[0]


def find(at: AppTest, prefix: str) -> dict:
    """Plotly spec of the first chart whose element key contains ``prefix``."""
    hits = [spec for key, spec in charts(at).items() if prefix in key]
    assert hits, f"no chart with key {prefix!r}; have {list(charts(at))}"
    return hits[0]


def values(array) -> np.ndarray:
    """A trace's x or y: a list, or plotly's typed-array encoding ``{"dtype", "bdata"}``."""
    if isinstance(array, dict):
        return np.frombuffer(base64.b64decode(array["bdata"]), dtype=np.dtype(array["dtype"]))
    return np.asarray(array, dtype=np.float64)


def traces(spec: dict) -> dict[str, dict]:
    """A chart's traces by name."""
    return {t.get("name"): t for t in spec["data"]}
