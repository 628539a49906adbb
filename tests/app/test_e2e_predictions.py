"""End to end, in Chromium: a modeller's own predictions. A submission registered by path and a pseudobulk table by
upload are picked on the explorer, sweep, ceiling and leaderboard pages; a click on the A-against-B chart opens
that perturbation in the explorer; after a server restart both are listed, and open from the disk cache."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.app.e2e_server import RUN_TIMEOUT_MS, chromium, require_chromium, serve
from vcc_core.data.dataset import open_dataset
from vcc_core.data.predictions import table_from_profiles
from vcc_core.evaluation.submission import to_submission
from vcc_core.models.training import train_predict

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

sync_api = require_chromium()


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> dict[str, Path]:
    """A data folder holding ridge's predicted cells, a table outside it to upload, a cache and an output folder."""
    root = tmp_path_factory.mktemp("mine")
    folders = {name: root / name for name in ("data", "upload", "cache", "out")}
    for folder in folders.values():
        folder.mkdir()
    data = open_dataset("tiny")
    ridge = train_predict(data, "ridge")
    to_submission(ridge, data).write_h5ad(folders["data"] / "ridge_cells.h5ad")
    table_from_profiles(ridge, folders["upload"] / "my_table.csv")
    return folders


@pytest.fixture(scope="module")
def browser():
    with chromium(sync_api) as launched:
        yield launched


def _page(browser):
    context = browser.new_context(viewport={"width": 1500, "height": 2400})
    page = context.new_page()
    page.set_default_timeout(RUN_TIMEOUT_MS)
    return page


def _settled(page, *, charts: int = 0) -> None:
    page.wait_for_function(
        """(charts) => {
          const app = document.querySelector('[data-testid="stApp"]');
          return app && app.getAttribute('data-test-script-state') === 'notRunning' && document.querySelector('h1')
            && document.querySelectorAll('[data-testid="stPlotlyChart"]').length >= charts;
        }""",
        arg=charts,
    )
    page.wait_for_timeout(300)


def _open(page, url: str, *, charts: int = 0) -> float:
    """Open ``url``; the seconds until its run is over and ``charts`` plotly charts show."""
    start = time.monotonic()
    page.goto(url)
    _settled(page, charts=charts)
    return time.monotonic() - start


def _no_errors(page, name: str) -> None:
    texts = page.locator('[data-testid="stException"], [data-testid="stAlertContentError"]').all_inner_texts()
    assert not texts, f"{name}: {texts}"


def _submit_form(page, button: str) -> None:
    page.get_by_role("button", name=button).click()
    page.wait_for_timeout(500)
    _settled(page)


def test_register_browse_compare_and_restart(browser, workdir):
    env = {"VCC_DATA_DIRS": str(workdir["data"]), "VCC_CACHE_DIR": str(workdir["cache"])}
    out, times = workdir["out"], {}
    with serve(env=env, log_path=out / "server.log") as url:
        page = _page(browser)
        _open(page, f"{url}/byo?data=tiny")
        fields = page.get_by_label("…or the path of a file in a data folder")
        fields.nth(1).fill(str(workdir["data"] / "ridge_cells.h5ad"))
        _submit_form(page, "Load predictions")
        page.get_by_text("Loaded ridge_cells.h5ad (predicted cells): 4 perturbations").wait_for()
        page.locator('[data-testid="stFileUploaderDropzoneInput"]').nth(1).set_input_files(
            str(workdir["upload"] / "my_table.csv")
        )
        _submit_form(page, "Load predictions")
        page.get_by_text("Loaded my_table.csv (pseudobulk table): 4 perturbations").wait_for()
        _no_errors(page, "byo")
        page.screenshot(path=str(out / "1_byo.png"), full_page=True)

        for name in ("ridge_cells.h5ad", "my_table.csv"):
            _open(page, f"{url}/explorer?data=tiny&model={name}", charts=2)
            assert page.get_by_text(f"{name} (", exact=False).first.is_visible()
            _no_errors(page, f"explorer {name}")
        page.screenshot(path=str(out / "2_explorer_table.png"), full_page=True)
        overview = page.locator('[data-testid="stVegaLiteChart"] canvas, [data-testid="stVegaLiteChart"] svg.marks')
        box = overview.first.bounding_box()  # a drag along the ranked bars picks a range of perturbations
        y = box["y"] + box["height"] / 2
        page.mouse.move(box["x"] + box["width"] * 0.15, y)
        page.mouse.down()
        page.mouse.move(box["x"] + box["width"] * 0.75, y, steps=10)
        page.mouse.up()
        page.wait_for_function("() => document.querySelectorAll('[data-testid=stTab]').length >= 2")
        _settled(page, charts=3)
        _no_errors(page, "explorer after a drag on the overview")
        for path in ("sweep", "ceiling", "leaderboard"):
            _open(page, f"{url}/{path}?data=tiny")
            _no_errors(page, path)
        assert page.get_by_text("my_table.csv").first.is_visible()  # the leaderboard's rows
        page.screenshot(path=str(out / "3_leaderboard.png"), full_page=True)

        _open(page, f"{url}/compare?data=tiny&a=ridge_cells.h5ad&b=mean_baseline", charts=1)
        _no_errors(page, "compare")
        page.screenshot(path=str(out / "4_compare.png"), full_page=True)
        point = page.locator('[data-testid="stPlotlyChart"] .scatterlayer .trace .points path').first
        box = point.bounding_box()  # plotly's drag layer covers the points: click where the point is drawn
        page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        page.wait_for_url("**/explorer?**")
        _settled(page, charts=2)
        assert "model=ridge_cells.h5ad" in page.url
        assert "perts=" in page.url
        _no_errors(page, "explorer after the click")
        page.screenshot(path=str(out / "5_explorer_from_click.png"), full_page=True)
        page.context.close()

    with serve(env=env, log_path=out / "server_restarted.log") as url:
        page = _page(browser)
        _open(page, f"{url}/byo?data=tiny")
        page.get_by_text("`ridge_cells.h5ad`", exact=False)
        listed = page.get_by_text("kept for every session").all_inner_texts()
        assert len(listed) == 2, listed
        times["explorer_after_restart_s"] = _open(page, f"{url}/explorer?data=tiny&model=ridge_cells.h5ad", charts=2)
        _no_errors(page, "explorer after restart")
        page.context.close()
    (out / "times.json").write_text(json.dumps(times, indent=2))
