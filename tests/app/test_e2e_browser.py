"""End to end: the dashboard served by ``streamlit run`` and driven in Debian's Chromium with Playwright.

Every page is visited and its main control used; no page may show an exception or an error box (the
Bring-your-own page must show one for a path outside the data folders, and then load a good file). Screenshots
and the interaction latencies (action to the end of the rerun, timed in the browser) are written to
``$VCC_E2E_OUT`` (default: the test's temporary folder). ``$VCC_E2E_DATA`` picks the dataset (default ``tiny``;
``screen`` is the app's default dataset; a path to a VCC-size file works when its cache was precomputed).
"""

from __future__ import annotations

import json
import os
import time
import zipfile
from pathlib import Path

import pytest

from tests.app.e2e_server import RUN_TIMEOUT_MS, chromium, require_chromium, serve
from vcc_core.analyses.sweep import SCALES
from vcc_core.data.simulate import write_simulation

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

sync_api = require_chromium()


@pytest.fixture(scope="module")
def out_dir(tmp_path_factory) -> Path:
    folder = Path(os.environ.get("VCC_E2E_OUT") or tmp_path_factory.mktemp("e2e"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    """The app's only data folder, holding one small real-layout file for the Bring-your-own page."""
    folder = tmp_path_factory.mktemp("data")
    write_simulation(folder / "tiny_upload.h5ad", "tiny", seed=5)
    return folder


@pytest.fixture(scope="module")
def server(data_dir, out_dir):
    dirs = os.pathsep.join(filter(None, [str(data_dir), os.environ.get("VCC_E2E_DATA_DIRS")]))
    env = {"VCC_DATA_DIRS": dirs}
    if os.environ.get("VCC_E2E_CACHE_DIR"):  # a cache filled by `precompute`, for a large dataset
        env["VCC_CACHE_DIR"] = os.environ["VCC_E2E_CACHE_DIR"]
    STARTED["server"] = time.monotonic()
    with serve(env=env, log_path=out_dir / "server.log") as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    with chromium(sync_api) as launched:
        yield launched


@pytest.fixture
def page(browser):
    # Tall, so a full-page screenshot holds the whole page (Streamlit scrolls inside its own container).
    context = browser.new_context(viewport={"width": 1500, "height": 2600})
    page = context.new_page()
    page.set_default_timeout(RUN_TIMEOUT_MS)
    yield page
    context.close()


@pytest.fixture(scope="module")
def latencies(out_dir):
    found: dict[str, list[float]] = {}
    yield found
    found["dropped_interactions"] = DROPPED
    (out_dir / "latency.json").write_text(json.dumps(found, indent=2))


DATA = os.environ.get("VCC_E2E_DATA", "tiny")
STARTED: dict[str, float] = {}

_WATCH = """() => {
  window.__states = [];
  if (!window.__watching) {
    // The whole document is watched: the app's root element can be replaced between runs.
    new MutationObserver(records => records.forEach(r => window.__states.push(
        [performance.now(), r.target.getAttribute('data-test-script-state')])))
      .observe(document.body, {attributes: true, subtree: true, attributeFilter: ['data-test-script-state']});
    window.__watching = true;
  }
  window.__t0 = performance.now();
}"""
_RERUN_DONE = """() => {
  const s = window.__states, i = s.findIndex(x => x[1] === 'running');
  return i >= 0 && s.slice(i).some(x => x[1] === 'notRunning');
}"""
_LATENCY = """() => {
  const s = window.__states, i = s.findIndex(x => x[1] === 'running');
  return s.slice(i).find(x => x[1] === 'notRunning')[0] - window.__t0;
}"""


def open_page(page, url: str, *, charts: int = 0, tables: int = 0) -> None:
    """Open ``url`` and wait until the run is over and at least ``charts`` plotly charts and ``tables`` show."""
    page.goto(url)
    page.wait_for_function(
        """([charts, tables]) => {
          const app = document.querySelector('[data-testid="stApp"]');
          return app && app.getAttribute('data-test-script-state') === 'notRunning'
            && document.querySelector('h1') !== null
            && document.querySelectorAll('[data-testid="stPlotlyChart"]').length >= charts
            && document.querySelectorAll('[data-testid="stDataFrame"]').length >= tables;
        }""",
        arg=[charts, tables],
    )
    page.wait_for_timeout(300)  # let the last deltas paint


DROPPED: list[str] = []
"""Interactions repeated because the first never reached the server (see :func:`act`)."""


def act(page, action, *, repeat_as: str | None = None) -> float:
    """Run ``action`` (a user interaction) and wait for the rerun it triggers; returns its latency in seconds.

    In full-suite runs the first interaction on a freshly opened page sometimes never reaches the server: the
    browser shows it (a moved slider, a submitted field) but no rerun starts, for minutes. An action that is
    safe to repeat passes ``repeat_as`` (a name): after 30 s without a rerun it is done once more, like a user
    would, and the name is recorded in ``DROPPED`` (written to latency.json; each test bounds its count).
    """
    page.evaluate(_WATCH)
    action()
    try:
        page.wait_for_function(_RERUN_DONE, timeout=30_000 if repeat_as else None)
    except sync_api.TimeoutError as err:
        if repeat_as is None:
            raise AssertionError(f"no rerun seen; script states {page.evaluate('window.__states')}") from err
        DROPPED.append(repeat_as)
        return act(page, action)
    page.wait_for_timeout(200)
    return page.evaluate(_LATENCY) / 1000


def assert_no_errors(page, name: str) -> None:
    exceptions = page.locator('[data-testid="stException"]')
    errors = page.locator('[data-testid="stAlertContentError"]')
    texts = [t for t in exceptions.all_inner_texts() + errors.all_inner_texts()]
    assert not texts, f"{name}: {texts}"


def shot(page, out_dir: Path, name: str) -> None:
    page.screenshot(path=str(out_dir / f"{name}.png"), full_page=True)


def test_dataset_page(page, server, out_dir, latencies):
    open_page(page, f"{server}/?data={DATA}", charts=4)
    latencies["server_start_to_dataset_page"] = [time.monotonic() - STARTED["server"]]  # the first page served
    assert page.get_by_text("Cells", exact=True).first.is_visible()
    logo = page.locator('[data-testid="stSidebar"] [data-testid="stSidebarLogo"]').first
    assert logo.is_visible()  # assets/logo.svg, served by st.logo
    assert logo.evaluate("image => image.naturalWidth") > 0  # the file was found and drawn
    page.get_by_text("Knockdown table").click()  # expanders open in the browser, without a rerun
    assert page.locator('[data-testid="stDataFrame"]').first.is_visible()
    page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]').first.click()
    act(page, lambda: page.get_by_role("option", name="tiny_upload.h5ad").click())
    assert page.get_by_text("tiny_upload.h5ad · values read as").is_visible()
    assert_no_errors(page, "dataset")
    shot(page, out_dir, "1_dataset")


def test_tour_clicks_through_every_step(page, server, out_dir):
    open_page(page, f"{server}/tour?data={DATA}", charts=1)
    titles = []
    for i in range(8):
        heading = page.locator('[data-testid="stHeading"] h3').first
        info = page.locator('[data-testid="stAlertContentInfo"]')
        if info.count():  # the last step says why it cannot be shown on a tiny dataset
            titles.append(info.first.inner_text())
        else:
            titles.append(heading.inner_text())
            assert page.locator('[data-testid="stPlotlyChart"]').count() >= 1
            assert page.get_by_text("The whole story:").is_visible()
        assert_no_errors(page, f"tour step {i + 1}")
        shot(page, out_dir, f"1b_tour_{i + 1}")
        button = page.get_by_role("button", name="Next")
        if i < 7:
            act(page, button.click)
            page.wait_for_function(
                "() => document.querySelectorAll('[data-testid=\"stPlotlyChart\"]').length"
                " + document.querySelectorAll('[data-testid=\"stAlertContentInfo\"]').length > 0"
            )
        else:
            assert button.is_disabled()
    assert titles[0] == "A perturbation's effect"
    assert titles[6] == "Simple models, close to the top"
    assert len(set(titles)) == 8


def test_models_page(page, server, out_dir):
    open_page(page, f"{server}/models?data={DATA}", tables=1)
    assert page.get_by_text("Leaderboard").first.is_visible()
    act(page, lambda: page.get_by_text("counts", exact=True).click())
    assert_no_errors(page, "models")
    shot(page, out_dir, "2_models")


def test_explorer_page(page, server, out_dir, latencies):
    open_page(page, f"{server}/explorer?data={DATA}", charts=3)
    box = page.locator('[data-testid="stMultiSelect"]').filter(has_text="Test perturbations")
    times = []
    for _ in range(2):
        box.locator("input").click()
        option = page.get_by_role("option").filter(has_not_text="Select all").first
        option.wait_for()
        times.append(act(page, option.click))
        page.keyboard.press("Escape")
    latencies["explorer_add_perturbation"] = times
    assert page.locator('[data-testid="stTab"]').count() >= 2
    assert_no_errors(page, "explorer")
    page.get_by_role("listbox").wait_for(state="hidden")  # the closed menu fades out: not in the screenshot
    shot(page, out_dir, "3_explorer")


def slide(page, thumb, key: str, labels: list[str], want: str) -> float:
    """Press ``key`` on a slider ``thumb`` (it focuses, then presses) and wait for the rerun and for the thumb to
    show ``want``; returns the press's latency. A press the slider did not take (in full-suite runs a rerun came
    but the value stayed where it was) is done once more toward ``want``, and recorded in ``DROPPED``."""
    took = act(page, lambda: thumb.press(key), repeat_as="sweep slider")
    try:
        sync_api.expect(thumb).to_have_attribute("aria-valuetext", want, timeout=5_000)
    except AssertionError:
        DROPPED.append("sweep slider")
        now = labels.index(thumb.get_attribute("aria-valuetext"))
        act(page, lambda: thumb.press("ArrowRight" if now < labels.index(want) else "ArrowLeft"))
        sync_api.expect(thumb).to_have_attribute("aria-valuetext", want, timeout=5_000)
    return took


def test_sweep_slider(page, server, out_dir, latencies):
    open_page(page, f"{server}/sweep?data={DATA}", charts=1, tables=1)
    thumb = page.locator('[data-testid="stSlider"] input[type="range"]').first
    labels = [f"{v:.3g}" for v in SCALES]  # the page's format
    at = labels.index("1")
    assert thumb.get_attribute("aria-valuetext") == "1"
    times = []
    for key in ("ArrowRight", "ArrowRight", "ArrowLeft", "ArrowLeft", "ArrowLeft"):
        at += 1 if key == "ArrowRight" else -1
        times.append(slide(page, thumb, key, labels, labels[at]))
    latencies["sweep_slider"] = times
    assert DROPPED.count("sweep slider") <= 2, f"{DROPPED.count('sweep slider')} of 5 slider moves were lost"
    assert thumb.get_attribute("aria-valuetext") == labels[labels.index("1") - 1]
    assert page.locator('[data-testid="stPlotlyChart"]').count() >= 1
    assert page.locator('[data-testid="stSliderThumbValue"]').first.inner_text() == labels[at]
    assert_no_errors(page, "sweep")
    shot(page, out_dir, "4_sweep")


def test_ceiling_page(page, server, out_dir):
    open_page(page, f"{server}/ceiling?data={DATA}", charts=3)
    assert_no_errors(page, "ceiling")
    shot(page, out_dir, "5_ceiling")
    # a figure for a slide: the first figure's menu, its PNG made by kaleido in Chromium when clicked
    page.locator('[data-testid="stPopover"] button').first.click()
    with page.expect_download() as png:
        page.get_by_role("button", name="PNG", exact=True).first.click()
    assert png.value.suggested_filename == "des_ceiling.png"
    assert Path(png.value.path()).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    page.keyboard.press("Escape")
    with page.expect_download() as bundle:  # every figure of the page, three formats each
        page.locator('[data-testid="stSidebar"]').get_by_role("button", name="figures of this page").click()
    names = zipfile.ZipFile(bundle.value.path()).namelist()
    assert "des_ceiling.svg" in names
    assert "pds_ceiling.png" in names
    assert len(names) == 3 * len({n.rsplit(".", 1)[0] for n in names})


def test_leaderboard_page(page, server, out_dir):
    open_page(page, f"{server}/leaderboard?data={DATA}", charts=1, tables=1)
    assert_no_errors(page, "leaderboard")
    shot(page, out_dir, "6_leaderboard")


def test_bring_your_own_path(page, server, out_dir, data_dir):
    open_page(page, f"{server}/byo?data={DATA}")
    field = page.get_by_label("Path", exact=False).first
    field.fill("/etc/passwd")
    act(page, lambda: field.press("Enter"), repeat_as="byo path")
    errors = page.locator('[data-testid="stAlertContentError"]').all_inner_texts()
    assert any("outside" in e for e in errors), errors
    field.fill(str(data_dir / "tiny_upload.h5ad"))
    act(page, lambda: field.press("Enter"), repeat_as="byo path")
    # Loading ends in st.rerun: the note is shown by the second run, which also clears the first file's error.
    page.get_by_text("perturbations, now selected").wait_for()
    page.wait_for_function(
        """() => document.querySelector('[data-testid="stApp"]').getAttribute('data-test-script-state')
                 === 'notRunning'"""
    )
    assert_no_errors(page, "byo")
    assert DROPPED.count("byo path") <= 1, "both submissions of the path form were lost"
    shot(page, out_dir, "7_byo")


def test_eight_sessions_at_once_keep_their_own_choices(browser, server, out_dir):
    """Eight browser sessions on one server at once: four explorers with their own model and perturbations in
    the URL, four other pages. Every run completes without an error, and each explorer shows its own choice."""
    from vcc_core.data.dataset import open_dataset, split_perts

    test_perts = split_perts(open_dataset(DATA), "test")
    choices = [[p] for p in test_perts[:2]] + [test_perts[:2], test_perts[1:3]]
    models = ["ridge", "mean_baseline", "mean_baseline", "ridge"]
    urls = [
        f"{server}/explorer?data={DATA}&model={m}&perts={','.join(c)}" for m, c in zip(models, choices, strict=True)
    ]
    urls += [f"{server}/{name}?data={DATA}" for name in ("", "sweep", "ceiling", "leaderboard")]
    contexts = [browser.new_context(viewport={"width": 1300, "height": 1600}) for _ in urls]
    try:
        pages = [context.new_page() for context in contexts]
        for page, url in zip(pages, urls, strict=True):
            page.set_default_timeout(RUN_TIMEOUT_MS)
            page.goto(url)  # returns once the page has loaded; the runs then go on side by side on the server
        for i, page in enumerate(pages):
            open_page(page, page.url, charts=1)
            assert_no_errors(page, urls[i])
        for page, model, choice in zip(pages[:4], models, choices, strict=True):
            assert page.locator('[data-testid="stTab"]').all_inner_texts() == choice
            caption = page.get_by_text("is fitted on the train split").first.inner_text()
            assert caption.startswith(f"{model} is fitted"), caption
        shot(pages[3], out_dir, "8_concurrent_explorer")
    finally:
        for context in contexts:
            context.close()
