"""Eight browser sessions at once: every page run completes, and each session keeps its own choices.

Sessions share the process-wide caches (loaded dataset, trained models) but not their widgets, URL or session
state; the threads below start together so the first runs race for the same cache entries.
"""

from __future__ import annotations

import itertools
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[1]
SESSIONS = 8
MODELS = ("ridge", "mean_baseline")


def _session(model: str) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
    at.query_params["data"] = "tiny"
    at.query_params["model"] = model
    return at.switch_page("pages/explorer.py")


def _open(at: AppTest, start: threading.Barrier) -> AppTest:
    start.wait()
    at.run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    return at


def _choose(at: AppTest, choice: list[str]) -> AppTest:
    at.multiselect(key="perts").set_value(choice).run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    return at


def _shows(at: AppTest, model: str, choice: list[str]) -> None:
    """What a session shows is its own model and its own perturbations, in its widgets, URL and tables."""
    assert at.selectbox(key="model").value == model
    assert at.multiselect(key="perts").value == choice
    assert at.query_params["perts"] == ",".join(choice)
    assert at.query_params["model"] == model
    assert list(at.dataframe[0].value.index) == choice  # the metrics of the chosen perturbations
    assert [t.label for t in at.tabs] == choice


def test_eight_sessions_run_the_explorer_at_once_and_keep_their_own_choices():
    start = threading.Barrier(SESSIONS)
    models = [MODELS[i % 2] for i in range(SESSIONS)]
    with ThreadPoolExecutor(SESSIONS) as pool:
        sessions = list(pool.map(_open, [_session(m) for m in models], [start] * SESSIONS))
    options = sessions[0].multiselect(key="perts").options
    assert all(at.multiselect(key="perts").options == options for at in sessions)
    # Every session a different pick: each perturbation alone, then pairs.
    choices = [list(c) for c in itertools.chain(itertools.combinations(options, 1), itertools.combinations(options, 2))]
    choices = choices[:SESSIONS]
    assert len({tuple(c) for c in choices}) == SESSIONS

    with ThreadPoolExecutor(SESSIONS) as pool:
        sessions = list(pool.map(_choose, sessions, choices))
    for at, model, choice in zip(sessions, models, choices, strict=True):
        _shows(at, model, choice)

    # A second round of reruns, all at once: nothing leaks from one session into another.
    with ThreadPoolExecutor(SESSIONS) as pool:
        sessions = list(pool.map(lambda at: at.run(), sessions))
    for at, model, choice in zip(sessions, models, choices, strict=True):
        assert not at.exception
        _shows(at, model, choice)


PAGES = sorted(p.name for p in (ROOT / "pages").glob("*.py") if not p.name.startswith("_"))


def _page(name: str) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
    at.query_params["data"] = "tiny"
    return at.switch_page(f"pages/{name}")


def test_eight_sessions_on_different_pages_at_once_all_render():
    pages = [PAGES[i % len(PAGES)] for i in range(SESSIONS)]
    start = threading.Barrier(SESSIONS)
    with ThreadPoolExecutor(SESSIONS) as pool:
        sessions = list(pool.map(_open_any, [_page(p) for p in pages], [start] * SESSIONS))
    for at, page in zip(sessions, pages, strict=True):
        assert not at.exception, (page, at.exception)
        assert not at.error, (page, [e.value for e in at.error])
        assert at.query_params["data"] == "tiny"


def _open_any(at: AppTest, start: threading.Barrier) -> AppTest:
    start.wait()
    return at.run()
