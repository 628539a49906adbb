"""Cold vs warm: the dashboard's computations for a dataset with an empty cache, then again from the cache.

Each run is a fresh ``python -m vcc_core precompute`` process (as a restarted server would be), timed from
launch to exit, on a private, empty cache folder for the cold run and the same folder for the warm one.

    python bench/bench_cache.py                      # the default dataset (small preset), full dashboard plan
    python bench/bench_cache.py --data /path/vcc.h5ad --models mean_baseline,ridge --ceiling-seeds 1 --no-des-sweep
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def precompute(args: list[str], cache: Path) -> tuple[float, str]:
    env = {**os.environ, "VCC_CACHE_DIR": str(cache), "PYTHONPATH": str(ROOT)}
    start = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-m", "vcc_core", "precompute", *args], env=env, capture_output=True, text=True
    )
    seconds = time.perf_counter() - start
    if out.returncode:
        sys.exit(f"precompute failed:\n{out.stderr}")
    return seconds, out.stderr


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="small", help="preset name or .h5ad path (default: small)")
    parser.add_argument("--models", default=None, help="comma-separated models (default: the dashboard's defaults)")
    parser.add_argument("--ceiling-seeds", type=int, default=3)
    parser.add_argument("--no-des-sweep", action="store_true")
    parser.add_argument("--cache", type=Path, default=None, help="cache folder (default: a new temporary one)")
    parser.add_argument("--device", default=None, help="VCC_DEVICE for both runs (default: cuda if present)")
    opts = parser.parse_args()
    if opts.device:
        os.environ["VCC_DEVICE"] = opts.device
    args = ["--data", opts.data, "--ceiling-seeds", str(opts.ceiling_seeds)]
    args += ["--models", opts.models] if opts.models else []
    args += ["--no-des-sweep"] if opts.no_des_sweep else []
    cache = opts.cache or Path(tempfile.mkdtemp(prefix="vcc-bench-cache-"))
    if any(cache.iterdir()):
        sys.exit(f"{cache} is not empty: the cold run needs an empty cache folder")

    cold, log = precompute(args, cache)
    print(log.strip())
    warm, warm_log = precompute(args, cache)
    print(warm_log.strip())
    peak_gb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024**2
    work = [float(re.search(r"done in ([0-9.]+) s", text)[1]) for text in (log, warm_log)]
    print(f"\ndata {opts.data}: open + compute: cold {work[0]:.1f} s, warm {work[1]:.2f} s, {work[0] / work[1]:.0f}x")
    print(f"process launch to exit (imports included): cold {cold:.1f} s, warm {warm:.1f} s, {cold / warm:.1f}x")
    print(f"peak RSS of the largest run: {peak_gb:.2f} GB; cache folder {cache}")


if __name__ == "__main__":
    main()
