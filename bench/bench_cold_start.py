"""Seconds from starting ``vcc app`` to the Dataset page of the default dataset drawn in Chromium.

Two starts, each a new server on its own cache folder: one on an empty cache (the first start on a machine where
``make install``'s warm-up has not prepared the dataset: it is simulated on the spot), one after
``python -m vcc_core warm-up`` (what ``make app`` runs before the server). The clock starts when the server process
is started and stops when the page shows its four headline numbers; Chromium is open before, as a user's browser is.

    python bench/bench_cold_start.py [--keep FOLDER]

Needs Debian's chromium and playwright (``make install`` puts playwright in the venv).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.app.e2e_server import ARGS, CHROMIUM, free_port  # noqa: E402


def seconds_to_dataset_page(browser, cache: Path, log: Path) -> float:
    """Start ``vcc app`` on ``cache``, open it in ``browser``; seconds until the page shows its metrics."""
    port = free_port()
    env = {**os.environ, "VCC_CACHE_DIR": str(cache), "STREAMLIT_SERVER_HEADLESS": "true"}
    cmd = [sys.executable, "-m", "vcc_core", "app", "--port", str(port), "--address", "127.0.0.1"]
    started = time.monotonic()
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2):
                    break
            except OSError:
                time.sleep(0.1)
        page = browser.new_page()
        page.goto(url)
        page.wait_for_function(
            "document.querySelectorAll('[data-testid=\"stMetric\"]').length >= 4", timeout=300_000, polling=100
        )
        elapsed = time.monotonic() - started
        page.close()
        return elapsed
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keep", type=Path, help="folder for the caches and server logs (default: a temporary one)")
    args = parser.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="vcc-cold-"))
    folder.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        empty = seconds_to_dataset_page(browser, folder / "empty", folder / "empty.log")
        warm_env = {**os.environ, "VCC_CACHE_DIR": str(folder / "warmed")}
        started = time.monotonic()
        subprocess.run([sys.executable, "-m", "vcc_core", "warm-up"], env=warm_env, check=True)
        warm_up = time.monotonic() - started
        warmed = seconds_to_dataset_page(browser, folder / "warmed", folder / "warmed.log")
        browser.close()
    print(f"empty cache (dataset simulated on the spot): {empty:6.1f} s to the Dataset page")
    print(f"after warm-up ({warm_up:.1f} s, run by make install):  {warmed:6.1f} s to the Dataset page")


if __name__ == "__main__":
    main()
